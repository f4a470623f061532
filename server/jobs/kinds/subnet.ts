/**
 * Jobs on one SubTransformer of a trained SuperTransformer (a train job):
 *   export   — `hat export`: its compact model with the inherited weights (only its slices);
 *   finetune — `hat train --arch [--init]`: trained further from the inherited weights (or from
 *              scratch with `scratch: true`) on a dataset; checkpoints like `train`, so a restarted
 *              server resumes it.
 * Both leave the artifact `model`, deployable with POST /v1/deployments {model: {job}}.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { validateArch } from "../../../runtime/arch.js";
import type { ServerContext } from "../../context.js";
import { datasetFiles } from "../../datasets.js";
import { badRequest } from "../../http.js";
import type { JobKind } from "../types.js";
import { doneJob, hatJson, jobJson } from "./common.js";
import { oneBudget, TRAINING_OPTIONS, trainingFlags } from "./train.js";

const archField = z.record(z.string(), z.unknown()).describe("a SubTransformer of the supernet's space (the project's arch JSON)");

function checkArch(arch: unknown): void {
  try {
    validateArch(arch);
  } catch (e) {
    throw badRequest(`arch: ${(e as Error).message}`, "invalid_body");
  }
}

export const ExportParams = z.strictObject({ supernet: z.string().min(1).describe("a done train job"), arch: archField });
export type ExportParams = z.infer<typeof ExportParams>;

export function exportKind(ctx: ServerContext): JobKind<ExportParams> {
  return {
    kind: "export",
    summary: "a SubTransformer of a trained SuperTransformer as a compact model (hat export); artifact `model`",
    params: ExportParams,
    exclusive: false, // seconds of I/O
    prepare(p) {
      doneJob(ctx, p.supernet, "supernet", "train", "model");
      checkArch(p.arch);
      return p;
    },
    async run(p, ctl) {
      const supernet = doneJob(ctx, p.supernet, "supernet", "train", "model");
      const out = join(ctl.dir, "subtransformer.hatm");
      const summary = await hatJson(ctl, ["export", "--model", supernet.file, "--arch", jobJson(ctl, "arch.json", p.arch), "--out", out]);
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
  ...TRAINING_OPTIONS,
}).refine(...oneBudget);
export type FinetuneParams = z.infer<typeof FinetuneParams>;

export function finetuneKind(ctx: ServerContext): JobKind<FinetuneParams> {
  return {
    kind: "finetune",
    summary: "train one SubTransformer from its inherited weights (or from scratch) on a dataset (hat train --arch); artifact `model`",
    params: FinetuneParams,
    exclusive: true,
    prepare(p) {
      doneJob(ctx, p.supernet, "supernet", "train", "model");
      datasetFiles(ctx, p.dataset);
      checkArch(p.arch);
      return p;
    },
    async run(p, ctl) {
      const supernet = doneJob(ctx, p.supernet, "supernet", "train", "model");
      const d = datasetFiles(ctx, p.dataset);
      const out = join(ctl.dir, "finetuned.hatm");
      if (existsSync(`${out}.ckpt`)) ctl.log("resumed from checkpoint finetuned.hatm.ckpt");
      const summary = await hatJson(ctl, [
        "train", "--arch", jobJson(ctl, "arch.json", p.arch), ...(p.scratch ? [] : ["--init", supernet.file]),
        "--src", d.train.src, "--tgt", d.train.tgt, "--valid-src", d.valid.src, "--valid-tgt", d.valid.tgt, "--out", out,
        ...trainingFlags(p),
      ]);
      const model = ctl.artifact("model", out, "model", "finetuned.hatm");
      delete summary.out;
      return { ...summary, mode: p.scratch ? "scratch" : "finetune", model_sha256: model.sha256 };
    },
  };
}
