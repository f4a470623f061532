/**
 * The `study` job: search/study-run.ts runStudy (what `hat study` runs, docs/method.md §12) in the
 * job child, on a trained SuperTransformer (a train job) and, for the latency and evolution
 * studies, the device's latency predictor (a predictor job); the dataset's train split fine-tunes,
 * its valid split scores, its test split gives BLEU. Artifacts `record` (the JSON) and `report`
 * (the HTML with its plots). The latency study measures on the server's machine, so its predictor
 * must be of this machine (or name none). Starts over after a restart.
 */
import { join } from "node:path";
import { z } from "zod";
import { SEARCH_DEFAULTS } from "../../../search/defaults.js";
import type { ServerContext } from "../../context.js";
import { datasetFiles } from "../../datasets.js";
import type { JobKind } from "../types.js";
import { checkPredictorVocab, doneJob, predictorProtocol, runJob, textFiles } from "./common.js";

const E = SEARCH_DEFAULTS.evolution;
const int = (min: number) => z.number().int().min(min).max(1_000_000);

export const StudyParams = z.strictObject({
  study: z.enum(["proxy", "latency", "evolution", "all"]).describe("proxy: Table 5 / Fig 11; latency: Fig 7 and Table 4; evolution: Fig 9; all: the three"),
  supernet: z.string().min(1).max(200).describe("a done train job"),
  predictor: z.string().min(1).max(200).optional().describe("a done predictor job of this machine (latency, evolution, all)"),
  dataset: z.string().min(1).max(200).describe("train split: fine-tuning; valid: losses; test: BLEU"),
  finetune_steps: z.number().int().positive().max(1_000_000).optional(),
  finetune_minutes: z.number().positive().max(7 * 24 * 60).optional(),
  lr: z.number().positive().max(1).optional(), max_tokens: z.number().int().positive().max(1_000_000).optional(),
  warmup: z.number().int().min(0).max(1_000_000).optional(), dropout: z.number().min(0).lt(1).optional(),
  archs: z.number().int().min(3).max(100).optional().describe("SubTransformers of the proxy check (default 8)"),
  latency_ms: z.array(z.number().positive().max(1e6)).min(1).max(20).optional().describe("constraints of the latency study (default three over the range the space reaches); the evolution study takes the middle one"),
  seeds: z.array(z.number().int().min(0).max(2 ** 31 - 1)).min(1).max(20).optional().describe("seeds of the evolution study (default [1, 2, 3])"),
  generations: int(1).optional(), population: int(1).optional(), parents: int(1).optional(), mutations: int(0).optional(), crossovers: int(0).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  valid_max: int(1).optional(), bleu_max: int(1).optional(),
  measure_runs: z.number().int().min(1).max(10000).optional(), measure_warmup: z.number().int().min(0).max(1000).optional(),
})
  .refine((p) => p.finetune_minutes === undefined || p.finetune_steps === undefined, { message: "give finetune_minutes or finetune_steps, not both", path: ["finetune_minutes"] })
  .refine((p) => p.study === "evolution" || p.finetune_minutes !== undefined || p.finetune_steps !== undefined, { message: "give finetune_steps or finetune_minutes: the same budget for every model", path: ["finetune_steps"] })
  .refine((p) => p.study === "proxy" || p.predictor !== undefined, { message: "the latency and evolution studies need the device's predictor job", path: ["predictor"] })
  .refine((p) => (p.parents ?? E.parents) <= (p.population ?? E.population), { message: "cannot exceed population", path: ["parents"] });
export type StudyParams = z.infer<typeof StudyParams>;

export function studyKind(ctx: ServerContext): JobKind<StudyParams> {
  const inputs = (p: StudyParams) => {
    const supernet = doneJob(ctx, p.supernet, "supernet", "train", "model");
    const predictor = p.predictor !== undefined ? doneJob(ctx, p.predictor, "predictor", "predictor", "predictor") : undefined;
    const data = datasetFiles(ctx, p.dataset);
    if (predictor) checkPredictorVocab(predictorProtocol(predictor.file), p.predictor!, supernet, p.supernet);
    return { supernet, predictor, data };
  };
  return {
    kind: "study",
    summary: "HAT's evidence on a dataset (hat study): the proxy check, BLEU against measured latency with scaled baselines, evolution against random search; artifacts `record`, `report`",
    params: StudyParams,
    exclusive: true,
    prepare(p) {
      inputs(p);
      return p;
    },
    async run(p, ctl) {
      if (ctl.resumed) ctl.log("a study is not resumable: it starts over");
      const { supernet, predictor, data } = inputs(p);
      const file = (name: string) => join(ctl.dir, name);
      const summary = await runJob(ctl, {
        kind: "study",
        options: {
          study: p.study, supernet: supernet.file, predictor: predictor?.file,
          train: textFiles(data.train), valid: textFiles(data.valid), test: data.test && textFiles(data.test),
          finetune: { steps: p.finetune_steps, minutes: p.finetune_minutes, maxTokens: p.max_tokens, lr: p.lr, warmup: p.warmup, dropout: p.dropout }, archs: p.archs, latencyMs: p.latency_ms, seeds: p.seeds,
          evolution: {
            generations: p.generations ?? E.generations, population: p.population ?? E.population, parents: p.parents ?? E.parents,
            mutations: p.mutations ?? E.mutations, crossovers: p.crossovers ?? E.crossovers, mutationProb: E.mutationProb, seed: p.seed ?? E.seed,
          },
          validMax: p.valid_max, bleuMax: p.bleu_max, seed: p.seed,
          measure: { ...(p.measure_runs !== undefined && { runs: p.measure_runs }), ...(p.measure_warmup !== undefined && { warmup: p.measure_warmup }) },
          record: file("study.json"), report: file("report.html"),
        },
      });
      const record = ctl.artifact("record", file("study.json"), "record", "study.json");
      const report = ctl.artifact("report", file("report.html"), "report", "report.html");
      return { ...summary, record_sha256: record.sha256, report_sha256: report.sha256 };
    },
  };
}
