/**
 * The `train` job: `hat train` of a SuperTransformer on a dataset. The CLI checkpoints to
 * OUT.ckpt every minute (checkpoint_seconds) and resumes from it when run again with the same arguments, so a
 * restarted server resumes the job simply by running the same command in the same directory.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { parseSpaceText } from "../../../runtime/arch-text.js";
import { BUILTIN_SPACE_NAMES } from "../../../runtime/spaces.js";
import type { ServerContext } from "../../context.js";
import { datasetFiles } from "../../datasets.js";
import { badRequest } from "../../http.js";
import type { JobKind } from "../types.js";
import { flags, hatJson, spaceFlag } from "./common.js";

/** The `hat train` options a training job (train, finetune) takes, and their flags. */
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
};
type TrainingOptions = { [K in keyof typeof TRAINING_OPTIONS]?: z.infer<(typeof TRAINING_OPTIONS)[K]> };

/** refine() arguments: a training job runs for minutes or for steps. */
export const oneBudget: [(p: { minutes?: number; steps?: number }) => boolean, { message: string; path: string[] }] =
  [(p) => (p.minutes === undefined) !== (p.steps === undefined), { message: "give exactly one of minutes and steps", path: ["minutes"] }];

export function trainingFlags(p: TrainingOptions): string[] {
  return flags({
    minutes: p.minutes, steps: p.steps, "max-tokens": p.max_tokens, lr: p.lr, warmup: p.warmup, dropout: p.dropout,
    seed: p.seed, threads: p.threads, "checkpoint-seconds": p.checkpoint_seconds,
  });
}

export const TrainParams = z.strictObject({
  dataset: z.string().min(1).describe("a dataset id (POST /v1/datasets)"),
  space: z.union([z.enum(BUILTIN_SPACE_NAMES), z.record(z.string(), z.unknown())]).describe("a built-in space or a space object (project JSON or HAT's form)"),
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
      const summary = await hatJson(ctl, [
        "train", "--src", d.train.src, "--tgt", d.train.tgt, "--valid-src", d.valid.src, "--valid-tgt", d.valid.tgt,
        "--space", spaceFlag(ctl, p.space), "--out", out,
        ...flags({ "vocab-size": p.vocab_size, sampling: p.sampling }), ...trainingFlags(p),
      ]);
      const model = ctl.artifact("model", out, "model", "supernet.hatm");
      delete summary.out; // a path in the job's directory, gone when it ends
      return { ...summary, model_sha256: model.sha256 };
    },
  };
}
