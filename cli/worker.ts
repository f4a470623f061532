/**
 * `hat worker`: runs the server's queued jobs on this machine (server/queue/worker.ts; the queue
 * mode is docs/scaling.md). One line on stdout when it is ready; its log goes to stderr.
 * SIGINT/SIGTERM hand its runs back to the queue and end it; a revoked token ends it (exit 2).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { QUEUE_KINDS, type QueueKind } from "../server/queue/protocol.js";
import { parseRedisUrl } from "../server/queue/redis.js";
import { runWorker } from "../server/queue/worker.js";
import { intFlag, numFlag, requireFlag } from "./args.js";
import { UsageError, type Io } from "./io.js";

const HELP = `usage: hat worker --server URL --token T --queue redis://HOST:PORT
                  [--kinds ${QUEUE_KINDS.join(",")}] [--concurrency 1] [--dir DIR] [--name NAME]
                  [--lock-s 30] [--stalled-s 30] [--max-stalled 2] [--checkpoint-upload-s 5]

Takes the jobs of its kinds that \`hat serve --queue\` put on the queue, runs them here (the same
pipeline as the server's own runner), and reports to the server over HTTP: inputs fetched from it,
log lines and progress sent to the job's events, checkpoints and results uploaded.
  --server URL      the hat server (its jobs, events and artifacts stay there)
  --token T         a worker token (POST /v1/workers, revocable) or the admin token; else $HAT_WORKER_TOKEN
  --queue URL       the Redis the server's --queue names (as this machine reaches it)
  --kinds K,...     the job kinds this machine runs (default all: ${QUEUE_KINDS.join(",")})
  --concurrency N   runs at once, all kinds together
  --dir DIR         where runs work and inputs are cached (default: a folder in the temp dir)
  --lock-s S        BullMQ's lock: a dead worker's run goes to another after about S seconds
  --stalled-s S     how often this worker looks for runs whose worker died
  --max-stalled N   how often one run may stall before BullMQ fails it
  --checkpoint-upload-s S  how often a run's new checkpoint is uploaded to the server
Stop it with Ctrl-C (SIGINT) or SIGTERM: its runs go back to the queue at once.`;

export async function workerCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: "string" }, token: { type: "string" }, queue: { type: "string" }, kinds: { type: "string" },
      concurrency: { type: "string" }, dir: { type: "string" }, name: { type: "string" },
      "lock-s": { type: "string" }, "stalled-s": { type: "string" }, "max-stalled": { type: "string" }, "checkpoint-upload-s": { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const server = requireFlag(values, "server");
  if (!/^https?:\/\/[^/]+/.test(server)) throw new UsageError(`--server must be an http(s):// URL, got '${server}'`);
  const token = values.token ?? process.env.HAT_WORKER_TOKEN;
  if (!token) throw new UsageError("--token is required (a worker token from POST /v1/workers, or $HAT_WORKER_TOKEN)");
  const queue = requireFlag(values, "queue");
  parseRedisUrl(queue);
  const kinds = (values.kinds ?? QUEUE_KINDS.join(",")).split(",").map((k) => k.trim()).filter(Boolean);
  for (const k of kinds) if (!(QUEUE_KINDS as readonly string[]).includes(k)) throw new UsageError(`--kinds: '${k}' is not a kind a worker runs (${QUEUE_KINDS.join(", ")}; campaigns run on the server)`);
  if (kinds.length === 0) throw new UsageError("--kinds names no kind");
  const name = values.name ?? undefined;
  if (name !== undefined && !/^[\w.@-]{1,100}$/.test(name)) throw new UsageError("--name: letters, digits and . _ - @ (at most 100)");
  const stop = new AbortController();
  const on = () => stop.abort();
  process.once("SIGINT", on);
  process.once("SIGTERM", on);
  const log = (s: string) => io.err(`${new Date().toISOString()} ${s}`);
  let first = true;
  try {
    await runWorker({
      server, token, queue, kinds: kinds as QueueKind[], name,
      concurrency: intFlag(values, "concurrency", 1, 1), dir: values.dir ?? join(tmpdir(), `hat-worker-${process.pid}`),
      lockSeconds: numFlag(values, "lock-s", 30, 1), stalledSeconds: numFlag(values, "stalled-s", 30, 1),
      maxStalled: intFlag(values, "max-stalled", 2, 1), checkpointSeconds: numFlag(values, "checkpoint-upload-s", 5, 0.2),
      signal: stop.signal,
      log: (s) => {
        log(s);
        if (first && s.startsWith("hat worker ")) { // the first line: ready
          first = false;
          io.out(values.json ? JSON.stringify({ ready: true, pid: process.pid, kinds }) : `hat worker: taking ${kinds.join(",")} jobs from ${server}`);
        }
      },
    });
  } finally {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  }
  log("stopped");
}
