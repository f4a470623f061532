/**
 * The `predictor` job: a latency predictor fitted on a campaign's latency dataset (or on latency
 * CSVs already stored as artifacts), latency/fit-file.ts fitPredictorFile in the job child, what
 * `hat predictor fit` runs. Starts over after a restart (a fit takes minutes).
 */
import { join, resolve } from "node:path";
import { z } from "zod";
import { FEATURE_KINDS, type FeatureKind } from "../../../latency/features.js";
import { MIN_TRAIN_ROWS } from "../../../latency/transfer.js";
import { SHA256 } from "../../artifacts.js";
import type { ServerContext } from "../../context.js";
import { badRequest } from "../../http.js";
import type { JobKind } from "../types.js";
import { doneJob, runJob, spaceOf } from "./common.js";

// what `hat predictor fit --features` takes
const FEATURES = [...FEATURE_KINDS, "auto"] as unknown as [string, ...string[]];

export const PredictorParams = z.strictObject({
  campaign: z.string().min(1).optional().describe("a done campaign job: its `dataset` artifact"),
  data: z.array(z.string().regex(SHA256, "a sha256 (64 lowercase hex digits)")).min(1).max(100).optional().describe("latency CSVs stored as artifacts"),
  features: z.enum(FEATURES).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  prior: z.string().min(1).max(100).optional().describe("a done predictor job (another device's, or another task's): its predictor is transferred from train_rows rows"),
  train_rows: z.number().int().min(MIN_TRAIN_ROWS).max(1_000_000).optional().describe("fit on this many rows drawn (seeded by seed) from the data, evaluate on the rest (hat predictor fit --train-rows)"),
}).refine((p) => (p.campaign === undefined) !== (p.data === undefined), { message: "give exactly one of campaign and data", path: ["campaign"] })
  .refine((p) => p.prior === undefined || p.train_rows !== undefined, { message: "prior needs train_rows (how many rows of the data to fit on)", path: ["train_rows"] });
export type PredictorParams = z.infer<typeof PredictorParams>;

export function predictorKind(ctx: ServerContext): JobKind<PredictorParams> {
  const inputs = (p: PredictorParams): { files: string[]; space?: unknown } => {
    if (p.campaign !== undefined) {
      const c = doneJob(ctx, p.campaign, "campaign", "campaign", "dataset");
      return { files: [c.file], space: (c.job.params as { space?: unknown } | null)?.space };
    }
    return {
      files: p.data!.map((sha, i) => {
        if (!ctx.artifacts.has(sha)) throw badRequest(`data[${i}]: no artifact ${sha}`, "missing_artifact");
        return resolve(ctx.artifacts.path(sha));
      }),
    };
  };
  return {
    kind: "predictor",
    summary: "fit a latency predictor on a campaign's dataset (hat predictor fit); artifact `predictor`",
    params: PredictorParams,
    exclusive: true,
    prepare(p) {
      inputs(p);
      if (p.prior !== undefined) doneJob(ctx, p.prior, "prior", "predictor", "predictor");
      return p;
    },
    async run(p, ctl) {
      if (ctl.resumed) ctl.log("a fit is not resumable: it starts over");
      const { files, space } = inputs(p);
      // the campaign's space (a built-in name or an object: its schema) bounds the predictor:
      // predictions outside it are refused later
      const out = join(ctl.dir, "predictor.json");
      const report = await runJob(ctl, {
        kind: "predictor",
        options: {
          data: files, out, space: space !== undefined && space !== null ? spaceOf(space as string | object) : undefined,
          features: p.features as FeatureKind | "auto" | undefined, seed: p.seed,
        },
        ...(p.train_rows !== undefined ? { fewShot: { trainRows: p.train_rows, ...(p.prior !== undefined ? { prior: doneJob(ctx, p.prior, "prior", "predictor", "predictor").file } : {}) } } : {}),
      });
      const predictor = ctl.artifact("predictor", out, "predictor", "predictor.json");
      delete report.out;
      return { ...report, ...(p.prior !== undefined ? { prior_job: p.prior } : {}), predictor_sha256: predictor.sha256 };
    },
  };
}
