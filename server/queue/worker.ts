/**
 * `hat worker`: takes runs of its kinds from the BullMQ queues `hat:<kind>` (./protocol.ts) and
 * runs each as the embedded runner does — the job child (server/jobs/child-main.ts through
 * server/jobs/child.ts runSpec) on the same JobSpec — with its inputs fetched from the server
 * (sha256-checked, cached by hash), its lines and progress sent to the server's job events, its
 * checkpoints uploaded as they are written, and its outputs and result uploaded at the end.
 *
 * The work is a child process: this process's event loop only moves bytes, so BullMQ's lock
 * renewal (every lockDuration/2) never waits behind training. A worker that dies stops renewing:
 * after lockDuration another worker's stalled check puts the run back, and its next attempt
 * resumes from the last uploaded checkpoint. A stopped worker (SIGTERM) or one whose token was
 * revoked (401/403 from the server) hands its runs back to the queue at once and exits.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import { InputError } from "../../runtime/errors.js";
import { runSpec, type SpecRun } from "../jobs/child.js";
import type { JobSpec, ParentMessage } from "../jobs/spec.js";
import {
  ARTIFACT_REF, checkpointName, JOB_REF, QUEUE_PREFIX, RUN_CANCELLED, RUN_DONE, RUN_FILE, RUN_NOT_READY, RUN_SUPERSEDED,
  type QueueJobData, type QueueKind, type RunEvent, type RunStart,
} from "./protocol.js";
import { parseRedisUrl, redisClient } from "./redis.js";

export interface WorkerOptions {
  /** The server's URL (http://HOST:PORT). */
  server: string;
  /** A worker token (POST /v1/workers) or the admin token. */
  token: string;
  /** redis://HOST:PORT[/DB] */
  queue: string;
  kinds: QueueKind[];
  /** Runs at once, all kinds together (default 1). */
  concurrency?: number;
  /** Where runs work and inputs are cached. */
  dir: string;
  name?: string;
  /** BullMQ's lockDuration (default 30 s): how long a dead worker's run waits before another takes it. */
  lockSeconds?: number;
  /** BullMQ's stalledInterval (default 30 s). */
  stalledSeconds?: number;
  /** BullMQ's maxStalledCount (default 2): stalls of one run before BullMQ fails it. */
  maxStalled?: number;
  /** How often the run's checkpoints are looked at and uploaded when new (default 5 s). */
  checkpointSeconds?: number;
  log(line: string): void;
  /** Aborted: stop (runs handed back to the queue). */
  signal?: AbortSignal;
}

