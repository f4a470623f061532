/**
 * The job runner (the Jobs contract of ./types.ts): the jobs and job_events tables, the queue,
 * each job's working directory and child processes, cancellation, and resumption on start.
 *
 * - Exclusive kinds (training, search: they use every core) run one at a time, first come first
 *   served; the others start at once.
 * - Every event is a row (job_id, seq): an SSE client that reconnects replays from its last seq,
 *   also after a server restart. Progress is coalesced to about one row a second per job (a
 *   training validation's row is always kept); a progress row carries its numbers (`data`,
 *   ./progress.ts) beside the fraction and the message.
 * - stop() kills the children but leaves their jobs `running`; start() runs those again with
 *   `resumed: true` before anything queued (a restarted exclusive job keeps its place).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ArtifactInfo } from "../artifacts.js";
import type { ServerContext } from "../context.js";
import { now, type Db } from "../db.js";
import { ApiError, check, conflict, notFound } from "../http.js";
import { JobDirError, runSpec, type ChildOptions, type SpecRun } from "./child.js";
import type { JobSpec } from "./spec.js";
import { linePosition, progressData, type ProgressData } from "./progress.js";
import type { JobControl, JobKind, JobRecord, Jobs, JobState } from "./types.js";

export const JOB_STATES = ["queued", "running", "done", "failed", "cancelled"] as const satisfies readonly JobState[];
export const isFinished = (s: JobState): boolean => s === "done" || s === "failed" || s === "cancelled";

export type EventType = "log" | "progress" | "state";
export interface JobEvent {
  seq: number;
  at: number;
  type: EventType;
  data: Record<string, unknown>;
}

/** At most one progress row per job this often (a child may print a progress line per update). */
const PROGRESS_EVERY_MS = 1000;
/** Log rows per run of a job; past this, lines are dropped (said once) so a chatty child cannot fill the disk. */
const MAX_LOG_EVENTS = 20_000;
/** How long stop() waits for killed children before it gives up on them. */
const STOP_WAIT_MS = 15_000;

