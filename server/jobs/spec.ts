/**
 * What a job's child process is told to do: one typed spec per kind, the kind's validated params
 * with every input resolved (artifact and dataset files, the space, defaults filled in) and every
 * output a path in the job's directory. A kind (server/jobs/kinds) writes it there as spec.json;
 * the child (server/jobs/child-main.ts) reads it, runs the pipeline it names and writes what that
 * returns as result.json. Nothing in a spec is checked again: the server checked it at POST.
 *
 *   train     — train/pipeline.ts trainModel: a SuperTransformer of `space`
 *   finetune  — trainModel: one SubTransformer, from the inherited weights of `init` (or scratch)
 *   export    — runtime/model.ts writeSubTransformer: the compact model of `arch`
 *   quantize  — runtime/model.ts writeQuantizedModel: a model with its weight matrices quantized
 *               (with `finetune`: train/quant-aware.ts quantAwareFinetune, k-means centroids trained)
 *   predictor — latency/fit-file.ts fitPredictorFile: a latency predictor from datasets (with
 *               fewShot: latency/transfer-file.ts fewShotFile, from a few rows and a prior)
 *   search    — search/pipeline.ts runSearch: the search, export, fine-tuning, BLEU and report
 *   study     — search/study-run.ts runStudy: HAT's evidence (docs/method.md §12), record and report
 *
 * A train or finetune spec run again in the same directory resumes from its checkpoint (OUT.ckpt).
 */
import type { Space, ValidArch } from "../../runtime/types.js";
import type { FitFileOptions } from "../../latency/fit-file.js";
import type { FinetuneSettings, SearchOptions } from "../../search/pipeline.js";
import type { StudyOptions } from "../../search/study-run.js";
import type { TrainModelOptions } from "../../train/pipeline.js";
import type { QuantizeOptions } from "../../runtime/quant.js";
import type { QuantAwareOptions } from "../../train/quant-aware.js";
import type { ProgressData } from "./progress.js";

/** The spec's file in the job's directory, and the result's. */
export const SPEC_FILE = "spec.json";
export const RESULT_FILE = "result.json";

/** The two aligned text files of a split (a dataset's, in the artifact store). */
export interface TextFiles {
  src: string;
  tgt: string;
}

/** trainModel's settings: what is not data, not the starting model and not a callback. */
export type TrainSettings = Omit<TrainModelOptions, "data" | "init" | "space" | "arch" | "log" | "onProgress" | "signal">;

export interface TrainSpec {
  kind: "train";
  data: { train: TextFiles; valid: TextFiles };
  space: Space;
  settings: TrainSettings;
}

export interface FinetuneSpec {
  kind: "finetune";
  data: { train: TextFiles; valid: TextFiles };
  /** Checked at POST (validateArch against the supernet's space): a ValidArch. */
  arch: ValidArch;
  /** The SuperTransformer model file fine-tuned from; absent: trained from scratch. */
  init?: string;
  settings: TrainSettings;
}

export interface ExportSpec {
  kind: "export";
  /** The SuperTransformer model file. */
  supernet: string;
  /** Checked at POST against the supernet's space. */
  arch: ValidArch;
  out: string;
}

export interface QuantizeSpec {
  kind: "quantize";
  /** The model file (any job's `model` artifact). */
  model: string;
  options: QuantizeOptions;
  /** K-means centroids fine-tuned on `data` (checkpoints to OUT.ckpt); `arch` a SuperTransformer's, checked at POST. */
  finetune?: { data: { train: TextFiles; valid: TextFiles } } & Pick<QuantAwareOptions, "steps" | "minutes" | "arch" | "lr" | "maxTokens" | "dropout" | "threads" | "distill">;
  out: string;
}

export interface PredictorSpec {
  kind: "predictor";
  options: Omit<FitFileOptions, "log">;
  /** Present: the few-shot fit instead (latency/transfer-file.ts fewShotFile): `trainRows` rows drawn, a transfer of `prior` (a predictor file) when given. */
  fewShot?: { trainRows: number; prior?: string };
}

export interface SearchSpec {
  kind: "search";
  options: Omit<SearchOptions, "valid" | "finetune" | "bleu" | "verify" | "log" | "onProgress"> & {
    valid: TextFiles;
    /** The closed loop, its candidates measured on the fleet (the parent, over IPC: a `measure` request). */
    verify?: Omit<NonNullable<SearchOptions["verify"]>, "measurer"> & { where: string };
    finetune?: Omit<FinetuneSettings, "train"> & { train: TextFiles };
    bleu?: { test: TextFiles; max?: number };
  };
}

export interface StudySpec {
  kind: "study";
  options: Omit<StudyOptions, "train" | "valid" | "test" | "log" | "onProgress"> & { train: TextFiles; valid: TextFiles; test?: TextFiles };
}

export type JobSpec = TrainSpec | FinetuneSpec | ExportSpec | QuantizeSpec | PredictorSpec | SearchSpec | StudySpec;

/** The `hat` command that does what a spec does: how failures name it. */
export const SPEC_COMMAND: Record<JobSpec["kind"], string> = {
  train: "hat train", finetune: "hat train", export: "hat export", quantize: "hat quantize", predictor: "hat predictor fit", search: "hat search", study: "hat study",
};

/**
 * What the child sends its parent over the IPC channel. A `progress` may carry its numbers
 * (`data`, ./progress.ts: what the events and the dashboard show). A `measure` request (the search's closed
 * loop, docs/method.md §11) asks the parent to measure architectures on the fleet; the parent
 * answers with one ParentMessage of the same id.
 */
export type ChildMessage =
  | { type: "log"; line: string }
  | { type: "progress"; fraction?: number; message?: string; data?: ProgressData }
  | { type: "measure"; id: number; archs: ValidArch[]; round: number }
  | { type: "done" };

/** What the parent answers a `measure` request with: the latency dataset (CSV) of the measurements, or why there is none. */
export type ParentMessage = { type: "measured"; id: number; dataset?: string; error?: string };

/** A `measure` request as the job kind sees it. */
export type MeasureRequest = Extract<ChildMessage, { type: "measure" }>;
