/**
 * `hat serve`: the search server (server/app.ts) on a data directory. One line on stdout says
 * where it listens (with --json, one object); the log goes to stderr. SIGINT/SIGTERM close it:
 * running jobs' children are killed and the jobs stay `running`, so the next start resumes them.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { listen } from "../server/app.js";
import { QueueBackend } from "../server/queue/backend.js";
import { hashToken, newToken } from "../server/auth.js";
import { intFlag, numFlag } from "./args.js";
import { UsageError, type Io } from "./io.js";

const HELP = `usage: hat serve --data DIR [--host 127.0.0.1] [--port 8080] [--admin-token TOKEN]
                 [--corpus-root DIR ...] [--lease-s 60] [--lease-batch 5] [--json]
                 [--queue redis://HOST:PORT [--queue-attempts 3] [--queue-backoff-s 10]]

The search server: datasets, training, latency campaigns on edge agents, predictors, searches
and deployments over HTTP (JSON). GET /openapi.json describes every route; docs/fleet.md walks
through them.
  --data DIR        everything the server keeps: state.db, artifacts/, jobs/ (created if missing)
  --port N          0: any free port (the line printed says which)
  --admin-token T   the admin token; else $HAT_ADMIN_TOKEN; else one generated on the first start
                    into DIR/admin-token (mode 600) and reused
  --corpus-root DIR a directory "files" datasets may be read from (repeatable; checked by real
                    path, links resolved; regular files only). Without one, datasets are uploads
                    or the built-in demo only
  --lease-s S       a profiling lease ends S seconds after its agent's last news (at least: a
                    lease is longer when its work is, server/fleet/work.ts)
  --lease-batch N   architectures per profiling lease
  --queue URL       the queue mode: jobs' work goes on BullMQ queues in this Redis for \`hat worker\`s
                    (docs/scaling.md); without it, jobs run here as children of the server
  --queue-attempts N   attempts of a job's work on the queue before it fails
  --queue-backoff-s S  the first retry waits S seconds, each next one twice as long
  --json            print {"url", "admin_token_file"} instead of the plain line
Stop it with Ctrl-C (SIGINT) or SIGTERM.`;

/** The admin token: the flag, the environment, or the data directory's file (made once, mode 600). */
function adminToken(dataDir: string, flag: string | undefined): { token: string; file: string | null } {
  if (flag !== undefined) {
    if (flag.trim().length < 8) throw new UsageError("--admin-token must be at least 8 characters");
    return { token: flag.trim(), file: null };
  }
  const env = process.env.HAT_ADMIN_TOKEN?.trim();
  if (env) return { token: env, file: null };
  const file = join(dataDir, "admin-token");
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (!token) throw new UsageError(`${file} is empty: delete it to have a new token generated`);
    return { token, file };
  }
  const token = newToken("admin");
  writeFileSync(file, token + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600); // the umask may have taken bits away, never added: this is belt and braces
  return { token, file };
}

export async function serveCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string" }, host: { type: "string" }, port: { type: "string" }, "admin-token": { type: "string" },
      "corpus-root": { type: "string", multiple: true },
      "lease-s": { type: "string" }, "lease-batch": { type: "string" },
      queue: { type: "string" }, "queue-attempts": { type: "string" }, "queue-backoff-s": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  if (!values.data) throw new UsageError("--data DIR is required (where the server keeps its state)");
  const dataDir = resolve(values.data); // absolute: jobs run the CLI in their own directories
  const port = intFlag(values, "port", 8080, 0);
  if (port > 65535) throw new UsageError(`--port must be <= 65535, got ${port}`);
  const leaseSeconds = intFlag(values, "lease-s", 60, 1), leaseBatch = intFlag(values, "lease-batch", 5, 1);
  const host = values.host ?? "127.0.0.1";

  mkdirSync(dataDir, { recursive: true });
  const { token, file } = adminToken(dataDir, values["admin-token"]);
  const log = (s: string) => io.err(`${new Date().toISOString()} ${s}`);
  if (values.queue === undefined && (values["queue-attempts"] !== undefined || values["queue-backoff-s"] !== undefined)) throw new UsageError("--queue-attempts and --queue-backoff-s need --queue");
  const queue = values.queue === undefined ? undefined : await QueueBackend.prepare({
    url: values.queue, attempts: intFlag(values, "queue-attempts", 3, 1), backoffSeconds: numFlag(values, "queue-backoff-s", 10, 0),
  });
  const server = await listen({ dataDir, adminTokenHash: hashToken(token), host, port, leaseSeconds, leaseBatch, log, corpusRoots: values["corpus-root"] ?? [], queue });
  if (server.queue) log(`queue mode: jobs' work goes on the BullMQ queues ${server.queue.shown} (hat:<kind>) for hat workers`);
  if (values.json) io.out(JSON.stringify({ url: server.url, admin_token_file: file }));
  else io.out(`hat serve: listening on ${server.url} (data ${dataDir}${file ? `, admin token in ${file}` : ""}; the dashboard: ${server.url}/)`);

  const signal = await new Promise<NodeJS.Signals>((done) => {
    const on = (s: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      done(s);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
  log(`${signal}: closing (running jobs resume on the next start)`);
  await server.close();
  log("closed");
}
