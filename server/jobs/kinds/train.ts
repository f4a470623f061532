/**
 * The `train` job: a SuperTransformer trained on a dataset (train/pipeline.ts trainModel, what
 * `hat train` runs) in the job child. It checkpoints to OUT.ckpt every minute (checkpoint_seconds)
 * and resumes from it when run again on the same spec, so a restarted server resumes the job simply
 * by running the same spec in the same directory.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { parseSpaceText } from "../../../runtime/arch-text.js";
import { BUILTIN_SPACE_NAMES } from "../../../runtime/spaces.js";
import { givenSettings, TRAIN_DEFAULTS as D } from "../../../train/defaults.js";
import type { ServerContext } from "../../context.js";
import { datasetFiles } from "../../datasets.js";
import { badRequest } from "../../http.js";
import type { JobKind } from "../types.js";
import type { TrainSettings } from "../spec.js";
import { runJob, spaceOf, trainData } from "./common.js";

/** The `hat train` options a training job (train, finetune) takes. */
export const TRAINING_OPTIONS = {
  minutes: z.number().positive().max(7 * 24 * 60).optional(),
  steps: z.number().int().positive().optional(),
  max_tokens: z.number().int().positive().optional(),
  lr: z.number().positive().max(1).optional(),
  warmup: z.number().int().min(0).optional(),
  dropout: z.number().min(0).lt(1).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  threads: z.number().int().min(1).max(1024).optional(),
  checkpoint_seconds: z.number().min(1).max(86_400).optional().describe("seconds between checkpoints (default 60): what a restarted server resumes from"),
  recipe: z.enum(["auto", "fixed"]).optional().describe("with minutes: size batch, warm-up and peak rate from the updates the budget allows (auto, the default), or use them as given (fixed)"),
  average: z.number().int().min(0).max(100).optional().describe("keep the average of the last N validated snapshots when it validates better (0: off)"),
};
type TrainingOptions = { [K in keyof typeof TRAINING_OPTIONS]?: z.infer<(typeof TRAINING_OPTIONS)[K]> };

/** refine() arguments: a training job runs for minutes or for steps. */
export const oneBudget: [(p: { minutes?: number; steps?: number }) => boolean, { message: string; path: string[] }] =
  [(p) => (p.minutes === undefined) !== (p.steps === undefined), { message: "give exactly one of minutes and steps", path: ["minutes"] }];

/** A training job's settings as trainModel takes them, the trainer's defaults where the params say nothing. */
export function trainSettings(p: TrainingOptions & { vocab_size?: number; sampling?: "uniform" | "sandwich" }, out: string): TrainSettings {
  return {
    out, vocabSize: p.vocab_size ?? D.vocabSize, sampling: p.sampling ?? D.sampling, steps: p.steps, minutes: p.minutes,
    recipe: p.recipe === "fixed" ? false : { fixed: givenSettings({ maxTokens: p.max_tokens, warmup: p.warmup, lr: p.lr }) }, average: p.average ?? 0,
    maxTokens: p.max_tokens ?? D.maxTokens, lr: { maxLr: p.lr ?? D.lr, warmup: p.warmup ?? D.warmup, schedule: D.schedule },
    dropout: p.dropout ?? D.dropout, clipNorm: D.clipNorm, labelSmoothing: D.labelSmoothing, seed: p.seed ?? D.seed,
    threads: p.threads, checkpointSeconds: p.checkpoint_seconds ?? D.checkpointSeconds,
  };
}

export const TrainParams = z.strictObject({
  dataset: z.string().min(1).describe("a dataset id (POST /v1/datasets)"),
  space: z.union([z.enum(BUILTIN_SPACE_NAMES), z.record(z.string(), z.unknown())],
    { error: `a space name (${BUILTIN_SPACE_NAMES.map((n) => `"${n}"`).join(", ").replace(/, ([^,]*)$/, " or $1")}) or a space object` }).describe("a built-in space or a space object (project JSON or HAT's form)"),
  vocab_size: z.number().int().min(300).max(1_000_000).optional(),
  sampling: z.enum(["uniform", "sandwich"]).optional(),
  ...TRAINING_OPTIONS,
}).refine(...oneBudget);
export type TrainParams = z.infer<typeof TrainParams>;

export function trainKind(ctx: ServerContext): JobKind<TrainParams> {
  return {
    kind: "train",
    summary: "train a SuperTransformer on a dataset (hat train); artifact `model`",
    params: TrainParams,
    exclusive: true,
    prepare(p) {
      datasetFiles(ctx, p.dataset);
      if (typeof p.space === "object") {
        try {
          parseSpaceText(JSON.stringify(p.space));
        } catch (e) {
          throw badRequest(`space: ${(e as Error).message}`, "invalid_body");
        }
      }
      return p;
    },
    async run(p, ctl) {
      const d = datasetFiles(ctx, p.dataset);
      const out = join(ctl.dir, "supernet.hatm");
      if (existsSync(`${out}.ckpt`)) ctl.log("resumed from checkpoint supernet.hatm.ckpt");
      else if (ctl.resumed) ctl.log("no checkpoint was written before the restart: training starts over");
      const summary = await runJob(ctl, {
        kind: "train", data: trainData(d), space: spaceOf(p.space), settings: trainSettings(p, out),
      });
      const model = ctl.artifact("model", out, "model", "supernet.hatm");
      delete summary.out; // a path in the job's directory, gone when it ends
      return { ...summary, model_sha256: model.sha256 };
    },
  };
}
