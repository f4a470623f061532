/**
 * The quantize job: a done job's model (a train, export, finetune or search job's `model`
 * artifact) with its weight matrices quantized, as `hat quantize`; artifact `model`, deployable
 * with POST /v1/deployments {model: {job}} like any other (the agent loads it unchanged).
 */
import { join, resolve } from "node:path";
import { z } from "zod";
import { QUANT_METHODS } from "../../../runtime/quant.js";
import type { ServerContext } from "../../context.js";
import { badRequest } from "../../http.js";
import type { JobKind } from "../types.js";
import { runJob } from "./common.js";

export const QuantizeParams = z.strictObject({
  model: z.string().min(1).describe("a done job with a model artifact (train, export, finetune, search)"),
  bits: z.union([z.literal(4), z.literal(8)]).describe("4 or 8"),
  method: z.enum(QUANT_METHODS as [string, ...string[]]).optional().describe("kmeans (default, HAT's) or linear"),
});
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

export function quantizeKind(ctx: ServerContext): JobKind<QuantizeParams> {
  return {
    kind: "quantize",
    summary: "a done job's model with its weight matrices quantized to 4 or 8 bits, k-means or linear (hat quantize); artifact `model`",
    params: QuantizeParams,
    exclusive: false, // seconds of CPU on a demo model
    prepare(p) {
      modelOf(ctx, p.model);
      return p;
    },
    async run(p, ctl) {
      const out = join(ctl.dir, "quantized.hatm");
      const method = (p.method ?? "kmeans") as "kmeans" | "linear";
      const r = await runJob(ctl, { kind: "quantize", model: modelOf(ctx, p.model), options: { bits: p.bits, method }, out });
      const model = ctl.artifact("model", out, "model", "quantized.hatm");
      return {
        method, bits: p.bits, bytes: r.bytes, f32_bytes: r.f32Bytes, quantized_tensors: r.quantized, rel_rmse: r.relRmse, model_sha256: model.sha256,
      };
    },
  };
}