export function migrateJobs(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, params TEXT NOT NULL, result TEXT, error TEXT,
    progress REAL, message TEXT, artifacts TEXT NOT NULL DEFAULT '{}', attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER);
  CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
  CREATE TABLE IF NOT EXISTS job_events (
    job_id TEXT NOT NULL REFERENCES jobs (id), seq INTEGER NOT NULL, at INTEGER NOT NULL, type TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (job_id, seq)) WITHOUT ROWID;`);
}

interface JobRow {
  id: string; kind: string; state: JobState; params: string; result: string | null; error: string | null;
  progress: number | null; message: string | null; artifacts: string; attempts: number;
  created_at: number; started_at: number | null; finished_at: number | null;
}

const toRecord = (r: JobRow): JobRecord => ({
  id: r.id, kind: r.kind, state: r.state, params: JSON.parse(r.params), result: r.result === null ? null : JSON.parse(r.result),
  error: r.error, progress: r.progress, message: r.message, artifacts: JSON.parse(r.artifacts), attempts: r.attempts,
  created_at: r.created_at, started_at: r.started_at, finished_at: r.finished_at,
});

/**
 * Where a job's child runs instead of this process (the queue mode: server/queue/backend.ts puts
 * it on a BullMQ queue for a `hat worker`): the same spec and the same ChildOptions as runSpec
 * (its lines, progress and measure requests come back through them), the same answer. `call`
 * counts the children of this run() (1, 2, ...), so a resumed run() asks for the same runs again.
 */
export type RemoteChild = (run: { job: JobRecord; dir: string; call: number; options: ChildOptions }, spec: JobSpec) => Promise<SpecRun>;

/** A job running in this process. */
interface Active {
  id: string;
  kind: JobKind<unknown>;
  /** Whether it holds the one exclusive slot (its kind's rule on its params). */
  exclusive: boolean;
  abort: AbortController;
  cancelled: boolean;
  done: Promise<void>;
  logs: number;
  pending?: { fraction: number | undefined; message: string | undefined; data: ProgressData | undefined };
  lastProgress: number;
  timer?: NodeJS.Timeout;
  /** Set when the job's events could not be written: why it was stopped. */
  recordError?: string;
}

export class JobRunner implements Jobs {
  readonly dir: string;
  private readonly kinds = new Map<string, JobKind<unknown>>();
  private readonly active = new Map<string, Active>();
  private readonly waiters = new Map<string, { resolve: (j: JobRecord) => void; reject: (e: Error) => void }[]>();
  private readonly listeners = new Map<string, Set<() => void>>();
  private readonly unknownSaid = new Set<string>();
  private started = false;
  private stopped = false;
  /** After stop(): the database may be closed, nothing is written any more. */
  private closed = false;
  /** Set in the queue mode: children run on workers, and exclusive kinds no longer wait for each other here. */
  private remote?: RemoteChild;

  constructor(readonly ctx: ServerContext, jobsDir: string) {
    this.dir = resolve(jobsDir);
    mkdirSync(this.dir, { recursive: true });
  }

  register<P>(kind: JobKind<P>): void {
    if (this.kinds.has(kind.kind)) throw new Error(`job kind ${kind.kind} is registered twice`);
    this.kinds.set(kind.kind, kind as JobKind<unknown>);
    this.pump(); // jobs of this kind left by a previous process can run now
  }

  /** The queue mode (server/queue): every job's child runs through `remote`; call before start(). */
  useRemote(remote: RemoteChild): void {
    this.remote = remote;
  }

  /** The registered kinds (routes describe one POST per kind). */
  kindList(): JobKind<unknown>[] {
    return [...this.kinds.values()];
  }

  /** The kind of that name; a 404 naming the known kinds otherwise. */
  kindOrThrow(name: string): JobKind<unknown> {
    const kind = this.kinds.get(name);
    if (!kind) throw new ApiError(404, "unknown_kind", `no job kind '${name}' (known: ${[...this.kinds.keys()].join(", ")})`);
    return kind;
  }

  create(kindName: string, params: unknown): JobRecord {
    const kind = this.kindOrThrow(kindName);
    if (this.stopped) throw new ApiError(503, "shutting_down", "the server is shutting down");
    let p = check(kind.params, params);
    if (kind.prepare) p = kind.prepare(p);
    const id = `job_${randomBytes(6).toString("hex")}`;
    this.ctx.db.transaction(() => {
      this.ctx.db.prepare(`INSERT INTO jobs (id, kind, state, params, created_at) VALUES (?, ?, 'queued', ?, ?)`).run(id, kind.kind, JSON.stringify(p), now());
      this.append(id, "state", { state: "queued" });
    })();
    this.pump();
    return this.get(id)!;
  }

  get(id: string): JobRecord | undefined {
    const r = this.ctx.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
    return r && toRecord(r);
  }

  list(filter: { kind?: string; state?: JobState } = {}): JobRecord[] {
    const rows = this.ctx.db.prepare(`SELECT * FROM jobs WHERE (@kind IS NULL OR kind = @kind) AND (@state IS NULL OR state = @state) ORDER BY rowid DESC`)
      .all({ kind: filter.kind ?? null, state: filter.state ?? null }) as JobRow[];
    return rows.map(toRecord);
  }

  cancel(id: string): JobRecord {
    const job = this.get(id);
    if (!job) throw notFound(`job ${id}`);
    if (isFinished(job.state)) throw conflict(`job ${id} is already ${job.state}`);
    const a = this.active.get(id);
    // the state changes now; an exclusive job keeps its slot until its child has really exited
    this.finish(id, "cancelled", { error: null });
    if (a) {
      a.cancelled = true;
      a.abort.abort(new Error("cancelled"));
    } else {
      this.removeDir(id);
    }
    return this.get(id)!;
  }

  settled(id: string): Promise<JobRecord> {
    const job = this.get(id);
    if (!job) return Promise.reject(notFound(`job ${id}`));
    if (isFinished(job.state)) return Promise.resolve(job);
    if (this.stopped) return Promise.reject(new Error("the job runner has stopped"));
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(id, list);
    });
  }

  /** The stored events of a job after `after` (its seq), oldest first. */
  events(id: string, after = 0, limit = 1000): JobEvent[] {
    const rows = this.ctx.db.prepare(`SELECT seq, at, type, data FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?`).all(id, after, limit) as
      { seq: number; at: number; type: EventType; data: string }[];
    return rows.map((r) => ({ ...r, data: JSON.parse(r.data) }));
  }

  /** The seq of the job's newest event (0 when it has none). */
  lastSeq(id: string): number {
    return (this.ctx.db.prepare(`SELECT COALESCE(MAX(seq), 0) AS n FROM job_events WHERE job_id = ?`).get(id) as { n: number }).n;
  }

  /** Called (no arguments) whenever the job has a new event; returns the unsubscribe. */
  subscribe(id: string, wake: () => void): () => void {
    const set = this.listeners.get(id) ?? new Set();
    set.add(wake);
    this.listeners.set(id, set);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
  }

  /** How many event listeners are attached (tests check that SSE clients do not leak them). */
  listenerCount(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Begin work: jobs a previous process left running run again (resumed), then the queue. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.pump();
  }

  /** Kill the children without changing their jobs' states (the next start resumes them). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const runs = [...this.active.values()];
    for (const a of runs) a.abort.abort(new Error("the server is stopping"));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(runs.map((a) => a.done)),
      new Promise<void>((r) => { timer = setTimeout(r, STOP_WAIT_MS); }),
    ]);
    clearTimeout(timer);
    for (const a of this.active.values()) this.flushProgress(a);
    this.closed = true;
    for (const list of this.waiters.values()) for (const w of list) w.reject(new Error("the job runner has stopped"));
    this.waiters.clear();
    for (const set of [...this.listeners.values()]) for (const wake of [...set]) wake(); // SSE streams see isStopped and end
  }

  // ---- the queue

  private pump(): void {
    if (!this.started || this.stopped) return;
    // resumed jobs first, then the queue in creation order
    const rows = this.ctx.db.prepare(`SELECT id, kind, state FROM jobs WHERE state IN ('queued', 'running')
      ORDER BY CASE state WHEN 'running' THEN 0 ELSE 1 END, rowid`).all() as { id: string; kind: string; state: JobState }[];
    let exclusiveBusy = [...this.active.values()].some((a) => a.exclusive);
    for (const r of rows) {
      if (this.active.has(r.id)) continue;
      const kind = this.kinds.get(r.kind);
      if (!kind) { // it waits: register() of its kind starts it (said once in the log)
        if (!this.unknownSaid.has(r.id)) this.ctx.log(`job ${r.id} waits for its kind '${r.kind}' to be registered`);
        this.unknownSaid.add(r.id);
        continue;
      }
      const exclusive = typeof kind.exclusive === "function" ? kind.exclusive(this.get(r.id)!.params) : kind.exclusive;
      if (exclusive && !this.remote) { // queued on workers, the server's CPU is not what they use
        if (exclusiveBusy) continue;
        exclusiveBusy = true;
      }
      this.launch(r.id, kind, r.state === "running", exclusive);
    }
  }

  private launch(id: string, kind: JobKind<unknown>, resumed: boolean, exclusive: boolean): void {
    const a: Active = { id, kind, exclusive, abort: new AbortController(), cancelled: false, done: Promise.resolve(), logs: 0, lastProgress: 0 };
    this.active.set(id, a);
    this.ctx.db.prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, ?) WHERE id = ?`).run(now(), id);
    const job = this.get(id)!;
    this.append(id, "state", { state: "running", attempt: job.attempts, resumed });
    if (resumed) this.append(id, "log", { line: `the server restarted while this job ran: running it again (attempt ${job.attempts})` });
    this.ctx.log(`job ${id} (${kind.kind}) ${resumed ? "resumed" : "started"}`);
    a.done = this.execute(a, job, resumed)
      // a failure to record the end (the disk full, say) is logged, never an unhandled rejection
      .catch((e) => this.ctx.log(`job ${id}: could not record its end: ${(e as Error).stack ?? e}`))
      .finally(() => {
        this.active.delete(id);
        try {
          this.pump();
        } catch (e) {
          // a throw here would be an unhandled rejection, which ends the server: the next job waits for the next pump
          this.ctx.log(`jobs: could not start the next job: ${(e as Error).message}`);
        }
      });
  }

  private async execute(a: Active, job: JobRecord, resumed: boolean): Promise<void> {
    const dir = join(this.dir, job.id);
    let result: unknown, error: unknown, ok = false;
    try {
      try {
        mkdirSync(dir, { recursive: true });
      } catch (e) {
        throw new JobDirError(dir, "create the directory", e);
      }
      result = await a.kind.run(job.params, this.control(a, job, dir, resumed));
      result = JSON.parse(JSON.stringify(result ?? null)); // a result that is not JSON fails here, not on GET
      ok = true;
    } catch (e) {
      error = e;
    }
    this.flushProgress(a);
    if (a.cancelled) { // cancel() already wrote the state; the child has exited now
      this.removeDir(job.id);
      return;
    }
    if (this.closed) return;
    if (ok) {
      this.finish(job.id, "done", { result });
    } else if (this.stopped) {
      return; // killed by stop(): stays `running`, the next start resumes it
    } else {
      this.finish(job.id, "failed", { error: a.recordError ?? ((error as Error)?.message || String(error)) });
    }
  }

  private control(a: Active, job: JobRecord, dir: string, resumed: boolean): JobControl {
    let calls = 0;
    return {
      job, dir, resumed, signal: a.abort.signal,
      // guarded: a kind may call these from a child's stream handlers or a timer, where a throw would end the server
      log: (line) => this.guarded(a, () => this.logLine(a, { line })),
      progress: (fraction, message, data) => this.guarded(a, () => this.progress(a, fraction, message, progressData(data))),
      artifact: (role, file, kind, name) => this.artifact(a.id, role, file, kind, name),
      child: (spec, o) => {
        const options = { ...this.childOptions(a, dir), onMeasure: o?.onMeasure };
        return this.remote ? this.remote({ job, dir, call: ++calls, options }, spec) : runSpec(spec, options);
      },
    };
  }

  /**
   * A child's lines become log events (a line of its stdout or stderr with a position "N/M" also
   * progress, { done, total }: a total of 0 is unknown, not 100 %), its messages progress.
   */
  private childOptions(a: Active, dir: string): ChildOptions {
    return {
      cwd: dir, signal: a.abort.signal,
      onLine: (stream, line, progress) => this.guarded(a, () => {
        const pos = stream === "log" ? undefined : linePosition(line);
        if (progress || pos) this.progress(a, pos?.fraction, line, pos && { done: pos.done, total: pos.total > 0 ? pos.total : null });
        if (!progress) this.logLine(a, stream === "log" ? { line } : { line, stream });
      }),
      onProgress: (fraction, message, data) => this.guarded(a, () => this.progress(a, fraction, message, data)),
    };
  }

  /**
   * Runs what a child's output or a timer asks (they run in event handlers, where a throw would
   * end the server): when the state cannot be written (the disk full or read-only, a broken
   * database) the job is stopped with that reason, said once in the server's log.
   */
  private guarded(a: Active, f: () => void): void {
    try {
      f();
    } catch (e) {
      if (a.recordError === undefined) {
        a.recordError = `cannot record the job's events (${(e as Error)?.message ?? e}): the job is stopped`;
        this.ctx.log(`job ${a.id}: ${a.recordError}`);
        a.abort.abort(new Error(a.recordError));
      }
    }
  }

  // ---- events and state

  private append(id: string, type: EventType, data: Record<string, unknown>): void {
    if (this.closed) return;
    this.ctx.db.prepare(`INSERT INTO job_events (job_id, seq, at, type, data)
      SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM job_events WHERE job_id = ?`).run(id, now(), type, JSON.stringify(data), id);
    for (const wake of [...(this.listeners.get(id) ?? [])]) wake();
  }

  private logLine(a: Active, data: { line: string; stream?: string }): void {
    if (this.closed || a.cancelled) return;
    a.logs++;
    if (a.logs === MAX_LOG_EVENTS + 1) this.append(a.id, "log", { line: `more than ${MAX_LOG_EVENTS} lines: the rest of this run's output is not kept` });
    if (a.logs > MAX_LOG_EVENTS) return;
    this.append(a.id, "log", data);
  }

  private progress(a: Active, fraction: number | undefined, message: string | undefined, data?: ProgressData): void {
    if (this.closed || a.cancelled) return;
    const f = fraction === undefined || !Number.isFinite(fraction) ? undefined : Math.min(1, Math.max(0, fraction));
    // a validation's loss is a point of the curve: its row is kept, not coalesced away by the next update
    if (typeof a.pending?.data?.valid_loss === "number" && typeof data?.valid_loss !== "number") this.flushProgress(a);
    a.pending = { fraction: f, message, data };
    const wait = a.lastProgress + PROGRESS_EVERY_MS - Date.now();
    if (wait <= 0) this.flushProgress(a);
    else if (!a.timer) {
      a.timer = setTimeout(() => this.guarded(a, () => this.flushProgress(a)), wait);
      a.timer.unref();
    }
  }

  private flushProgress(a: Active): void {
    if (a.timer) clearTimeout(a.timer);
    a.timer = undefined;
    const p = a.pending;
    a.pending = undefined;
    if (!p || this.closed || a.cancelled) return;
    a.lastProgress = Date.now();
    this.ctx.db.transaction(() => {
      this.ctx.db.prepare(`UPDATE jobs SET progress = COALESCE(?, progress), message = COALESCE(?, message) WHERE id = ?`).run(p.fraction ?? null, p.message ?? null, a.id);
      this.append(a.id, "progress", { fraction: p.fraction ?? null, message: p.message ?? null, ...(p.data ? { data: p.data } : {}) });
    })();
  }

  private artifact(id: string, role: string, file: string | Uint8Array, kind: string, name: string): ArtifactInfo {
    let info: ArtifactInfo;
    try {
      info = typeof file === "string" ? this.ctx.artifacts.putFile(file, kind, name) : this.ctx.artifacts.put(file, kind, name);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`cannot store the artifact ${role} (${name}) in ${this.ctx.artifacts.dir} (${code ? `${code}: ` : ""}${(e as Error).message}): check that the server's data directory is writable and has free space`);
    }
    if (this.closed) return info;
    this.ctx.db.transaction(() => {
      const row = this.ctx.db.prepare(`SELECT artifacts FROM jobs WHERE id = ?`).get(id) as { artifacts: string };
      const arts = { ...JSON.parse(row.artifacts), [role]: info.sha256 };
      this.ctx.db.prepare(`UPDATE jobs SET artifacts = ? WHERE id = ?`).run(JSON.stringify(arts), id);
      this.append(id, "log", { line: `artifact ${role}: ${name} (${info.size} bytes, sha256 ${info.sha256})` });
    })();
    return info;
  }

  private finish(id: string, state: "done" | "failed" | "cancelled", o: { result?: unknown; error?: string | null }): void {
    if (this.closed) return;
    this.ctx.db.transaction(() => {
      this.ctx.db.prepare(`UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = ? WHERE id = ?`)
        .run(state, o.result === undefined ? null : JSON.stringify(o.result), o.error ?? null, now(), id);
      this.append(id, "state", { state, ...(o.error ? { error: o.error } : {}) });
    })();
    this.ctx.log(`job ${id} ${state}${o.error ? `: ${o.error.split("\n")[0]}` : ""}`);
    // a failed job's directory stays for inspection (and a checkpoint); otherwise nothing there is needed
    if (state === "done") this.removeDir(id);
    const job = this.get(id)!;
    for (const w of this.waiters.get(id) ?? []) w.resolve(job);
    this.waiters.delete(id);
  }

  private removeDir(id: string): void {
    try {
      rmSync(join(this.dir, id), { recursive: true, force: true });
    } catch (e) {
      this.ctx.log(`job ${id}: could not remove its directory: ${(e as Error).message}`);
    }
  }
}
