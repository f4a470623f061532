/**
 * The quantize job: a done job's model (a train, export, finetune or search job's `model`
 * artifact) with its weight matrices quantized, as `hat quantize`; artifact `model`, deployable
 * with POST /v1/deployments {model: {job}} like any other (the agent loads it unchanged). With
 * `dataset` and `finetune_steps` or `finetune_minutes`: k-means with its centroids fine-tuned on
 * that dataset (train/quant-aware.ts, `hat quantize --finetune-*`), one at a time with the other
 * training jobs.
 */
import { join, resolve } from "node:path";
import { z } from "zod";
import { QUANT_METHODS } from "../../../runtime/quant.js";
import { QUANT_FINETUNE_DEFAULTS as Q } from "../../../train/defaults.js";
import type { ServerContext } from "../../context.js";
import { datasetFiles } from "../../datasets.js";
import { badRequest } from "../../http.js";
import type { JobKind } from "../types.js";
import { checkArch, checked, runJob, trainData } from "./common.js";

const finetuning = (p: { finetune_steps?: number; finetune_minutes?: number }) => p.finetune_steps !== undefined || p.finetune_minutes !== undefined;

export const QuantizeParams = z.strictObject({
  model: z.string().min(1).describe("a done job with a model artifact (train, export, finetune, search)"),
  bits: z.union([z.literal(4), z.literal(8)]).describe("4 or 8"),
  method: z.enum(QUANT_METHODS as [string, ...string[]]).optional().describe("kmeans (default, HAT's) or linear"),
  embed_bits: z.union([z.literal(4), z.literal(8), z.literal(32)]).optional().describe("the shared embedding's bits (default bits; 32 keeps it f32)"),
  dataset: z.string().min(1).optional().describe("with finetune_steps or finetune_minutes: the corpus the centroids are fine-tuned on"),
  finetune_steps: z.number().int().positive().max(1_000_000).optional(),
  finetune_minutes: z.number().positive().max(7 * 24 * 60).optional(),
  arch: z.record(z.string(), z.unknown()).optional().describe("fine-tuning a SuperTransformer: its SubTransformer quantized (default its largest)"),
  lr: z.number().positive().max(1).optional().describe(`fine-tuning's peak rate (default ${Q.lr})`),
  warmup: z.number().int().min(0).optional(),
  max_tokens: z.number().int().positive().optional(),
  dropout: z.number().min(0).lt(1).optional(),
  threads: z.number().int().min(1).max(1024).optional(),
  distill: z.boolean().optional().describe("fine-tuning: the f32 model as the teacher of its quantized copy (top-5 token-level distillation, weight 0.5)"),
}).refine((p) => !(p.finetune_steps !== undefined && p.finetune_minutes !== undefined), { message: "give at most one of finetune_steps and finetune_minutes", path: ["finetune_steps"] })
  .refine((p) => finetuning(p) === (p.dataset !== undefined), { message: "dataset goes with finetune_steps or finetune_minutes (fine-tuning), and they with it", path: ["dataset"] })
  .refine((p) => !finetuning(p) || (p.method ?? "kmeans") === "kmeans", { message: "fine-tuning keeps k-means assignments: method kmeans", path: ["method"] })
  .refine((p) => finetuning(p) || ["arch", "lr", "warmup", "max_tokens", "dropout", "threads", "distill"].every((k) => p[k as keyof typeof p] === undefined),
    { message: "arch, lr, warmup, max_tokens, dropout, threads and distill are fine-tuning's: give finetune_steps or finetune_minutes", path: ["finetune_steps"] });
export type QuantizeParams = z.infer<typeof QuantizeParams>;

/** The model artifact of the done job `id`, else a 400 naming the field. */
function modelOf(ctx: ServerContext, id: string): string {
  const job = ctx.jobs.get(id);
  if (!job) throw badRequest(`model: no job ${JSON.stringify(id)}`, "unknown_job");
  if (job.state !== "done") throw badRequest(`model: job ${id} is ${job.state}, not done`, "job_not_done");
  const sha256 = job.artifacts.model;
  if (!sha256 || !ctx.artifacts.has(sha256)) throw badRequest(`model: job ${id} (${job.kind}) has no model artifact`, "missing_artifact");
  return resolve(ctx.artifacts.path(sha256));
}

/** The arch param of a train job's SuperTransformer (common.ts checkArch), or a 400 naming the field. */
function archOfTrainJob(ctx: ServerContext, arch: unknown, id: string): Record<string, unknown> {
  const job = ctx.jobs.get(id)!;
  if (job.kind !== "train") throw badRequest(`arch: job ${id} (${job.kind}) made a compact SubTransformer, its own architecture (no arch)`, "invalid_body");
  return checkArch(arch, { job }, true);
}

export function quantizeKind(ctx: ServerContext): JobKind<QuantizeParams> {
  return {
    kind: "quantize",
    summary: "a done job's model with its weight matrices quantized to 4 or 8 bits, k-means or linear (hat quantize); artifact `model`",
    params: QuantizeParams,
    exclusive: finetuning, // plain: seconds of CPU on a demo model; fine-tuning: a training run
    prepare(p) {
      modelOf(ctx, p.model);
      if (p.dataset !== undefined) datasetFiles(ctx, p.dataset);
      if (p.arch !== undefined) return { ...p, arch: archOfTrainJob(ctx, p.arch, p.model) };
      return p;
    },
    async run(p, ctl) {
      const out = join(ctl.dir, "quantized.hatm");
      const method = (p.method ?? "kmeans") as "kmeans" | "linear";
      const options = { bits: p.bits, method, embedBits: p.embed_bits };
      const finetune = p.dataset !== undefined ? {
        data: trainData(datasetFiles(ctx, p.dataset)), steps: p.finetune_steps, minutes: p.finetune_minutes, arch: p.arch && checked(p.arch),
        lr: { maxLr: p.lr ?? Q.lr, warmup: p.warmup ?? Q.warmup }, maxTokens: p.max_tokens ?? Q.maxTokens, dropout: p.dropout ?? Q.dropout, threads: p.threads, distill: p.distill ? {} : undefined,
      } : undefined;
      const r = await runJob(ctl, { kind: "quantize", model: modelOf(ctx, p.model), options, finetune, out });
      const model = ctl.artifact("model", out, "model", "quantized.hatm");
      return {
        method, bits: p.bits, embed_bits: r.embedBits, bytes: r.bytes, f32_bytes: r.f32Bytes, quantized_tensors: r.quantized, rel_rmse: r.relRmse, model_sha256: model.sha256,
        ...(r.finetuned ? { finetuned: r.finetuned } : {}),
      };
    },
  };
}
