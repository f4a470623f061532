/**
 * `hat serve --queue redis://HOST:PORT`: the server's side of the queue mode (./protocol.ts has the
 * contract, docs/scaling.md the guarantees). The server still runs every job's kind; the job child
 * a kind asks for (JobControl.child) becomes a *run*: a row of `queue_runs` in the server's SQLite
 * (the truth: spec, attempts, failures, result) and a BullMQ job on the queue `hat:<kind>` that a
 * `hat worker` takes. The worker reports to the routes here, which feed the run's lines and
 * progress into the job's events exactly as a local child's are (server/jobs/runner.ts
 * childOptions), so SSE and the dashboard do not know where a job runs.
 *
 * What the server adds to BullMQ's at-least-once delivery:
 *   - fencing: each start takes the next attempt number; only the newest attempt's events and
 *     checkpoints are taken (an older one, whose lock expired, gets 409 and stops);
 *   - idempotent results: outputs are staged per attempt and committed with the first result;
 *     a later result of the same run (a retried upload, a second attempt) is a no-op `duplicate`;
 *   - checkpoints kept in the job's directory on the server: the next attempt resumes from them;
 *   - each attempt's failure reason (a stalled attempt's too) kept, and listed when the run fails;
 *   - a poll of each waiting run's BullMQ state: a run Redis lost (restarted without its data) is
 *     put back on the queue from the row, one that BullMQ failed for good fails the job.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, isAbsolute, join, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Queue } from "bullmq";
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { SHA256 } from "../artifacts.js";
import { hashToken, newToken } from "../auth.js";
import type { ServerContext } from "../context.js";
import { now } from "../db.js";
import { ApiError, badRequest, jsonBody, notFound } from "../http.js";
import { describe } from "../openapi.js";
import type { ChildOptions, SpecRun } from "../jobs/child.js";
import type { JobRunner, RemoteChild } from "../jobs/runner.js";
import type { JobSpec } from "../jobs/spec.js";
import {
  ARTIFACT_REF, checkpointName, JOB_REF, QUEUE_KINDS, QUEUE_PREFIX, RUN_CANCELLED, RUN_DONE, RUN_FILE, RUN_NOT_READY, RUN_SUPERSEDED,
  type QueueJobData, type QueueKind, type RunEvent, type RunStart,
} from "./protocol.js";
import { parseRedisUrl, redisClient, type RedisClient } from "./redis.js";

export interface QueueOptions {
  /** redis://HOST:PORT[/DB] */
  url: string;
  /** BullMQ attempts of a run (default 3). */
  attempts?: number;
  /** The first retry's delay; each next one doubles it (default 10 s). */
  backoffSeconds?: number;
  /** How often a waiting run's BullMQ state is looked at (default 1000 ms). */
  pollMs?: number;
}

/** The longest upload (a checkpoint or an output) a worker may send: streamed to disk, never held. */
export const MAX_RUN_FILE_BYTES = 16 * 1024 ** 3;
/** A call to Redis the server makes gives up after this (the poll tries again). */
const REDIS_TIMEOUT_MS = 5000;
/** Lines of an attempt's stderr tail kept as its failure reason. */
const REASON_LINES = 6;

type RunState = "queued" | "running" | "done" | "failed" | "cancelled";
interface Failure { attempt: number; worker: string; reason: string }
interface RunRow {
  id: string; job_id: string; kind: QueueKind; state: RunState; spec: string; inputs: string; outputs: string;
  attempt: number; attempt_open: number; worker: string | null; failures: string; checkpoints: string;
  result: string | null; code: number | null; created_at: number; finished_at: number | null;
}
interface Pending { options: ChildOptions; dir: string; settle(r: SpecRun): void }
export interface WorkerRecord { id: string; name: string; created_at: number; revoked_at: number | null; last_seen_at: number | null }

declare module "hono" {
  interface ContextVariableMap {
    queueWorker: { id: string; name: string };
  }
}

