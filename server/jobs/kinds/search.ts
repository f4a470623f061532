/**
 * The `search` job: search/pipeline.ts runSearch (what `hat search` runs) in the job child, on a
 * trained SuperTransformer (a train job) with a latency predictor (a predictor job), then the
 * winner exported, optionally fine-tuned, scored with BLEU on the dataset's test split, and the
 * HTML report. The params are checked once, here at POST (the constraint by the schema); the spec
 * carries them to runSearch as they are. Starts over after a restart.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { SEARCH_DEFAULTS } from "../../../search/defaults.js";
import type { ServerContext } from "../../context.js";
import { now } from "../../db.js";
import { datasetFiles } from "../../datasets.js";
import { badRequest } from "../../http.js";
import type { JobControl, JobKind, JobRecord } from "../types.js";
import type { MeasureRequest, ParentMessage } from "../spec.js";
import { DeviceClass } from "../../../runtime/fleet-protocol.js";
import { QUANTS, type Quant, type Protocol } from "../../../runtime/protocol.js";
import { checkPredictorVocab, doneJob, predictorData, predictorProtocol, runJob, textFiles } from "./common.js";

const E = SEARCH_DEFAULTS.evolution, F = SEARCH_DEFAULTS.finetune;

/** How long a round of the closed loop waits for the agents' measurements, by default. */
export const VERIFY_TIMEOUT_S = 900;

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
  finetune_distill: z.boolean().optional().describe("fine-tune with token-level distillation from the SuperTransformer's largest SubTransformer (its top-5 tokens)"),
  distill_weight: z.number().min(0).max(1).optional().describe("the distillation term's weight (default 0.5)"),
  lr: z.number().positive().max(1).optional(),
  max_tokens: z.number().int().positive().optional(),
  dropout: z.number().min(0).lt(1).optional(),
  warmup: z.number().int().min(0).optional(),
  bleu: z.boolean().optional().describe("default true when the dataset has a test split"),
  bleu_max: int(1).optional(),
  valid_max: int(1).optional(),
  verify: z.number().int().min(0).max(20).optional().describe(`the closed loop: candidates measured per round on the agents of the predictor's device class before the winner is declared (default ${SEARCH_DEFAULTS.verify.k}; 0: none)`),
  verify_rounds: z.number().int().min(1).max(10).optional().describe(`rounds of the closed loop at most (default ${SEARCH_DEFAULTS.verify.rounds})`),
  verify_timeout_s: z.number().positive().max(86_400).optional().describe(`how long a round waits for its measurements (default ${VERIFY_TIMEOUT_S})`),
  device_class: DeviceClass.optional().describe("the agents that measure the candidates (default: the class of the predictor's campaign)"),
  threads: z.number().int().min(1).max(16).optional().describe("the threads the deployed model runs on (default 1): the predictor must have learnt latencies on that many threads (its campaign's protocol.threads), else a 400 protocol_mismatch"),
  quant: z.enum(QUANTS).optional().describe("the form the deployed model runs (default f32; int8 products, or a quantized file's form linear8, kmeans8, kmeans4): the predictor must have learnt latencies of these products (its campaign's protocol.quant), else a 400 protocol_mismatch; the closed loop measures them"),
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
    const learnt = predictorProtocol(predictor.file); // read once: vocabulary, products, threads
    checkPredictorVocab(learnt, p.predictor, supernet, p.supernet);
    // the predictor learnt latencies of the products the deployment runs (docs/latency.md), else it predicts another model's
    const learntQuant = learnt?.quant, quant = p.quant ?? "f32";
    if (learntQuant !== undefined && learntQuant !== quant) {
      throw badRequest(`quant: ${quant}, but the predictor ${p.predictor} learnt latencies of ${learntQuant} products: run a campaign with "protocol": {"quant": "${quant}"} and fit on it, or search with "quant": "${learntQuant}"`, "protocol_mismatch");
    }
    const learntThreads = learnt?.threads ?? 1, threads = p.threads ?? 1;
    if (learntThreads !== threads) {
      throw badRequest(`threads: ${threads}, but the predictor ${p.predictor} learnt latencies on ${learntThreads} thread${learntThreads === 1 ? "" : "s"}: run a campaign with "protocol": {"threads": ${threads}} and fit on it, or search with "threads": ${learntThreads}`, "protocol_mismatch");
    }
    const fitted = predictorData(ctx, predictor.job);
    if (p.device_class !== undefined && fitted.deviceClass !== undefined && p.device_class !== fitted.deviceClass) {
      throw badRequest(`device_class: ${p.device_class}, but the predictor ${p.predictor} learnt the latencies of class ${fitted.deviceClass}: its candidates would be measured on another device than the one predicted`, "protocol_mismatch");
    }
    return { supernet, predictor, data, learnt, ...fitted };
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
      const { supernet, predictor, data, learnt, files, deviceClass: campaignClass } = inputs(p);
      const deviceClass = p.device_class ?? campaignClass;
      const k = p.verify ?? SEARCH_DEFAULTS.verify.k;
      if (k > 0 && !deviceClass) ctl.log("verify: the predictor was not fitted on a campaign, so its device class is unknown: the winner is not measured (give device_class)");
      const verify = k > 0 && deviceClass ? { k, rounds: p.verify_rounds ?? SEARCH_DEFAULTS.verify.rounds, data: files, refitDir: ctl.dir, where: `the agents of class ${deviceClass}` } : undefined;
      const finetune = p.finetune_minutes !== undefined || p.finetune_steps !== undefined;
      const bleu = p.bleu !== false && data.test !== undefined;
      const file = (name: string) => join(ctl.dir, name);
      const summary = await runJob(ctl, {
        kind: "search",
        options: {
          supernet: supernet.file, predictors: [predictor.file], latencyMs: [p.latency_ms], quant: p.quant ?? "f32", threads: p.threads ?? 1,
          valid: textFiles(data.valid), validMax: p.valid_max ?? SEARCH_DEFAULTS.validMax,
          evolution: {
            generations: p.generations ?? E.generations, population: p.population ?? E.population, parents: p.parents ?? E.parents,
            mutations: p.mutations ?? E.mutations, crossovers: p.crossovers ?? E.crossovers, mutationProb: E.mutationProb, seed: p.seed ?? E.seed,
          },
          randomBaseline: p.random_baseline !== false,
          export: file("winner.hatm"),
          finetune: finetune ? {
            out: file("finetuned.hatm"), mode: "finetune", train: textFiles(data.train), steps: p.finetune_steps, minutes: p.finetune_minutes,
            // left out: sized by the budget's recipe (finetune_minutes) or the defaults
            maxTokens: p.max_tokens, lr: p.lr, warmup: p.warmup, dropout: p.dropout ?? F.dropout,
            distill: p.finetune_distill ? { weight: p.distill_weight } : undefined,
          } : undefined,
          bleu: bleu ? { test: textFiles(data.test!), max: p.bleu_max } : undefined,
          out: file("arch.json"), record: file("search.json"), report: file("report.html"),
          verify,
        },
      }, verify ? { onMeasure: (m) => measureOnFleet(ctx, ctl, { deviceClass: deviceClass!, supernet: p.supernet, protocol: learnt, quant: p.quant ?? "f32", timeoutS: p.verify_timeout_s ?? VERIFY_TIMEOUT_S }, m) } : undefined);
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

