/**
 * The `search` job: search/pipeline.ts runSearch (what `hat search` runs) in the job child, on a
 * trained SuperTransformer (a train job) with a latency predictor (a predictor job), then the
 * winner exported, optionally fine-tuned, scored with BLEU on the dataset's test split, and the
 * HTML report. The params are checked once, here at POST (the constraint by the schema); the spec
 * carries them to runSearch as they are. Starts over after a restart.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { SEARCH_DEFAULTS } from "../../../search/defaults.js";
import type { ServerContext } from "../../context.js";
import { datasetFiles } from "../../datasets.js";
import { badRequest } from "../../http.js";
import type { JobKind } from "../types.js";
import { doneJob, predictorProtocol, runJob, supernetVocab, textFiles } from "./common.js";

const E = SEARCH_DEFAULTS.evolution, F = SEARCH_DEFAULTS.finetune;

const int = (min: number) => z.number().int().min(min).max(1_000_000);

export const SearchParams = z.strictObject({
  supernet: z.string().min(1).describe("a done train job"),
  predictor: z.string().min(1).describe("a done predictor job"),
  latency_ms: z.number().positive(),
  dataset: z.string().min(1).describe("valid split: fitness; train: fine-tuning; test: BLEU"),
  generations: int(1).optional(), population: int(1).optional(), parents: int(1).optional(),
  mutations: int(0).optional(), crossovers: int(0).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  random_baseline: z.boolean().optional().describe("default true"),
  finetune_minutes: z.number().positive().max(7 * 24 * 60).optional(),
  finetune_steps: z.number().int().positive().optional(),
  lr: z.number().positive().max(1).optional(),
  max_tokens: z.number().int().positive().optional(),
  dropout: z.number().min(0).lt(1).optional(),
  warmup: z.number().int().min(0).optional(),
  bleu: z.boolean().optional().describe("default true when the dataset has a test split"),
  bleu_max: int(1).optional(),
  valid_max: int(1).optional(),
})
  .refine((p) => p.finetune_minutes === undefined || p.finetune_steps === undefined, { message: "give finetune_minutes or finetune_steps, not both", path: ["finetune_minutes"] })
  .refine((p) => (p.parents ?? E.parents) <= (p.population ?? E.population), { message: "cannot exceed population", path: ["parents"] });
export type SearchParams = z.infer<typeof SearchParams>;

export function searchKind(ctx: ServerContext): JobKind<SearchParams> {
  const inputs = (p: SearchParams) => {
    const supernet = doneJob(ctx, p.supernet, "supernet", "train", "model");
    const predictor = doneJob(ctx, p.predictor, "predictor", "predictor", "predictor");
    const data = datasetFiles(ctx, p.dataset);
    if (p.bleu === true && !data.test) throw badRequest(`bleu: dataset ${p.dataset} has no test split to score`, "invalid_body");
    // the predictor learnt latencies at the supernet's vocabulary (docs/method.md §4), else it predicts another model
    const learnt = predictorProtocol(predictor.file)?.vocab, vocab = supernetVocab(supernet);
    if (learnt !== undefined && learnt !== vocab) {
      throw badRequest(`predictor: job ${p.predictor} learnt latencies measured at vocabulary ${learnt}, but the supernet ${p.supernet} has vocabulary ${vocab}: run a campaign with "supernet": "${p.supernet}" and fit on it`, "protocol_mismatch");
    }
    return { supernet, predictor, data };
  };
  return {
    kind: "search",
    summary: "hardware-aware evolutionary search under a latency constraint, then export, fine-tune, BLEU and report (hat search); artifacts `model`, `arch`, `record`, `report`",
    params: SearchParams,
    exclusive: true,
    prepare(p) {
      inputs(p);
      return p;
    },
    async run(p, ctl) {
      if (ctl.resumed) ctl.log("a search is not resumable: it starts over");
      const { supernet, predictor, data } = inputs(p);
      const finetune = p.finetune_minutes !== undefined || p.finetune_steps !== undefined;
      const bleu = p.bleu !== false && data.test !== undefined;
      const file = (name: string) => join(ctl.dir, name);
      const summary = await runJob(ctl, {
        kind: "search",
        options: {
          supernet: supernet.file, predictors: [predictor.file], latencyMs: [p.latency_ms],
          valid: textFiles(data.valid), validMax: p.valid_max ?? SEARCH_DEFAULTS.validMax,
          evolution: {
            generations: p.generations ?? E.generations, population: p.population ?? E.population, parents: p.parents ?? E.parents,
            mutations: p.mutations ?? E.mutations, crossovers: p.crossovers ?? E.crossovers, mutationProb: E.mutationProb, seed: p.seed ?? E.seed,
          },
          randomBaseline: p.random_baseline !== false,
          export: file("winner.hatm"),
          finetune: finetune ? {
            out: file("finetuned.hatm"), mode: "finetune", train: textFiles(data.train), steps: p.finetune_steps, minutes: p.finetune_minutes,
            maxTokens: p.max_tokens ?? F.maxTokens, lr: p.lr ?? F.lr, warmup: p.warmup ?? F.warmup, dropout: p.dropout ?? F.dropout,
          } : undefined,
          bleu: bleu ? { test: textFiles(data.test!), max: p.bleu_max } : undefined,
          out: file("arch.json"), record: file("search.json"), report: file("report.html"),
        },
      });
      const model = finetune && existsSync(file("finetuned.hatm"))
        ? ctl.artifact("model", file("finetuned.hatm"), "model", "finetuned.hatm")
        : ctl.artifact("model", file("winner.hatm"), "model", "winner.hatm");
      const arch = ctl.artifact("arch", file("arch.json"), "arch", "arch.json");
      const record = ctl.artifact("record", file("search.json"), "record", "search.json");
      const report = ctl.artifact("report", file("report.html"), "report", "report.html");
      // paths in the job's directory mean nothing once it ends: the artifacts replace them
      delete summary.exported;
      if (summary.finetuned && typeof summary.finetuned === "object") delete (summary.finetuned as Record<string, unknown>).path;
      return {
        ...summary,
        model_sha256: model.sha256, model_kind: model.name === "finetuned.hatm" ? "finetuned" : "inherited",
        arch_sha256: arch.sha256, record_sha256: record.sha256, report_sha256: report.sha256,
      };
    },
  };
}
