/**
 * The queue mode's contract between `hat serve --queue` (./backend.ts) and `hat worker`
 * (./worker.ts), documented in one place (docs/scaling.md tells the story, docs/fleet.md the routes).
 *
 * The server keeps running each job's kind (server/jobs/kinds: resolving inputs, storing artifacts,
 * the search's fleet measurements); only the job child's work — a JobSpec (server/jobs/spec.ts)
 * — becomes a *run* on the BullMQ queue of its kind. A run's id is `<job id>-c<n>` (the n-th child of
 * that job), so a restarted server that runs the kind again re-attaches to the same run.
 *
 *   queue job data   { run, job, kind }  (the spec itself stays in the server's SQLite: the truth)
 *   worker -> server POST /v1/queue/runs/:run/start   -> { attempt, spec, inputs, outputs, checkpoints }
 *                    GET  /v1/queue/runs/:run/inputs/:sha256     an input artifact (sha256-checked)
 *                    GET  /v1/queue/runs/:run/files/:name        a checkpoint of an earlier attempt
 *                    POST /v1/queue/runs/:run/events   { attempt, events: RunEvent[] }
 *                    PUT  /v1/queue/runs/:run/files/:name?attempt=N&role=checkpoint|output  (x-sha256)
 *                    POST /v1/queue/runs/:run/measure  { attempt, archs, round }  (the search's closed loop)
 *                    POST /v1/queue/runs/:run/result   { attempt, code, result, stderr_tail }
 *
 * `attempt` is the server's fencing number: each start takes the next one, and only the newest
 * attempt may send events or checkpoints (an older one gets 409 `superseded` and stops). A result
 * is accepted once (the first that arrives, of any attempt); the same run's later results get
 * `{ duplicate: true }`: a retried upload is not a second result.
 *
 * In a spec on the queue, paths are placeholders: `hat-artifact:<sha256>` (an input the worker
 * downloads) and `hat-job:<name>` (a file of the run's directory; `hat-job:.` the directory).
 */
import type { ProgressData } from "../jobs/progress.js";

/** The kinds whose child can run on a worker (`hat worker --kinds`): every kind that runs a JobSpec. */
export const QUEUE_KINDS = ["train", "finetune", "search", "predictor", "export", "quantize", "study"] as const;
export type QueueKind = (typeof QUEUE_KINDS)[number];

/** The BullMQ key prefix: the queues are `hat:<kind>`. */
export const QUEUE_PREFIX = "hat";

export const ARTIFACT_REF = "hat-artifact:";
export const JOB_REF = "hat-job:";

/** What a BullMQ job carries: the run to ask the server for. */
export interface QueueJobData {
  run: string;
  job: string;
  kind: QueueKind;
}

/** What the server answers a worker's start with. */
export interface RunStart {
  attempt: number;
  /** The JobSpec with placeholders (see above). */
  spec: unknown;
  /** sha256s of the input artifacts the spec names. */
  inputs: string[];
  /** The run directory's files the spec names (outputs, uploaded at the end when they exist). */
  outputs: string[];
  /** Checkpoints an earlier attempt uploaded (names in the run's directory), to resume from. */
  checkpoints: { name: string; size: number; attempt: number }[];
}

/** A line or a progress update of the child, as the worker forwards it. */
export type RunEvent =
  | { type: "line"; stream: "stdout" | "stderr" | "log"; line: string; progress?: boolean }
  | { type: "progress"; fraction?: number; message?: string; data?: ProgressData };

/** The error codes a worker acts on (409s: stop this attempt; 401/403: stop the worker). */
export const RUN_SUPERSEDED = "superseded";
export const RUN_CANCELLED = "run_cancelled";
export const RUN_DONE = "run_done";
export const RUN_NOT_READY = "run_not_ready";

/** A checkpoint's file name for an output (train/pipeline.ts writes `${out}.ckpt`). */
export const checkpointName = (output: string): string => `${output}.ckpt`;

/** A name in a run's directory: no path separators, no dot files (a placeholder's name is checked with it). */
export const RUN_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