/** Agents of a class seen within the online window (server/fleet/enrol.ts's rule). */
function onlineAgents(ctx: ServerContext, deviceClass: string): number {
  const windowMs = (2 * ctx.config.maxWaitSeconds + ctx.config.leaseSeconds) * 1000;
  return (ctx.db.prepare(`SELECT COUNT(*) AS n FROM agents WHERE device_class = ? AND revoked_at IS NULL AND last_seen_at IS NOT NULL AND last_seen_at >= ?`)
    .get(deviceClass, now() - windowMs) as { n: number }).n;
}

/**
 * A round of the closed loop on the fleet (docs/method.md §11): the candidates go to the agents
 * of the class as a campaign of these architectures, measured with the predictor's protocol; the
 * answer is the campaign's dataset. No agent online, a failed campaign, or no rows within the
 * timeout: an error (the search goes on, its winner unverified). Cancelling the search cancels it.
 */
async function measureOnFleet(ctx: ServerContext, ctl: JobControl, o: { deviceClass: string; supernet: string; protocol?: Protocol; quant: Quant; timeoutS: number }, m: MeasureRequest): Promise<Omit<ParentMessage, "type" | "id">> {
  const online = onlineAgents(ctx, o.deviceClass);
  if (online === 0) return { error: `no agent of class ${o.deviceClass} is online to measure the candidates` };
  const { build: _build, keep: _keep, ...protocol } = o.protocol ?? {};
  let job: JobRecord;
  try {
    // the search's products (the predictor's, when it says: checked at POST), also for a predictor that does not say its protocol
    job = ctx.jobs.create("campaign", { device_class: o.deviceClass, supernet: o.supernet, archs: m.archs, protocol: { ...protocol, quant: o.quant } });
  } catch (e) {
    return { error: `the candidates' campaign was refused: ${(e as Error).message}` };
  }
  ctl.log(`verify round ${m.round + 1}: campaign ${job.id} measures ${m.archs.length} candidate(s) on the ${online} online agent(s) of class ${o.deviceClass}`);
  let timer: NodeJS.Timeout | undefined;
  const stop = new Promise<"timeout" | "aborted">((res) => {
    timer = setTimeout(() => res("timeout"), o.timeoutS * 1000);
    ctl.signal.addEventListener("abort", () => res("aborted"), { once: true });
  });
  const r = await Promise.race([ctx.jobs.settled(job.id), stop]);
  clearTimeout(timer);
  if (r === "timeout" || r === "aborted") {
    try { ctx.jobs.cancel(job.id); } catch { /* it ended meanwhile */ }
    return { error: r === "timeout" ? `campaign ${job.id} had no rows for every candidate within ${o.timeoutS} s (verify_timeout_s)` : "the search was stopped" };
  }
  const sha = r.artifacts.dataset;
  if (r.state !== "done" || !sha || !ctx.artifacts.has(sha)) return { error: `campaign ${job.id} ${r.state}${r.error ? `: ${r.error}` : ""}` };
  return { dataset: resolve(ctx.artifacts.path(sha)) };
}
