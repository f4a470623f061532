/**
 * Jobs on one SubTransformer of a trained SuperTransformer (a train job):
 *   export   — its compact model with the inherited weights (only its slices), as `hat export`;
 *   finetune — trained further from the inherited weights (or from scratch with `scratch: true`)
 *              on a dataset, as `hat train --arch [--init]`; checkpoints like `train`, so a
 *              restarted server resumes it.
 * Both leave the artifact `model`, deployable with POST /v1/deployments {model: {job}}. The arch is
 * checked once, at POST, against the supernet's space (its own alone when trained from scratch),
 * and kept in the params as validateArch returned it: the job child trusts it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { datasetFiles } from "../../datasets.js";
import type { JobKind } from "../types.js";
import { checkArch, checked, doneJob, runJob, trainData } from "./common.js";
import { oneBudget, TRAINING_OPTIONS, trainSettings } from "./train.js";

const archField = z.record(z.string(), z.unknown()).describe("a SubTransformer of the supernet's space (the project's arch JSON)");

export const ExportParams = z.strictObject({ supernet: z.string().min(1).describe("a done train job"), arch: archField });
export type ExportParams = z.infer<typeof ExportParams>;

export function exportKind(ctx: ServerContext): JobKind<ExportParams> {
  return {
    kind: "export",
    summary: "a SubTransformer of a trained SuperTransformer as a compact model (hat export); artifact `model`",
    params: ExportParams,
    exclusive: false, // seconds of I/O
    prepare(p) {
      const supernet = doneJob(ctx, p.supernet, "supernet", "train", "model");
      return { ...p, arch: checkArch(p.arch, supernet, true) };
    },
    async run(p, ctl) {
      const supernet = doneJob(ctx, p.supernet, "supernet", "train", "model");
      const out = join(ctl.dir, "subtransformer.hatm");
      const summary = await runJob(ctl, { kind: "export", supernet: supernet.file, arch: checked(p.arch), out });
      const model = ctl.artifact("model", out, "model", "subtransformer.hatm");
      return { bytes: summary.bytes, params: summary.params, model_sha256: model.sha256 };
    },
  };
}

export const FinetuneParams = z.strictObject({
  supernet: z.string().min(1).describe("a done train job: the inherited weights and the tokenizer"),
  arch: archField,
  dataset: z.string().min(1),
  scratch: z.boolean().optional().describe("train from random weights instead of the inherited ones"),
  distill: z.boolean().optional().describe("token-level distillation from the SuperTransformer's largest SubTransformer (its top-5 tokens)"),
  distill_weight: z.number().min(0).max(1).optional().describe("the distillation term's weight (default 0.5)"),
  ...TRAINING_OPTIONS,
}).refine(...oneBudget).refine((p) => !(p.distill && p.scratch), { message: "distill needs the inherited weights: not with scratch", path: ["distill"] });
export type FinetuneParams = z.infer<typeof FinetuneParams>;

export function finetuneKind(ctx: ServerContext): JobKind<FinetuneParams> {
  return {
    kind: "finetune",
    summary: "train one SubTransformer from its inherited weights (or from scratch) on a dataset (hat train --arch); artifact `model`",
    params: FinetuneParams,
    exclusive: true,
    prepare(p) {
      const supernet = doneJob(ctx, p.supernet, "supernet", "train", "model");
      datasetFiles(ctx, p.dataset);
      return { ...p, arch: checkArch(p.arch, supernet, !p.scratch) };
    },
    async run(p, ctl) {
      const supernet = doneJob(ctx, p.supernet, "supernet", "train", "model");
      const d = datasetFiles(ctx, p.dataset);
      const out = join(ctl.dir, "finetuned.hatm");
      if (existsSync(`${out}.ckpt`)) ctl.log("resumed from checkpoint finetuned.hatm.ckpt");
      const summary = await runJob(ctl, {
        kind: "finetune", data: trainData(d), arch: checked(p.arch), init: p.scratch ? undefined : supernet.file,
        settings: { ...trainSettings(p, out), distill: p.distill ? { weight: p.distill_weight } : undefined },
      });
      const model = ctl.artifact("model", out, "model", "finetuned.hatm");
      delete summary.out;
      return { ...summary, mode: p.scratch ? "scratch" : "finetune", model_sha256: model.sha256 };
    },
  };
}
