/**
 * The hat-edge server: one Hono app composed of sub-apps, nothing else. State is one SQLite file
 * and sha256-addressed artifacts under the data directory; long work runs as jobs (server/jobs);
 * agents, campaigns and deployments are server/fleet. docs/fleet.md describes the API.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { serve, type ServerType } from "@hono/node-server";
import { ArtifactStore, migrateArtifacts, SHA256 } from "./artifacts.js";
import { requireRole, type AgentLookup } from "./auth.js";
import type { ServerConfig, ServerContext } from "./context.js";
import { openDb, type Db } from "./db.js";
import { corpusRoots, datasetsApp, MAX_CORPUS_FILE_BYTES, migrateDatasets } from "./datasets.js";
import { Fleet, migrateFleet } from "./fleet/fleet.js";
import { ApiError, notFound, onApiError } from "./http.js";
import { jobsApp } from "./jobs/routes.js";
import { JobRunner, migrateJobs } from "./jobs/runner.js";
import { registerKinds } from "./jobs/kinds/index.js";
import { describe, openApiDocument } from "./openapi.js";
import { InputError } from "../runtime/errors.js";
import { LEASE_ASSUMED_GFLOPS } from "./fleet/work.js";
import { artifactHeaders, uiApp } from "./ui/routes.js";
import type { QueueBackend, QueueFactory } from "./queue/backend.js";

/** Longest body on the agents' routes (enrolment included, which needs no token). */
const AGENT_BODY_LIMIT = 1024 * 1024;

export class DataDirInUseError extends InputError {
  constructor(dir: string, pid: number) {
    super(`${dir} is in use by another hat server (pid ${pid}); stop it or choose another --data`);
    this.name = "DataDirInUseError";
  }
}

/**
 * One server per data directory: two would both resume the same jobs and kill each other's
 * children. DIR/server.lock holds the pid; a lock whose process is gone is taken over.
 */
function lockDataDir(dir: string): () => void {
  const file = join(dir, "server.lock");
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
      const pid = Number(readFileSync(file, "utf8"));
      let alive = false;
      try {
        alive = Number.isInteger(pid) && pid > 0 && pid !== process.pid && (process.kill(pid, 0), true);
      } catch {
        alive = false;
      }
      if (alive) throw new DataDirInUseError(dir, pid);
      rmSync(file, { force: true }); // stale: its server died
    }
  }
}

/**
 * A missing or empty state.db beside an artifacts/ directory that holds files is most likely a
 * lost or misplaced database (a wrong --data, a restore that forgot it): the server starts afresh,
 * but says so in one line instead of silently forgetting every job, dataset and agent.
 */
function warnFreshBesideArtifacts(dir: string, log: (s: string) => void): void {
  const file = join(dir, "state.db");
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    size = 0; // missing
  }
  if (size > 0) return;
  let stored = 0;
  try {
    stored = readdirSync(join(dir, "artifacts")).filter((d) => /^[0-9a-f]{2}$/.test(d)).length;
  } catch {
    return; // no artifacts/: a first start
  }
  if (stored > 0) {
    log(`warning: ${file} is ${existsSync(file) ? "empty" : "missing"} but ${join(dir, "artifacts")} holds artifacts: starting with a fresh database ` +
      `(the jobs, datasets, agents and deployments that made them are not known; restore state.db from a backup if this is not what you meant)`);
  }
}

export interface ServerOptions extends Partial<Omit<ServerConfig, "dataDir" | "adminTokenHash">> {
  dataDir: string;
  adminTokenHash: string;
  log?: (line: string) => void;
  /** Leave the jobs a previous process left running alone until `runner.start()` (listen binds first). */
  deferJobs?: boolean;
  /** The queue mode (server/queue/backend.ts QueueBackend.prepare): jobs' children run on `hat worker`s. */
  queue?: QueueFactory;
}

export interface HatServer {
  app: Hono;
  ctx: ServerContext;
  fleet: Fleet;
  runner: JobRunner;
  /** The queue mode's backend, when the server runs in it. */
  queue?: QueueBackend;
  /** Stop jobs' child processes (their jobs stay `running`: the next start resumes them) and close the database. */
  close(): Promise<void>;
}