export function migrateQueue(db: ServerContext["db"]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS queue_runs (
    id TEXT PRIMARY KEY, job_id TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, spec TEXT NOT NULL, inputs TEXT NOT NULL,
    outputs TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, attempt_open INTEGER NOT NULL DEFAULT 0, worker TEXT,
    failures TEXT NOT NULL DEFAULT '[]', checkpoints TEXT NOT NULL DEFAULT '{}', result TEXT, code INTEGER,
    created_at INTEGER NOT NULL, finished_at INTEGER);
  CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER, last_seen_at INTEGER);`);
}

/**
 * A spec as it goes on the queue: the server's paths as placeholders (./protocol.ts). An absolute
 * path that is neither an artifact nor in the job's directory cannot be fetched by a worker: an Error.
 */
export function queueSpec(spec: JobSpec, dir: string, artifactsDir: string): { spec: unknown; inputs: string[]; outputs: string[] } {
  const inputs = new Set<string>(), outputs = new Set<string>();
  const art = resolve(artifactsDir) + sep, job = resolve(dir);
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") {
      if (!isAbsolute(v)) return v;
      const p = resolve(v);
      if (p === job) return `${JOB_REF}.`;
      if (p.startsWith(job + sep)) {
        const name = p.slice(job.length + 1);
        if (!RUN_FILE.test(name)) throw new Error(`the ${spec.kind} spec names ${p} in the job's directory, not a plain file name: it cannot run on a worker`);
        outputs.add(name);
        return JOB_REF + name;
      }
      if (p.startsWith(art) && SHA256.test(basename(p))) {
        inputs.add(basename(p));
        return ARTIFACT_REF + basename(p);
      }
      if (existsSync(p)) throw new Error(`the ${spec.kind} spec names the server's file ${p}, which is not an artifact: it cannot run on a worker`);
      return v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { spec: walk(spec), inputs: [...inputs], outputs: [...outputs] };
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer from Redis within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
};

const RunFileQuery = z.object({ attempt: z.coerce.number().int().min(1), role: z.enum(["checkpoint", "output"]) });
const AttemptBody = z.object({ attempt: z.number().int().min(1) });
const EventsBody = AttemptBody.extend({
  events: z.array(z.union([
    z.object({ type: z.literal("line"), stream: z.enum(["stdout", "stderr", "log"]), line: z.string().max(8000), progress: z.boolean().optional() }),
    z.object({ type: z.literal("progress"), fraction: z.number().min(0).max(1).optional(), message: z.string().max(8000).optional(), data: z.record(z.string(), z.number().nullable()).optional() }),
  ])).max(5000),
});
const ResultBody = AttemptBody.extend({ code: z.number().int(), result: z.record(z.string(), z.unknown()).nullable(), stderr_tail: z.string().max(64_000) });
const MeasureBody = AttemptBody.extend({ archs: z.array(z.unknown()).min(1).max(1000), round: z.number().int().min(0) });
const WorkerBody = z.object({ name: z.string().min(1).max(100).regex(/^[\w.@-]+$/, "letters, digits and . _ - @") });

export type QueueFactory = (ctx: ServerContext, runner: JobRunner) => QueueBackend;

export class QueueBackend {
  private readonly queues = new Map<QueueKind, Queue>();
  private readonly pending = new Map<string, Pending>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly said = new Set<string>();
  private closed = false;

  private constructor(readonly ctx: ServerContext, readonly runner: JobRunner, private readonly client: RedisClient, readonly shown: string,
    private readonly o: Required<Omit<QueueOptions, "url">>) {
    migrateQueue(ctx.db);
    for (const kind of QUEUE_KINDS) this.queues.set(kind, new Queue(kind, { connection: client as never, prefix: QUEUE_PREFIX }));
    client.on("error", (e) => this.sayOnce("redis", `queue: Redis at ${shown}: ${(e as Error).message} (runs wait; the server's state is in SQLite)`));
    client.on("ready", () => this.said.delete("redis"));
  }

