/**
 * The contract of long work on the server. A job has a kind; each kind (train, predictor, search
 * in server/jobs/kinds, campaign in server/fleet) registers a JobKind: how to check its params and
 * how to run it. The runner (server/jobs/runner.ts) owns the jobs table, the queue, events, SSE,
 * cancellation and resumption after a restart; kinds only do their work through a JobControl.
 *
 * States: queued -> running -> done | failed | cancelled. A server killed while a job runs calls
 * `run` again for it on start with `resumed: true`: a kind resumes from its checkpoint (train), or
 * re-attaches to state kept in the database (campaign), or starts over (predictor, search) — and
 * says which in an event.
 */
import type { z } from "zod";
import type { ArtifactInfo } from "../artifacts.js";
import type { ProgressData } from "./progress.js";
import type { JobSpec, MeasureRequest, ParentMessage } from "./spec.js";

export type JobState = "queued" | "running" | "done" | "failed" | "cancelled";

export interface JobRecord {
  id: string;
  kind: string;
  state: JobState;
  params: unknown; // the kind's checked params
  result: unknown | null; // what run() returned (JSON)
  error: string | null;
  progress: number | null; // 0..1 when known
  message: string | null; // the last progress message
  artifacts: Record<string, string>; // role -> sha256
  attempts: number; // how many times run() was started (restarts included)
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** What a running job can do. */
export interface JobControl {
  readonly job: JobRecord;
  /** A working directory of its own, kept across restarts until the job ends. */
  readonly dir: string;
  /** Aborted when the job is cancelled or the server shuts down. */
  readonly signal: AbortSignal;
  /** True when this run() continues a job that was running when the server stopped. */
  readonly resumed: boolean;
  /** A line for the job's event stream. */
  log(line: string): void;
  /**
   * Progress: fraction in 0..1 (or undefined when unknown), a short message, and the numbers behind
   * it (./progress.ts: e.g. { done, total }), which the progress event carries as `data`.
   */
  progress(fraction: number | undefined, message?: string, data?: ProgressData): void;
  /** Store a file or bytes as an artifact of this job under `role` (e.g. "model", "report"). */
  artifact(role: string, file: string | Uint8Array, kind: string, name: string): ArtifactInfo;
  /**
   * Run the pipeline `spec` names in a child process (server/jobs/child-main.ts), the spec written
   * to the job's directory; its log lines and progress become the job's events; killed on abort.
   * Resolves with the exit code, what the pipeline returned (null unless it ended well) and the
   * last lines of its log and stderr. `onMeasure` answers the child's requests to measure
   * architectures on the fleet (the search's closed loop).
   */
  child(spec: JobSpec, o?: { onMeasure?(m: MeasureRequest): Promise<Omit<ParentMessage, "type" | "id">> }): Promise<{ code: number; result: Record<string, unknown> | null; stderrTail: string }>;
}

export interface JobKind<P = unknown> {
  kind: string;
  /** The params a user POSTs to create one (validated; errors name the field). */
  params: z.ZodType<P>;
  /** Checks beyond the schema (referenced ids exist, artifacts present); throw an ApiError. */
  prepare?(params: P): P;
  /** true: one at a time with the other exclusive kinds (they use the server's CPU); or decided by the job's params. */
  exclusive: boolean | ((params: P) => boolean);
  /** Do the work; the returned value (JSON) becomes the job's result. Throw to fail it. */
  run(params: P, ctl: JobControl): Promise<unknown>;
  /** One line for the OpenAPI document. */
  summary: string;
}

/** The runner as other parts of the server see it. */
export interface Jobs {
  register<P>(kind: JobKind<P>): void;
  create(kind: string, params: unknown): JobRecord;
  get(id: string): JobRecord | undefined;
  list(filter?: { kind?: string; state?: JobState }): JobRecord[];
  cancel(id: string): JobRecord;
  /** Resolves when the job reaches done/failed/cancelled (for tests and the demo). */
  settled(id: string): Promise<JobRecord>;
}