export function createServer(o: ServerOptions): HatServer {
  const config: ServerConfig = {
    dataDir: o.dataDir, adminTokenHash: o.adminTokenHash,
    leaseSeconds: o.leaseSeconds ?? 60, leaseBatch: o.leaseBatch ?? 5, leaseAssumedGflops: o.leaseAssumedGflops ?? LEASE_ASSUMED_GFLOPS,
    bodyLimitBytes: o.bodyLimitBytes ?? 64 * 1024 * 1024, maxWaitSeconds: o.maxWaitSeconds ?? 30,
    version: o.version ?? "0.1.0",
    corpusRoots: corpusRoots(o.corpusRoots ?? []), maxCorpusFileBytes: o.maxCorpusFileBytes ?? MAX_CORPUS_FILE_BYTES,
  };
  const log = o.log ?? ((s: string) => process.stderr.write(`${new Date().toISOString()} ${s}\n`));
  mkdirSync(config.dataDir, { recursive: true });
  const unlock = lockDataDir(config.dataDir);
  let db: Db;
  try {
    warnFreshBesideArtifacts(config.dataDir, log);
    db = openDb(join(config.dataDir, "state.db"), [migrateArtifacts, migrateDatasets, migrateJobs, migrateFleet]);
  } catch (e) {
    unlock();
    throw e;
  }
  const artifacts = new ArtifactStore(join(config.dataDir, "artifacts"), db);

  // The fleet answers "which agent holds this token"; auth needs that before the fleet exists.
  let lookup: AgentLookup = () => undefined;
  const agents: AgentLookup = (h) => lookup(h);
  const ctx = {
    config, db, artifacts, log,
    admin: requireRole(config.adminTokenHash, agents, "admin"),
    agent: requireRole(config.adminTokenHash, agents, "agent"),
    anyone: requireRole(config.adminTokenHash, agents, "admin", "agent"),
  } as Omit<ServerContext, "jobs"> as ServerContext;
  const runner = new JobRunner(ctx, join(config.dataDir, "jobs"));
  ctx.jobs = runner;
  const queue = o.queue?.(ctx, runner);
  const fleet = new Fleet(ctx);
  lookup = (h) => fleet.agentByTokenHash(h);
  registerKinds(ctx);
  fleet.registerKinds();

  const app = new Hono();
  app.onError(onApiError(log));
  app.notFound((c) => c.json({ error: { code: "not_found", message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  const limit = (maxSize: number) => bodyLimit({
    maxSize,
    onError: () => { throw new ApiError(413, "body_too_large", `the body is over ${maxSize} bytes`); },
  });
  // agents' messages are small, and enrolment needs no token: 1 MiB there; datasets need the big one
  app.use("/v1/agent/*", limit(Math.min(config.bodyLimitBytes, AGENT_BODY_LIMIT)));
  // a worker's checkpoint and output uploads are streamed to disk with their own limit (server/queue/backend.ts)
  const bodies = limit(config.bodyLimitBytes);
  app.use("*", (c, next) => (queue && c.req.method === "PUT" && c.req.path.startsWith("/v1/queue/") ? next() : bodies(c, next)));

  describe({ method: "get", path: "/v1/health", summary: "liveness and version", auth: "none" });
  app.get("/v1/health", (c) => c.json({ ok: true, version: config.version }));
  describe({ method: "get", path: "/openapi.json", summary: "this API as an OpenAPI 3.1 document", auth: "none" });
  app.get("/openapi.json", (c) => c.json(openApiDocument(config.version) as object));

  describe({ method: "get", path: "/v1/artifacts/{sha256}", summary: "download an artifact (model, dataset, predictor, report) by its sha256 (a report is text/html, sandboxed); an agent only a model deployed to its class", auth: "admin or agent" });
  app.get("/v1/artifacts/:sha256", ctx.anyone, (c) => {
    const sha = c.req.param("sha256");
    if (!SHA256.test(sha) || !artifacts.has(sha)) throw notFound(`artifact ${sha}`);
    const caller = c.var.caller;
    if (caller.role === "agent") fleet.deployments.agentDownload(caller, sha); // only models deployed to its class
    const info = artifacts.info(sha)!;
    // streamed: a deployment's many concurrent downloads must not each hold the file in memory
    return new Response(Readable.toWeb(artifacts.stream(sha)) as ReadableStream, { headers: artifactHeaders(info) });
  });

  app.route("/", uiApp()); // GET /: the dashboard (no token in the page: it signs in with one)
  app.route("/v1/datasets", datasetsApp(ctx));
  app.route("/v1/jobs", jobsApp(ctx));
  app.route("/v1", fleet.app());
  if (queue) app.route("/v1", queue.app());

  if (!o.deferJobs) runner.start(); // resumes jobs a previous process left running
  return {
    app, ctx, fleet, runner, queue,
    async close() {
      fleet.close();
      await runner.stop();
      await queue?.close();
      db.close();
      unlock();
    },
  };
}

/** createServer, listening on host:port (port 0: any free port). */
export async function listen(o: ServerOptions & { host?: string; port?: number }): Promise<HatServer & { url: string; server: ServerType }> {
  // bind before any job resumes: a port in use must not start (and then kill) a previous run's jobs
  const s = createServer({ ...o, deferJobs: true });
  const host = o.host ?? "127.0.0.1", wanted = o.port ?? 8080;
  let bound: { server: ServerType; port: number };
  try {
    bound = await new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
      const server = serve({ fetch: s.app.fetch, hostname: host, port: wanted }, (info) => resolve({ server, port: info.port }));
      server.once("error", (e: NodeJS.ErrnoException) => reject(new Error(e.code === "EADDRINUSE"
        ? `port ${wanted} on ${host} is in use (--port 0 takes any free one)`
        : `cannot listen on ${host}:${wanted}: ${e.message}`)));
    });
  } catch (e) {
    await s.close();
    throw e;
  }
  if (!o.deferJobs) s.runner.start();
  const { server, port } = bound;
  return {
    ...s, server, url: `http://${host}:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await s.close();
    },
  };
}