  /**
   * Connects to Redis (a bad URL: an InputError naming --queue); the factory the server calls
   * (server/app.ts ServerOptions.queue) with its context and runner, whose children it takes over.
   */
  static async prepare(o: QueueOptions): Promise<QueueFactory> {
    const t = parseRedisUrl(o.url);
    const client = await redisClient(t, { name: "hat-serve" });
    return (ctx, runner) => {
      const b = new QueueBackend(ctx, runner, client, t.shown, { attempts: o.attempts ?? 3, backoffSeconds: o.backoffSeconds ?? 10, pollMs: o.pollMs ?? 1000 });
      runner.useRemote(b.remote);
      return b;
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    try {
      await within(this.client.quit(), 2000, "quit");
    } catch {
      this.client.disconnect();
    }
  }

  private sayOnce(key: string, line: string): void {
    if (this.said.has(key)) return;
    this.said.add(key);
    this.ctx.log(line);
  }

  private row(id: string): RunRow | undefined {
    return this.ctx.db.prepare(`SELECT * FROM queue_runs WHERE id = ?`).get(id) as RunRow | undefined;
  }

  private workerName(id: string | null): string {
    if (!id) return "?";
    if (id === "admin") return "admin";
    return (this.ctx.db.prepare(`SELECT name FROM workers WHERE id = ?`).get(id) as { name: string } | undefined)?.name ?? id;
  }

  /** The failure reasons of every attempt, one line each: a failed run's stderr tail. */
  private failureText(r: RunRow): string {
    const fs = JSON.parse(r.failures) as Failure[];
    return [`run ${r.id} failed after ${fs.length} attempt(s) on the queue:`, ...fs.map((f) => `attempt ${f.attempt} (worker ${f.worker}): ${f.reason}`)].join("\n");
  }

  private answer(r: RunRow): SpecRun {
    if (r.state === "done") return { code: 0, result: JSON.parse(r.result ?? "null") as Record<string, unknown>, stderrTail: "" };
    if (r.state === "failed") return { code: r.code ?? 1, result: null, stderrTail: this.failureText(r) };
    return { code: 130, result: null, stderrTail: `run ${r.id} was cancelled` };
  }

  private addToQueue(r: RunRow): Promise<unknown> {
    const data: QueueJobData = { run: r.id, job: r.job_id, kind: r.kind };
    return within(this.queues.get(r.kind)!.add(r.kind, data, {
      jobId: r.id, attempts: this.o.attempts, backoff: { type: "exponential", delay: this.o.backoffSeconds * 1000 },
      removeOnComplete: true, removeOnFail: { age: 7 * 86_400 },
    }), REDIS_TIMEOUT_MS, `queue run ${r.id}`);
  }

  /** The runner's children (server/jobs/runner.ts RemoteChild): a run on the queue of the spec's kind. */
  readonly remote: RemoteChild = (run, spec) => {
    const id = `${run.job.id}-c${run.call}`;
    const o = run.options;
    const kind = spec.kind as QueueKind;
    if (!QUEUE_KINDS.includes(kind)) return Promise.reject(new Error(`a ${spec.kind} spec cannot run on the queue`));
    let q: ReturnType<typeof queueSpec>;
    try {
      q = queueSpec(spec, run.dir, this.ctx.artifacts.dir);
    } catch (e) {
      return Promise.reject(e);
    }
    let r = this.row(id);
    if (!r) {
      this.ctx.db.prepare(`INSERT INTO queue_runs (id, job_id, kind, state, spec, inputs, outputs, created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)`)
        .run(id, run.job.id, kind, JSON.stringify(q.spec), JSON.stringify(q.inputs), JSON.stringify(q.outputs), now());
      r = this.row(id)!;
    } else if (r.state === "done" || r.state === "failed" || r.state === "cancelled") {
      o.onLine("log", `run ${id} had ended on the queue (${r.state}) while the server was away`, false);
      return Promise.resolve(this.answer(r));
    } else {
      o.onLine("log", `re-attached to run ${id} on the queue ${QUEUE_PREFIX}:${kind} (it ${r.state === "running" ? `runs on worker ${this.workerName(r.worker)}` : "waits for a worker"})`, false);
    }
    return new Promise<SpecRun>((resolveRun) => {
      let settled = false, timer: NodeJS.Timeout | undefined;
      const settle = (a: SpecRun) => {
        if (settled) return;
        settled = true;
        if (timer) { clearTimeout(timer); this.timers.delete(timer); }
        o.signal.removeEventListener("abort", onAbort);
        if (this.pending.get(id)?.settle === settle) this.pending.delete(id);
        resolveRun(a);
      };
      const onAbort = () => {
        if (!this.runner.isStopped) { // cancelled: the worker learns it from its next call (409), a waiting run leaves the queue
          this.ctx.db.prepare(`UPDATE queue_runs SET state = 'cancelled', attempt_open = 0, finished_at = ? WHERE id = ? AND state IN ('queued', 'running')`).run(now(), id);
          within(this.queues.get(kind)!.remove(id), REDIS_TIMEOUT_MS, "remove").catch(() => { /* locked by a worker, or Redis away: the 409 stops it */ });
        } // else the server stops: the run goes on on its worker, the next start re-attaches
        settle({ code: 130, result: null, stderrTail: "" });
      };
      o.signal.addEventListener("abort", onAbort, { once: true });
      if (o.signal.aborted) return onAbort();
      this.pending.set(id, { options: o, dir: run.dir, settle });
      const poll = async () => {
        timer = undefined;
        if (settled || this.closed) return;
        const row = this.row(id);
        if (!row) return settle({ code: 1, result: null, stderrTail: `run ${id} vanished from the server's database` });
        if (row.state === "done" || row.state === "failed" || row.state === "cancelled") return settle(this.answer(row));
        try {
          const state = await within(this.queues.get(kind)!.getJobState(id), REDIS_TIMEOUT_MS, "state");
          this.said.delete(`poll ${id}`);
          if (state === "unknown") { // never added, or lost by Redis: the row is the truth, put it (back) on the queue
            const fresh = this.row(id);
            if (fresh && (fresh.state === "queued" || fresh.state === "running")) {
              if (fresh.attempt > 0 || this.said.has(`added ${id}`)) o.onLine("log", `the queue had lost run ${id} (Redis restarted without its data?): put back on ${QUEUE_PREFIX}:${kind}`, false);
              await this.addToQueue(fresh);
              if (!this.said.has(`added ${id}`)) o.onProgress?.(undefined, `queued on ${QUEUE_PREFIX}:${kind} for a worker (run ${id})`);
              this.said.add(`added ${id}`);
            }
          } else if (state === "failed") {
            const job = await within(this.queues.get(kind)!.getJob(id), REDIS_TIMEOUT_MS, "job");
            this.failRun(id, job?.failedReason || "BullMQ failed the run");
          }
        } catch (e) {
          this.sayOnce(`poll ${id}`, `queue: run ${id}: ${(e as Error).message} (trying again)`);
        }
        if (!settled && !this.closed) {
          timer = setTimeout(() => void poll(), this.o.pollMs);
          this.timers.add(timer);
        }
      };
      void poll();
    });
  };

  /** BullMQ gave up on the run: its job fails with every attempt's reason (an attempt left open stalled: BullMQ's reason is its). */
  private failRun(id: string, bullReason: string): void {
    const r = this.row(id);
    if (!r || (r.state !== "queued" && r.state !== "running")) return;
    const fs = JSON.parse(r.failures) as Failure[];
    if (r.attempt_open || fs.length === 0) fs.push({ attempt: r.attempt, worker: this.workerName(r.worker), reason: bullReason });
    this.ctx.db.prepare(`UPDATE queue_runs SET state = 'failed', attempt_open = 0, failures = ?, code = 1, finished_at = ? WHERE id = ?`).run(JSON.stringify(fs), now(), id);
    const row = this.row(id)!;
    this.pending.get(id)?.settle(this.answer(row));
  }

  // ---- the routes

  /** The worker token or the admin token; a revoked or unknown one: 401. */
  private readonly workerAuth: MiddlewareHandler = async (c, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
    if (!m) throw new ApiError(401, "unauthorized", "send Authorization: Bearer <worker token> (POST /v1/workers makes one)");
    const h = hashToken(m[1]);
    if (h === this.ctx.config.adminTokenHash) c.set("queueWorker", { id: "admin", name: "admin" });
    else {
      const w = this.ctx.db.prepare(`SELECT id, name FROM workers WHERE token_hash = ? AND revoked_at IS NULL`).get(h) as { id: string; name: string } | undefined;
      if (!w) throw new ApiError(401, "unauthorized", "the worker token is not valid (unknown or revoked)");
      this.ctx.db.prepare(`UPDATE workers SET last_seen_at = ? WHERE id = ?`).run(now(), w.id);
      c.set("queueWorker", w);
    }
    await next();
  };

  /** The run `id`, and its pending child (503 while the server has not re-attached to it yet). */
  private live(id: string, attempt: number | undefined): { r: RunRow; p: Pending } {
    const r = this.row(id);
    if (!r) throw notFound(`run ${id}`);
    if (r.state === "done") throw new ApiError(409, RUN_DONE, `run ${id} is done`);
    if (r.state === "failed" || r.state === "cancelled") throw new ApiError(409, RUN_CANCELLED, `run ${id} is ${r.state}`);
    if (attempt !== undefined && (attempt !== r.attempt || !r.attempt_open)) throw new ApiError(409, RUN_SUPERSEDED, `attempt ${attempt} of run ${id} is not its current one (${r.attempt}): another worker has it`);
    const p = this.pending.get(id);
    if (!p) throw new ApiError(503, RUN_NOT_READY, `the server has not re-attached to run ${id} yet: try again`);
    return { r, p };
  }

  private checkpoints(r: RunRow, dir: string): RunStart["checkpoints"] {
    const known = JSON.parse(r.checkpoints) as Record<string, { attempt: number }>;
    return (JSON.parse(r.outputs) as string[]).map(checkpointName).filter((n) => existsSync(join(dir, n)))
      .map((name) => ({ name, size: statSync(join(dir, name)).size, attempt: known[name]?.attempt ?? 0 }));
  }

  /** A worker's upload streamed to a file beside `dest`, its sha256 checked, then renamed over it. */
  private async receive(body: ReadableStream<Uint8Array> | null, sha: string, dest: string): Promise<number> {
    if (!body) throw badRequest("send the file as the body");
    const tmp = `${dest}.${randomBytes(4).toString("hex")}.part`;
    const hash = createHash("sha256");
    let size = 0;
    try {
      await pipeline(Readable.fromWeb(body as never), async function* (src: AsyncIterable<Buffer>) {
        for await (const b of src) {
          size += b.length;
          if (size > MAX_RUN_FILE_BYTES) throw new ApiError(413, "body_too_large", `the file is over ${MAX_RUN_FILE_BYTES} bytes`);
          hash.update(b);
          yield b;
        }
      }, createWriteStream(tmp, { flags: "wx" }));
      const got = hash.digest("hex");
      if (got !== sha) throw badRequest(`the file's sha256 is ${got}, not ${sha} (x-sha256): damaged on the way, send it again`, "sha256_mismatch");
      renameSync(tmp, dest);
      return size;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  app(): Hono {
    const app = new Hono();
    const admin = this.ctx.admin;

    describe({ method: "post", path: "/v1/workers", auth: "admin", body: WorkerBody, summary: "a worker token for `hat worker --token` (queue mode; shown once)", ok: { status: 201, description: "{ id, name, token }" } });
    app.post("/workers", admin, async (c) => {
      const { name } = await jsonBody(c, WorkerBody);
      const id = `wrk_${randomBytes(6).toString("hex")}`, token = newToken("worker");
      this.ctx.db.prepare(`INSERT INTO workers (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)`).run(id, name, hashToken(token), now());
      return c.json({ id, name, token }, 201);
    });
    describe({ method: "get", path: "/v1/workers", auth: "admin", summary: "the worker tokens: name, last seen, revoked", ok: { status: 200, description: "{ workers: [...] }" } });
    app.get("/workers", admin, (c) => c.json({ workers: this.ctx.db.prepare(`SELECT id, name, created_at, revoked_at, last_seen_at FROM workers ORDER BY created_at`).all() as WorkerRecord[] }));
    describe({ method: "delete", path: "/v1/workers/{id}", auth: "admin", summary: "revoke a worker token: its worker's next call gets 401 and it stops", ok: { status: 200, description: "the worker" } });
    app.delete("/workers/:id", admin, (c) => {
      const id = c.req.param("id");
      const n = this.ctx.db.prepare(`UPDATE workers SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`).run(now(), id).changes;
      if (!n) throw notFound(`worker ${id}`);
      return c.json(this.ctx.db.prepare(`SELECT id, name, created_at, revoked_at, last_seen_at FROM workers WHERE id = ?`).get(id) as WorkerRecord);
    });

    const w = new Hono();
    w.use("*", this.workerAuth);
    describe({ method: "get", path: "/v1/queue/hello", auth: "worker", summary: "who this worker token is (a worker checks it on start and every few seconds)", ok: { status: 200, description: "{ worker, version }" } });
    w.get("/hello", (c) => c.json({ worker: c.var.queueWorker, version: this.ctx.config.version, queue: { prefix: QUEUE_PREFIX, kinds: QUEUE_KINDS } }));

    describe({ method: "post", path: "/v1/queue/runs/{run}/start", auth: "worker", summary: "start the next attempt of a run: its spec, inputs, outputs and the checkpoints to resume from", ok: { status: 200, description: "RunStart (server/queue/protocol.ts)" } });
    w.post("/runs/:run/start", (c) => {
      const id = c.req.param("run"), who = c.var.queueWorker;
      const { r, p } = this.live(id, undefined);
      const fs = JSON.parse(r.failures) as Failure[];
      let note = "";
      if (r.attempt_open) { // the last attempt never ended: its worker died or lost its lock, and BullMQ handed the run on
        const prev = this.workerName(r.worker);
        fs.push({ attempt: r.attempt, worker: prev, reason: "its worker stopped answering: the job's lock expired and BullMQ's stalled check handed the run on" });
        note = ` (attempt ${r.attempt} on worker ${prev} stalled)`;
      }
      const attempt = r.attempt + 1;
      this.ctx.db.prepare(`UPDATE queue_runs SET state = 'running', attempt = ?, attempt_open = 1, worker = ?, failures = ? WHERE id = ?`).run(attempt, who.id, JSON.stringify(fs), id);
      const checkpoints = this.checkpoints(r, p.dir);
      p.options.onLine("log", `run ${id}: attempt ${attempt} on worker ${who.name}${note}${checkpoints.length ? `, resuming from ${checkpoints.map((k) => k.name).join(", ")}` : ""}`, false);
      p.options.onProgress?.(undefined, `running on worker ${who.name} (attempt ${attempt})`);
      const start: RunStart = { attempt, spec: JSON.parse(r.spec), inputs: JSON.parse(r.inputs), outputs: JSON.parse(r.outputs), checkpoints };
      return c.json(start);
    });

    describe({ method: "get", path: "/v1/queue/runs/{run}/inputs/{sha256}", auth: "worker", summary: "an input artifact of a run", ok: { status: 200, description: "the bytes" } });
    w.get("/runs/:run/inputs/:sha", (c) => {
      const r = this.row(c.req.param("run")), sha = c.req.param("sha");
      if (!r || !(JSON.parse(r.inputs) as string[]).includes(sha) || !this.ctx.artifacts.has(sha)) throw notFound(`input ${sha} of run ${c.req.param("run")}`);
      return new Response(Readable.toWeb(this.ctx.artifacts.stream(sha)) as ReadableStream, { headers: { "content-type": "application/octet-stream", "content-length": String(this.ctx.artifacts.info(sha)!.size) } });
    });

    describe({ method: "get", path: "/v1/queue/runs/{run}/files/{name}", auth: "worker", summary: "a checkpoint an earlier attempt of the run uploaded", ok: { status: 200, description: "the bytes" } });
    w.get("/runs/:run/files/:name", (c) => {
      const id = c.req.param("run"), name = c.req.param("name");
      const r = this.row(id), p = this.pending.get(id);
      if (!r || !p || !(JSON.parse(r.outputs) as string[]).map(checkpointName).includes(name) || !existsSync(join(p.dir, name))) throw notFound(`checkpoint ${name} of run ${id}`);
      return new Response(Readable.toWeb(createReadStream(join(p.dir, name))) as ReadableStream, { headers: { "content-type": "application/octet-stream", "content-length": String(statSync(join(p.dir, name)).size) } });
    });

    describe({ method: "put", path: "/v1/queue/runs/{run}/files/{name}", auth: "worker", summary: "upload a checkpoint (the current attempt's) or an output (staged until the result); header x-sha256", ok: { status: 200, description: "{ name, size }" } });
    w.put("/runs/:run/files/:name", async (c) => {
      const id = c.req.param("run"), name = c.req.param("name");
      const qy = RunFileQuery.safeParse(c.req.query());
      if (!qy.success) throw badRequest("attempt: the attempt number, role: checkpoint or output", "invalid_query");
      const sha = c.req.header("x-sha256") ?? "";
      if (!SHA256.test(sha)) throw badRequest("x-sha256: the file's sha256 (64 lowercase hex digits)", "invalid_header");
      const { r, p } = this.live(id, qy.data.role === "checkpoint" ? qy.data.attempt : undefined);
      const outputs = JSON.parse(r.outputs) as string[];
      if (qy.data.role === "checkpoint") {
        if (!outputs.map(checkpointName).includes(name)) throw badRequest(`${name} is not a checkpoint of run ${id}`, "unknown_file");
        const size = await this.receive(c.req.raw.body, sha, join(p.dir, name));
        const known = { ...JSON.parse(r.checkpoints), [name]: { attempt: qy.data.attempt, size, at: now() } };
        this.ctx.db.prepare(`UPDATE queue_runs SET checkpoints = ? WHERE id = ?`).run(JSON.stringify(known), id);
        return c.json({ name, size });
      }
      if (!outputs.includes(name)) throw badRequest(`${name} is not an output of run ${id}`, "unknown_file");
      const stage = join(p.dir, `.queue-${id}-a${qy.data.attempt}`);
      mkdirSync(stage, { recursive: true });
      return c.json({ name, size: await this.receive(c.req.raw.body, sha, join(stage, name)) });
    });

    describe({ method: "post", path: "/v1/queue/runs/{run}/events", auth: "worker", summary: "the run's lines and progress: the job's events (only the current attempt's)", ok: { status: 200, description: "{ ok }" } });
    w.post("/runs/:run/events", async (c) => {
      const body = await jsonBody(c, EventsBody);
      const { p } = this.live(c.req.param("run"), body.attempt);
      for (const e of body.events as RunEvent[]) {
        if (e.type === "line") p.options.onLine(e.stream, e.line, e.progress === true);
        else p.options.onProgress?.(e.fraction, e.message, e.data);
      }
      return c.json({ ok: true });
    });

    describe({ method: "post", path: "/v1/queue/runs/{run}/measure", auth: "worker", summary: "the search's closed loop: measure architectures on the fleet (a campaign on the server); the latency dataset as CSV", ok: { status: 200, description: "{ dataset_csv } or { error }" } });
    w.post("/runs/:run/measure", async (c) => {
      const body = await jsonBody(c, MeasureBody);
      const { p } = this.live(c.req.param("run"), body.attempt);
      if (!p.options.onMeasure) return c.json({ error: "this job cannot measure on the fleet" });
      const a = await p.options.onMeasure({ type: "measure", id: 0, archs: body.archs as never, round: body.round });
      if (typeof a.dataset === "string") return c.json({ dataset_csv: readFileSync(a.dataset, "utf8") });
      return c.json({ error: a.error ?? "the fleet measured nothing" });
    });

    describe({ method: "post", path: "/v1/queue/runs/{run}/result", auth: "worker", summary: "an attempt's end: code 0 commits its staged outputs and the result (once: a repeat is a duplicate); else its failure reason", ok: { status: 200, description: "{ recorded } or { duplicate: true }" } });
    w.post("/runs/:run/result", async (c) => {
      const id = c.req.param("run"), who = c.var.queueWorker;
      const body = await jsonBody(c, ResultBody);
      const r0 = this.row(id);
      if (r0?.state === "done") return c.json({ duplicate: true });
      if (body.code === 0) {
        const { r, p } = this.live(id, undefined); // any attempt's result is the run's, the first one only
        const stage = join(p.dir, `.queue-${id}-a${body.attempt}`);
        for (const name of existsSync(stage) ? readdirSync(stage) : []) if ((JSON.parse(r.outputs) as string[]).includes(name)) renameSync(join(stage, name), join(p.dir, name));
        rmSync(stage, { recursive: true, force: true });
        this.ctx.db.prepare(`UPDATE queue_runs SET state = 'done', attempt_open = 0, result = ?, code = 0, finished_at = ? WHERE id = ?`).run(JSON.stringify(body.result), now(), id);
        p.options.onLine("log", `run ${id} done on worker ${who.name} (attempt ${body.attempt})`, false);
        p.settle(this.answer(this.row(id)!));
        return c.json({ recorded: true });
      }
      const { r, p } = this.live(id, body.attempt);
      const reason = body.stderr_tail.split("\n").filter((l) => l.trim()).slice(-REASON_LINES).join(" | ") || `exit code ${body.code}`;
      const fs = [...JSON.parse(r.failures) as Failure[], { attempt: body.attempt, worker: who.name, reason }];
      this.ctx.db.prepare(`UPDATE queue_runs SET attempt_open = 0, failures = ? WHERE id = ?`).run(JSON.stringify(fs), id);
      p.options.onLine("log", `run ${id}: attempt ${body.attempt} on worker ${who.name} failed: ${reason}`, false);
      return c.json({ recorded: true });
    });

    app.route("/queue", w);
    return app;
  }
}