/** The server refused the worker's token (revoked, unknown, or not a worker's). */
export class WorkerTokenError extends InputError {
  constructor(status: number, message: string) {
    super(`the server refused the worker token (${status}: ${message}): the worker stops. Ask the admin for a new one (POST /v1/workers) and start it with --token`);
    this.name = "WorkerTokenError";
  }
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Events sent at most this often, in one request. */
const EVENTS_EVERY_MS = 500;
/** Events kept while the server is away; past this the oldest lines are dropped (said once). */
const MAX_BUFFERED = 5000;
const HELLO_EVERY_MS = 5000;
/** How long the end of a run (outputs, result) keeps trying to reach the server. */
const END_RETRY_MS = 10 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export async function runWorker(o: WorkerOptions): Promise<void> {
  const base = o.server.replace(/\/+$/, "");
  const name = o.name ?? `${hostname()}-${process.pid}`;
  const dir = resolve(o.dir);
  mkdirSync(join(dir, "inputs"), { recursive: true });
  mkdirSync(join(dir, "runs"), { recursive: true });
  const stop = new AbortController();
  let fatal: WorkerTokenError | undefined;
  const die = (e: WorkerTokenError) => {
    fatal ??= e; // the CLI prints it as the worker ends
    stop.abort(e);
  };
  o.signal?.addEventListener("abort", () => stop.abort(new Error("stopped")), { once: true });

  async function call<T>(method: string, path: string, body?: unknown, raw?: { bytes: Uint8Array; sha: string }): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${o.token}` };
    let payload: BodyInit | undefined;
    if (raw) {
      headers["content-type"] = "application/octet-stream";
      headers["x-sha256"] = raw.sha;
      payload = raw.bytes as unknown as BodyInit;
    } else if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${base}${path}`, { method, headers, body: payload });
    const text = await res.text();
    let json: { error?: { code: string; message: string } } & Record<string, unknown> = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = {};
    }
    if (res.status === 401 || res.status === 403) {
      const e = new WorkerTokenError(res.status, json.error?.message ?? res.statusText);
      die(e);
      throw e;
    }
    if (!res.ok) throw new HttpError(res.status, json.error?.code ?? "http_error", `${method} ${path}: ${res.status} ${json.error?.message ?? text.slice(0, 200)}`);
    return json as T;
  }

  /** `f` again while the server is away (a network error or a 5xx), up to `ms`. */
  async function retrying<T>(what: string, ms: number, f: () => Promise<T>): Promise<T> {
    const until = Date.now() + ms;
    for (let i = 0; ; i++) {
      try {
        return await f();
      } catch (e) {
        const away = !(e instanceof HttpError) || e.status >= 500;
        if (!away || e instanceof WorkerTokenError || stop.signal.aborted || Date.now() > until) throw e;
        if (i === 0) o.log(`${what}: ${(e as Error).message} (trying again)`);
        await sleep(Math.min(500 * 2 ** i, 5000));
      }
    }
  }

  // who we are: a bad token stops here, before any run is taken
  const hello = await call<{ worker: { id: string; name: string } }>("GET", "/v1/queue/hello");
  o.log(`hat worker ${name}: token of worker ${hello.worker.name} accepted by ${base}; kinds ${o.kinds.join(",")}; queue ${parseRedisUrl(o.queue).shown}`);

  // one slot per run, all kinds together
  let free = Math.max(1, o.concurrency ?? 1);
  const waiting: (() => void)[] = [];
  const acquire = () => (free > 0 ? (free--, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)));
  const release = () => (waiting.length ? waiting.shift()!() : free++);

  async function fetchInput(sha: string, runPath: string): Promise<string> {
    const file = join(dir, "inputs", sha);
    if (existsSync(file)) return file; // written only after its hash was checked
    const res = await fetch(`${base}${runPath}/inputs/${sha}`, { headers: { authorization: `Bearer ${o.token}` } });
    if (res.status === 401 || res.status === 403) { const e = new WorkerTokenError(res.status, await res.text()); die(e); throw e; }
    if (!res.ok || !res.body) throw new Error(`input ${sha}: the server answered ${res.status}`);
    const tmp = `${file}.${randomBytes(4).toString("hex")}.part`;
    const hash = createHash("sha256");
    try {
      await pipeline(Readable.fromWeb(res.body as never), async function* (src: AsyncIterable<Buffer>) {
        for await (const b of src) { hash.update(b); yield b; }
      }, createWriteStream(tmp));
      const got = hash.digest("hex");
      if (got !== sha) throw new Error(`input ${sha}: the server sent bytes whose sha256 is ${got} (its artifact store is damaged)`);
      renameSync(tmp, file);
    } finally {
      rmSync(tmp, { force: true });
    }
    return file;
  }

  async function processRun(job: Job<QueueJobData>, token: string | undefined): Promise<unknown> {
    const run = job.data.run;
    if (typeof run !== "string" || !/^[\w-]{1,100}$/.test(run)) throw new UnrecoverableError(`not a run: ${JSON.stringify(job.data)}`);
    const path = `/v1/queue/runs/${run}`;
    const handBack = async (why: string): Promise<never> => { // stopping or revoked: the run goes back to the queue at once, no attempt spent
      o.log(`run ${run}: handed back to the queue (${why})`);
      await job.moveToWait(token);
      throw new WaitingError();
    };
    let start: RunStart;
    try {
      start = await retrying(`run ${run}: start`, 120_000, async () => {
        try {
          return await call<RunStart>("POST", `${path}/start`, {});
        } catch (e) {
          if (e instanceof HttpError && e.code === RUN_NOT_READY) throw new HttpError(503, e.code, e.message); // the server is re-attaching: wait
          throw e;
        }
      });
    } catch (e) {
      if (e instanceof WorkerTokenError) return handBack("the token was refused");
      if (e instanceof HttpError && e.code === RUN_DONE) return { duplicate: true }; // done by another attempt: nothing to do
      if (e instanceof HttpError && (e.status === 404 || e.code === RUN_CANCELLED)) throw new UnrecoverableError(e.message);
      throw e;
    }
    const attempt = start.attempt;
    o.log(`run ${run} (${job.data.kind} of ${job.data.job}): attempt ${attempt}`);
    const runDir = join(dir, "runs", run);
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });
    const abort = new AbortController();
    let stopped: string | undefined; // why this attempt was stopped by the server or the worker
    const onStop = () => { stopped ??= "the worker stops"; abort.abort(); };
    stop.signal.addEventListener("abort", onStop, { once: true });

    // events: batched, sent in order, kept while the server is away
    const buffer: RunEvent[] = [];
    let dropped = 0, sending: Promise<void> | undefined;
    const push = (e: RunEvent) => {
      if (e.type === "progress" && buffer.length && buffer[buffer.length - 1].type === "progress" && !(buffer[buffer.length - 1] as { data?: { valid_loss?: unknown } }).data?.valid_loss) buffer.pop(); // only the newest counts
      buffer.push(e);
      if (buffer.length > MAX_BUFFERED) { buffer.shift(); dropped++; }
    };
    const flush = (): Promise<void> => {
      if (sending) return sending;
      if (!buffer.length && !dropped) return Promise.resolve();
      const batch = buffer.splice(0, buffer.length);
      if (dropped) { batch.unshift({ type: "line", stream: "log", line: `(${dropped} lines dropped while the server was away)` }); dropped = 0; }
      sending = call("POST", `${path}/events`, { attempt, events: batch }).then(() => undefined, (e) => {
        if (e instanceof HttpError && e.status === 409) { stopped ??= e.message; abort.abort(); return; }
        if (e instanceof WorkerTokenError) return;
        buffer.unshift(...batch.slice(-MAX_BUFFERED)); // the server is away: again later
      }).finally(() => { sending = undefined; });
      return sending;
    };
    const eventsTimer = setInterval(() => void flush(), EVENTS_EVERY_MS);

    // checkpoints: uploaded when the trainer has written a new one
    const seen = new Map<string, number>();
    let uploading = false;
    const uploadCheckpoints = async () => {
      if (uploading) return;
      uploading = true;
      try {
        for (const out of start.outputs) {
          const name = checkpointName(out), file = join(runDir, name);
          if (!existsSync(file)) continue;
          const m = statSync(file).mtimeMs;
          if (seen.get(name) === m) continue;
          const bytes = readFileSync(file);
          await call("PUT", `${path}/files/${name}?attempt=${attempt}&role=checkpoint`, undefined, { bytes, sha: sha256(bytes) });
          seen.set(name, m);
        }
      } catch (e) {
        if (e instanceof HttpError && e.status === 409) { stopped ??= e.message; abort.abort(); }
        else if (!(e instanceof WorkerTokenError)) o.log(`run ${run}: checkpoint upload: ${(e as Error).message} (again later)`);
      } finally {
        uploading = false;
      }
    };
    const ckptTimer = setInterval(() => void uploadCheckpoints(), (o.checkpointSeconds ?? 5) * 1000);

    const inputFiles = new Map<string, string>();
    let r: SpecRun | undefined, failure: string | undefined;
    try {
      try {
        for (const sha of start.inputs) inputFiles.set(sha, await fetchInput(sha, path));
        for (const ck of start.checkpoints) {
          const res = await fetch(`${base}${path}/files/${ck.name}`, { headers: { authorization: `Bearer ${o.token}` } });
          if (!res.ok) throw new Error(`checkpoint ${ck.name}: the server answered ${res.status}`);
          writeFileSync(join(runDir, ck.name), Buffer.from(await res.arrayBuffer()));
          seen.set(ck.name, statSync(join(runDir, ck.name)).mtimeMs);
          push({ type: "line", stream: "log", line: `worker ${name}: resuming from checkpoint ${ck.name} (${ck.size} bytes, uploaded by attempt ${ck.attempt || "?"})` });
        }
      } catch (e) {
        if (e instanceof WorkerTokenError) throw e;
        failure = `worker ${name} could not fetch the run's inputs: ${(e as Error).message}`;
      }
      if (!failure && !stopped) {
        const local = (v: unknown): unknown => {
          if (typeof v === "string") {
            if (v.startsWith(ARTIFACT_REF)) return inputFiles.get(v.slice(ARTIFACT_REF.length)) ?? v;
            if (v === `${JOB_REF}.`) return runDir;
            if (v.startsWith(JOB_REF) && RUN_FILE.test(v.slice(JOB_REF.length))) return join(runDir, v.slice(JOB_REF.length));
            return v;
          }
          if (Array.isArray(v)) return v.map(local);
          if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, local(x)]));
          return v;
        };
        let measured = 0;
        r = await runSpec(local(start.spec) as JobSpec, {
          cwd: runDir, signal: abort.signal,
          onLine: (stream, line, progress) => push({ type: "line", stream, line, ...(progress ? { progress } : {}) }),
          onProgress: (fraction, message, data) => push({ type: "progress", fraction, message, data }),
          onMeasure: async (m): Promise<Omit<ParentMessage, "type" | "id">> => {
            await flush();
            const a = await call<{ dataset_csv?: string; error?: string }>("POST", `${path}/measure`, { attempt, archs: m.archs, round: m.round });
            if (typeof a.dataset_csv !== "string") return { error: a.error ?? "the fleet measured nothing" };
            const file = join(runDir, `measured-${m.round}-${++measured}.csv`);
            writeFileSync(file, a.dataset_csv);
            return { dataset: file };
          },
        });
      }
    } finally {
      clearInterval(ckptTimer);
      clearInterval(eventsTimer);
      stop.signal.removeEventListener("abort", onStop);
    }
    try {
      if (fatal || stop.signal.aborted) return await handBack(fatal ? "the token was refused" : "the worker stops");
      if (stopped) {
        o.log(`run ${run}: attempt ${attempt} stopped by the server: ${stopped}`);
        throw new UnrecoverableError(`run ${run}, attempt ${attempt}: ${stopped}`);
      }
      await retrying(`run ${run}: events`, END_RETRY_MS, async () => { await flush(); if (buffer.length) throw new Error("the server did not take the events"); });
      if (stopped) throw new UnrecoverableError(`run ${run}, attempt ${attempt}: ${stopped}`);
      if (r && r.code === 0) {
        for (const out of start.outputs) {
          const file = join(runDir, out);
          if (!existsSync(file) || !statSync(file).isFile()) continue;
          const bytes = readFileSync(file);
          await retrying(`run ${run}: upload ${out}`, END_RETRY_MS, () => call("PUT", `${path}/files/${out}?attempt=${attempt}&role=output`, undefined, { bytes, sha: sha256(bytes) }));
        }
        const ack = await retrying(`run ${run}: result`, END_RETRY_MS, () => call<{ duplicate?: boolean }>("POST", `${path}/result`, { attempt, code: 0, result: r!.result, stderr_tail: "" }));
        o.log(`run ${run}: done${ack.duplicate ? " (the server already had its result)" : ""}`);
        return { attempt };
      }
      const code = r?.code ?? 1, tail = failure ?? r?.stderrTail ?? "";
      await retrying(`run ${run}: result`, END_RETRY_MS, () => call("POST", `${path}/result`, { attempt, code, result: null, stderr_tail: tail.slice(-60_000) })).catch((e) => o.log(`run ${run}: the failure was not recorded: ${(e as Error).message}`));
      const reason = tail.split("\n").filter((l) => l.trim()).slice(-1)[0] ?? `exit code ${code}`;
      o.log(`run ${run}: attempt ${attempt} failed: ${reason}`);
      throw code === 2 ? new UnrecoverableError(reason) : new Error(reason); // 2: the input is at fault, another attempt fails the same
    } catch (e) {
      if (e instanceof WorkerTokenError) return handBack("the token was refused");
      if (e instanceof HttpError && e.status === 409) throw new UnrecoverableError(e.message);
      throw e;
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  }

  const t = parseRedisUrl(o.queue);
  const client = await redisClient(t, { name: `hat-worker-${name}` });
  client.on("error", (e) => o.log(`hat worker: Redis at ${t.shown}: ${(e as Error).message}`));
  const workers = o.kinds.map((kind) => {
    const w = new Worker<QueueJobData>(kind, async (job, token) => {
      await acquire();
      try {
        return await processRun(job, token);
      } finally {
        release();
      }
    }, {
      connection: client as never, prefix: QUEUE_PREFIX, concurrency: Math.max(1, o.concurrency ?? 1), name,
      lockDuration: (o.lockSeconds ?? 30) * 1000, stalledInterval: (o.stalledSeconds ?? 30) * 1000, maxStalledCount: o.maxStalled ?? 2,
    });
    w.on("error", (e) => o.log(`hat worker: queue ${QUEUE_PREFIX}:${kind}: ${e.message}`));
    w.on("stalled", (id) => o.log(`hat worker: run ${id} stalled (its worker stopped renewing its lock): back on the queue`));
    return w;
  });

  // an idle worker learns of its revoked token too
  const helloTimer = setInterval(() => {
    call("GET", "/v1/queue/hello").catch((e) => { if (!(e instanceof WorkerTokenError)) o.log(`hat worker: the server: ${(e as Error).message}`); });
  }, HELLO_EVERY_MS);
  await new Promise<void>((r) => (stop.signal.aborted ? r() : stop.signal.addEventListener("abort", () => r(), { once: true })));
  clearInterval(helloTimer);
  await Promise.allSettled(workers.map((w) => w.close()));
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
  if (fatal) throw fatal;
}
