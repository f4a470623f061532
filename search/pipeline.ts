/**
 * The search pipeline, what `hat search` and the server's search job run: HAT's hardware-aware
 * evolutionary search (or NSGA-II's Pareto front) on a trained SuperTransformer with latency
 * predictors, then optionally the winner exported, measured here, fine-tuned or trained from
 * scratch, scored with BLEU, and the record and the self-contained HTML report written.
 *
 * Options are typed and already checked by whoever took them in (the CLI's flags, the server's
 * schema); runSearch checks only what needs its inputs: the files it reads, the spaces, and the
 * feasibility of the constraint.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { DecodedModel } from "../runtime/format.js";
import { readModelFile, writeModelFile } from "../runtime/model-files.js";
import { loadWasm, prepareThreads } from "../runtime/wasm-node.js";
import { HatModel } from "../runtime/model.js";
import { archKey } from "../runtime/arch-features.js";
import { protocolOf, type Quant, type Protocol, type ProtocolRequest } from "../runtime/protocol.js";
import type { Space } from "../runtime/types.js";
import { Bpe } from "../data/bpe.js";
import { tokenizeTexts, type Texts, type TokenPair } from "../data/texts.js";
import type { LatencyRow } from "../latency/dataset.js";
import { Predictor } from "../latency/predictor.js";
import { refitPredictor } from "../latency/refit.js";
import { bleuOfModel, exportWinner, finetuneWinner, measureWinner } from "./after.js";
import { closedLoop, loopSummary, verificationRecord, type CandidateMeasurer, type LoopResult } from "./closed-loop.js";
import type { Device, LatencyModel } from "./constraint.js";
import { evolutionSearch, type EvolutionOptions } from "./evolution.js";
import { CachedLoss, InheritedLoss } from "./fitness.js";
import { nsga2Search } from "./nsga2.js";
import { thisDevice } from "../latency/dataset.js";
import { checkMeasuredHere, checkPredictorQuant, checkPredictorThreads, checkPredictorVocab, checkSpaceCovered, loadPredictorFile, SearchInputError, type LatencySource } from "./predictor-file.js";
import { hereMeasurer } from "./measure-here.js";
import { SearchProblem, type Evaluated, type GenerationStats, type SearchResult } from "./problem.js";
import { randomSearch } from "./random.js";
import { renderReport, runRecord, type SearchRecord, type WinnerRecord } from "./report.js";

export { SEARCH_DEFAULTS } from "./defaults.js";

/** The evolution's settings (NSGA-II and the random baseline take the same). */
export type EvolutionSettings = Required<Pick<EvolutionOptions, "generations" | "population" | "parents" | "mutations" | "crossovers" | "mutationProb" | "seed">>;

/** Fine-tuning (or training from scratch) the winner after the search. */
export interface FinetuneSettings {
  /** The model file written; checkpoints go to `${out}.ckpt`. */
  out: string;
  mode: "finetune" | "scratch";
  train: Texts;
  steps?: number;
  minutes?: number;
  /** Batch, peak rate and warm-up; left out, a time budget's recipe sizes them (train/recipe.ts), else the defaults. */
  maxTokens?: number;
  lr?: number;
  warmup?: number;
  dropout: number;
  /** Token-level knowledge distillation from the SuperTransformer's largest SubTransformer (mode finetune). */
  distill?: { weight?: number; topK?: number };
}

export interface SearchOptions {
  /** The SuperTransformer file (read once). */
  supernet: string;
  /** Latency predictor files, one per device. */
  predictors: string[];
  /** The constraint in ms, one per predictor, same order (with `pareto`: none, or one each). */
  latencyMs: number[];
  /** NSGA-II's loss/latency Pareto front instead of the single-objective search. */
  pareto?: boolean;
  /** Validation sentences: fitness is the inherited loss on the first `validMax` pairs. */
  valid: Texts;
  validMax: number;
  evolution: EvolutionSettings;
  /** Also random search with the same number of evaluations. */
  randomBaseline?: boolean;
  // after the search (single-objective only)
  /** The winner as a compact model with inherited weights, written here. */
  export?: string;
  /**
   * Measure the winner here, with the first predictor's protocol (the statistic it learnt is the
   * one checked); these fields only where the predictor does not say its protocol, and refused
   * when they contradict it. Refused when the predictor is for another machine.
   */
  measure?: Pick<ProtocolRequest, "vocab" | "src_len" | "tgt_len" | "beam" | "runs" | "warmup">;
  /**
   * The products the deployed model will run (the protocol's quant; default "f32"): every
   * predictor must have learnt latencies of these products (refused otherwise, naming both), and
   * measurements here (--measure, the closed loop) run them.
   */
  quant?: Quant;
  /**
   * The threads the deployed model will run on (the protocol's threads; default 1): every
   * predictor must have learnt latencies on that many threads (refused otherwise, naming both),
   * and measurements here run on them.
   */
  threads?: number;
  /**
   * The closed loop (./closed-loop.ts, docs/method.md §11): before the winner is declared, the best
   * `k` feasible candidates are measured on the first device, `rounds` rounds at most, and the
   * winner is the best whose measured latency meets the constraint. Measured by `measurer`, or
   * here with `measure`'s protocol. `data`: the predictor's latency datasets, to refit it with
   * the rows measured (refitted predictors written to `refitDir`; default: beside the record or
   * the arch file, else a temporary directory).
   */
  verify?: { k: number; rounds: number; measurer?: CandidateMeasurer; data?: string[]; refitDir?: string };
  finetune?: FinetuneSettings;
  /** BLEU of the final model on `test` (its first `max` sentences). */
  bleu?: { test: Texts; max?: number };
  // outputs
  /** The winner's arch (with `pareto`, the front) as JSON. */
  out?: string;
  record?: string;
  report?: string;
  log?: (line: string) => void;
  /** A stage's position: a search's generations, fine-tuning's updates. */
  /** Position and, per generation, the numbers behind the line (best_loss, best_ms, evaluations) for the dashboard. */
  onProgress?: (p: { done: number; total: number; message: string; data?: Record<string, number | null> }) => void;
}

export interface SearchRun {
  result: SearchResult;
  random?: SearchResult;
  record: SearchRecord;
  /** The JSON summary (`hat search --json`, the search job's result): snake_case. */
  summary: Record<string, unknown>;
}

function progressLine(method: string, total: number, s: GenerationStats, devices: readonly Device[]): string {
  const lat = s.bestLatency.map((v, i) => `${v.toFixed(2)} ms${devices.length > 1 ? ` (${devices[i].name})` : ""}`).join(", ");
  return `${method} generation ${s.generation + 1}/${total}: best loss ${s.bestLoss.toFixed(4)} at ${lat}, ${s.evaluations} evaluations, ${s.seconds.toFixed(1)} s${s.frontSize !== undefined ? `, front ${s.frontSize}` : ""}`;
}

function writeJson(path: string, obj: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(obj, null, 2) + "\n");
}

async function writeModel(path: string, bytes: Uint8Array): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await writeModelFile(path, bytes);
}

/**
 * The protocol `--measure` measures with: the predictor's own (the workload and the statistic it
 * learnt are the ones checked), on this machine only if the predictor is for it. Runs and warm-up
 * given replace the predictor's (a quicker or a steadier measurement of the same quantity); a
 * workload given (vocab, lengths, beam) applies only where the predictor does not say its
 * protocol, and is refused when it contradicts it.
 */
export function measuredProtocol(s: LatencySource, given: NonNullable<SearchOptions["measure"]>, vocab: number, quant: Quant, threads: number, log: (line: string) => void): Protocol {
  checkMeasuredHere(s, thisDevice(), log);
  const p = s.protocol;
  if (!p) {
    const protocol = protocolOf({ vocab, quant, threads, ...given });
    log(`measure: ${s.path} does not say its protocol; measuring with vocab ${protocol.vocab}, src ${protocol.src_len}, tgt ${protocol.tgt_len}, beam ${protocol.beam}, ${protocol.quant}`);
    return protocol;
  }
  const workload = ["vocab", "src_len", "tgt_len", "beam"] as const;
  const contradicted = workload.filter((k) => given[k] !== undefined && given[k] !== p[k]);
  if (contradicted.length > 0) {
    throw new SearchInputError(`--measure: ${contradicted.map((k) => `${k} ${given[k]}`).join(", ")} against the protocol the predictor ${s.path} learnt (${contradicted.map((k) => `${k} ${p[k]}`).join(", ")}): the latency measured would not be the one it predicts`);
  }
  return protocolOf({ ...(given.runs !== undefined && { runs: given.runs }), ...(given.warmup !== undefined && { warmup: given.warmup }) }, p);
}

/** What the search reads: the predictors, the SuperTransformer (once), its tokenizer and the validation pairs. */
interface Inputs {
  sources: LatencySource[];
  file: DecodedModel;
  space: Space;
  model: HatModel;
  bpe: Bpe;
  validPairs: TokenPair[];
  /** The protocol of measurements here (--measure), checked before the search's minutes. */
  measureProtocol?: Protocol;
}

async function readInputs(o: SearchOptions, log: (line: string) => void): Promise<Inputs> {
  const sources: LatencySource[] = [];
  for (const p of o.predictors) sources.push(await loadPredictorFile(p));
  const supernetPath = o.supernet;
  const file = await readModelFile(supernetPath);
  if (file.header.kind !== "supertransformer" || !file.header.space) throw new SearchInputError(`${supernetPath} is a ${file.header.kind}, not a SuperTransformer: the search needs one to inherit weights from`);
  const space: Space = file.header.space;
  for (const s of sources) if (s.space) checkSpaceCovered(space, s.space, `the predictor ${s.path}`);
  if (!file.header.tokenizer) throw new SearchInputError(`${supernetPath} carries no tokenizer: it was not trained on text (hat train writes one)`);
  for (const s of sources) checkPredictorVocab(s, file.header.vocab.size, `the SuperTransformer ${supernetPath}`, log);
  const quant = o.quant ?? "f32";
  for (const s of sources) checkPredictorQuant(s, quant, "this search", log);
  const threads = o.threads ?? 1;
  for (const s of sources) checkPredictorThreads(s, threads, "this search");
  const measureProtocol = o.measure && !o.pareto ? measuredProtocol(sources[0], o.measure, file.header.vocab.size, quant, threads, log) : undefined;
  if (measureProtocol && measureProtocol.threads > 1) await prepareThreads(measureProtocol.threads); // measurements here run on them
  if (o.verify && o.pareto) throw new SearchInputError("the closed loop (verify) checks one winner: not with the Pareto search");
  if (o.verify && !o.verify.measurer && !measureProtocol) throw new SearchInputError("verify: nothing to measure candidates with (give a measurer, or measure here)");
  const bpe = Bpe.fromJSON(file.header.tokenizer);
  const validPairs = tokenizeTexts(bpe, o.valid).slice(0, o.validMax);
  if (validPairs.length === 0) throw new SearchInputError("the validation set is empty");
  return { sources, file, space, model: HatModel.fromDecoded(file, loadWasm()), bpe, validPairs, measureProtocol };
}

/** The winner as the stages after the search see it: an arch, its loss, its predicted latency per device. */
type Winner = Pick<Evaluated, "arch" | "loss" | "latency">;

/**
 * The closed loop (./closed-loop.ts) on the first device: candidates measured by the given
 * measurer (or here, with the predictor's protocol), the predictor refitted on its data when
 * `verify.data` names it. Returns the loop's result and the winner it picked.
 */
async function verifyStage(o: SearchOptions, inp: Inputs, devices: Device[], result: SearchResult, search: (devices: Device[], round: number) => SearchResult, log: (line: string) => void): Promise<{ loop: LoopResult; winner: Winner; where: string }> {
  const v = o.verify!, maxMs = devices[0].maxMs!;
  const measurer = v.measurer ?? hereMeasurer(inp.measureProtocol!);
  const source = inp.sources[0];
  let refit: ((rows: readonly LatencyRow[], round: number) => Promise<LatencyModel>) | undefined;
  if (v.data && v.data.length > 0) {
    const predictor = await Predictor.load(source.path);
    // beside the record (or the arch), else in a temporary directory: never over the user's predictor
    const dir = v.refitDir ?? (o.record ?? o.out ? dirname((o.record ?? o.out)!) : mkdtempSync(join(tmpdir(), "hat-refit-")));
    refit = async (rows, round) => {
      const out = join(dir, `predictor-round${round + 1}.json`);
      mkdirSync(dir, { recursive: true });
      const r = await refitPredictor({ predictor, data: v.data!, rows, out });
      log(`verify: refitted the predictor on ${r.rows} rows (${rows.length} measured by the loop): test RMSE ${r.report.test_metrics.rmse_ms.toFixed(3)} ms; ${out}`);
      return { predict: (archs) => r.predictor.predict(archs) };
    };
  } else {
    log("verify: the predictor's datasets are not given: candidates are measured, the predictor is not refitted");
  }
  const loop = await closedLoop({
    maxMs, k: v.k, rounds: v.rounds, measurer, first: { result, model: devices[0].model }, refit, log,
    search: (target, model, round) => search([{ ...devices[0], maxMs: target, model }, ...devices.slice(1)], round),
  });
  log(`verify: ${loop.stopped}`);
  const w = loop.winner;
  if (loop.verdict === "meets") log(`verify: winner measured ${w!.measuredMs!.toFixed(3)} ms <= ${maxMs} ms on ${measurer.where} (predicted ${w!.predictedMs.toFixed(3)} ms), loss ${w!.validLoss.toFixed(4)}`);
  else if (loop.verdict === "none_met") log(`verify: NO CANDIDATE MET THE CONSTRAINT of ${maxMs} ms on ${measurer.where}: the fastest measured (${w!.measuredMs!.toFixed(3)} ms) is handed on`);
  else log(`verify: no candidate could be measured on ${measurer.where}: the winner is unverified`);
  if (!w) return { loop, winner: result.best, where: measurer.where };
  // the winner's predicted latency on every device: the first from its round's predictor
  const latency = devices.map((d, i) => (i === 0 ? w.predictedMs : d.model.predict([w.arch])[0]));
  return { loop, winner: { arch: w.arch, loss: w.validLoss, latency }, where: measurer.where };
}

export async function runSearch(o: SearchOptions): Promise<SearchRun> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const limits = o.latencyMs, evo = o.evolution;

  // ---- inputs: predictors, SuperTransformer (read once), validation data
  const inp = await readInputs(o, log);
  const { sources, file, space, model, bpe, validPairs, measureProtocol } = inp;
  const supernetPath = o.supernet;
  log(`search: ${supernetPath} (${(model.params / 1e6).toFixed(2)} M parameters), ${validPairs.length} validation pairs, ${sources.length} device(s): ${sources.map((s, i) => `${s.name}${limits[i] !== undefined ? ` <= ${limits[i]} ms` : ""}`).join(", ")}`);

  const devices: Device[] = sources.map((s, i) => ({ name: s.name, model: s.model, maxMs: limits[i] }));
  const loss = new CachedLoss(new InheritedLoss(model, validPairs).loss);
  const problem = (ds: Device[] = devices) => new SearchProblem(space, ds, loss);
  const progress = (method: string, total: number, ds: Device[] = devices) => (s: GenerationStats) => {
    const line = progressLine(method, total, s, ds);
    log(line);
    const best = Number.isFinite(s.bestLoss);
    o.onProgress?.({
      done: s.generation + 1, total, message: line,
      data: { generation: s.generation + 1, best_loss: best ? s.bestLoss : null, best_ms: best && s.bestLatency.length ? s.bestLatency[0] : null, evaluations: s.evaluations, elapsed_s: s.seconds },
    });
  };

  // ---- the search(es)
  const record: SearchRecord = {
    version: 1, createdAt: new Date().toISOString(), supernet: supernetPath, space,
    devices: devices.map((d) => ({ name: d.name, maxMs: d.maxMs })), settings: { ...evo, validPairs: validPairs.length },
    validPairs: validPairs.length, wallSeconds: 0,
    predictorTests: sources.filter((s) => s.testSet && s.testSet.measured.length > 0).map((s) => ({ device: s.name, measured: s.testSet!.measured, predicted: s.testSet!.predicted })),
  };
  let result: SearchResult;
  if (o.pareto) {
    result = nsga2Search(problem(), { ...evo, onGeneration: progress("nsga2", evo.generations) });
    record.nsga2 = runRecord(result);
  } else {
    result = evolutionSearch(problem(), { ...evo, onGeneration: progress("evolution", evo.generations) });
    record.evolution = runRecord(result);
  }
  for (const w of result.warnings) log(`warning: ${w}`);
  const searchSeconds = result.seconds;
  let random: SearchResult | undefined;
  if (o.randomBaseline) {
    const gens = Math.ceil(result.evaluations / evo.population);
    random = randomSearch(problem(), { budget: result.evaluations, seed: evo.seed, batch: evo.population, onGeneration: progress("random", gens) });
    record.random = runRecord(random);
    for (const w of random.warnings) log(`warning: ${w}`);
    log(`evolution best loss ${result.best.loss.toFixed(4)} vs random search ${random.best.loss.toFixed(4)} at ${result.evaluations} evaluations each`);
  }

  // ---- the closed loop: the winner is a candidate measured on the device
  let best: Winner = result.best;
  let loop: LoopResult | undefined;
  if (o.verify && !o.pareto) {
    const v = await verifyStage(o, inp, devices, result, (ds, round) =>
      evolutionSearch(problem(ds), { ...evo, onGeneration: progress(`evolution (verify round ${round + 1})`, evo.generations, ds) }), log);
    ({ loop, winner: best } = v);
    record.verification = verificationRecord(loop, { k: o.verify.k, where: v.where, device: devices[0].name, maxMs: devices[0].maxMs! });
  }

  // ---- the winner, and what comes after
  const summary: Record<string, unknown> = o.pareto
    ? {
      front: result.front!.map((e) => ({ arch: e.arch, predicted_ms: e.latency.length === 1 ? e.latency[0] : e.latency, valid_loss: e.loss })),
      devices: devices.map((d) => ({ name: d.name, max_ms: d.maxMs })), evaluations: result.evaluations,
    }
    : { arch: best.arch, predicted_ms: best.latency[0], valid_loss: best.loss, evaluations: result.evaluations };
  summary.search_seconds = searchSeconds;
  summary.quant = o.quant ?? "f32"; // the products the predictors learnt and the deployment runs
  if (devices.length > 1 && !o.pareto) summary.devices = devices.map((d, i) => ({ name: d.name, max_ms: d.maxMs, predicted_ms: best.latency[i] }));
  if (random) summary.random = { valid_loss: random.best.loss, predicted_ms: random.best.latency[0], evaluations: random.evaluations, arch: random.best.arch };
  if (loop) Object.assign(summary, loopSummary(record.verification!));

  if (!o.pareto) {
    const winner: WinnerRecord = { arch: best.arch, validLoss: best.loss, predictedMs: best.latency, params: 0, superParams: model.params };
    record.winner = winner;
    const exported = exportWinner(file, best.arch, { validLoss: best.loss, predictedMs: best.latency, devices: devices.map((d) => d.name) });
    winner.params = exported.params;
    summary.params = exported.params;
    if (o.export) {
      await writeModel(o.export, exported.bytes);
      winner.exported = { path: o.export, bytes: exported.bytes.length, params: exported.params };
      summary.exported = o.export;
      log(`wrote ${o.export}: the winner with inherited weights, ${(exported.params / 1e6).toFixed(3)} M parameters (SuperTransformer ${(model.params / 1e6).toFixed(3)} M)`);
    }
    const wm = loop?.winner;
    if (loop && wm?.measuredMs !== undefined && best.arch === wm.arch) {
      // the loop measured the winner: that measurement is the winner's
      const row = loop.rows.find((r) => r.arch && archKey(r.arch) === archKey(wm.arch));
      const maxMs = devices[0].maxMs, protocol = row?.protocol ?? measureProtocol ?? sources[0].protocol;
      const over = maxMs !== undefined && (wm.usualMs ?? wm.measuredMs) > maxMs;
      // (the record's measurement says its protocol; rows that do not are in the candidates' table only)
      if (protocol) {
        winner.measured = {
          device: devices[0].name, totalMs: wm.measuredMs, encoderMs: wm.encoderMs!, decoderMs: wm.decoderMs!, protocol,
          overConstraint: over, load1: row?.load1, cores: o.verify?.measurer ? undefined : cpus().length,
          ...(o.verify?.measurer ? { measuredOn: o.verify.measurer.where } : {}),
        };
      }
      summary.measured_ms = wm.measuredMs;
      if (wm.speed !== undefined) Object.assign(summary, { measured_speed: wm.speed, usual_ms: wm.usualMs });
      summary.over_constraint = over;
      if (row?.load1 !== undefined) summary.measured_load1 = row.load1;
    } else if (measureProtocol) {
      // measured before any training in this process: a quiet heap and no worker threads
      const m = measureWinner(best.arch, measureProtocol);
      const load1 = loadavg()[0], cores = cpus().length;
      const maxMs = devices[0].maxMs;
      const over = maxMs !== undefined && m.total_ms > maxMs;
      winner.measured = {
        device: devices[0].name, totalMs: m.total_ms, encoderMs: m.encoder_ms, decoderMs: m.decoder_ms, protocol: m.protocol, overConstraint: over, load1, cores,
      };
      summary.measured_ms = m.total_ms;
      summary.over_constraint = over;
      summary.measured_load1 = load1;
      log(`measured ${m.total_ms.toFixed(3)} ms here (predicted ${best.latency[0].toFixed(3)} ms for ${devices[0].name})${over ? `: OVER THE CONSTRAINT of ${maxMs} ms` : ""}`);
      if (load1 > cores) log(`warning: the machine was busy while measuring (load ${load1.toFixed(1)} on ${cores} cores): measure again on a quiet machine (hat profile --arch FILE)`);
    }
    let final: { bytes: Uint8Array; kind: "inherited" | "finetuned" } = { bytes: exported.bytes, kind: "inherited" };
    if (o.finetune) {
      const f = o.finetune;
      const trainPairs = tokenizeTexts(bpe, f.train);
      log(`${f.mode === "scratch" ? "training the winner from scratch" : "fine-tuning the winner from its inherited weights"} on ${trainPairs.length} pairs`);
      let last = 0;
      const ft = await finetuneWinner({
        supernet: file, arch: best.arch, mode: f.mode, train: trainPairs, valid: tokenizeTexts(bpe, o.valid),
        steps: f.steps, minutes: f.minutes, maxTokens: f.maxTokens, lr: f.lr, warmup: f.warmup, dropout: f.dropout, distill: f.distill,
        seed: evo.seed, checkpoint: `${f.out}.ckpt`, log,
        onProgress: (p) => {
          const now = performance.now();
          const line = `  update ${p.step}/${p.totalSteps > 0 ? p.totalSteps : "?"} loss ${p.loss.toFixed(3)} ${Math.round(p.tokensPerSec)} tokens/s`;
          if (now - last > 10_000) { last = now; log(line); }
          o.onProgress?.({ done: p.step, total: p.totalSteps, message: line.trim() });
        },
      });
      await writeModel(f.out, ft.bytes);
      winner.finetuned = { path: f.out, mode: f.mode, steps: ft.result.steps, seconds: ft.result.seconds, validLoss: ft.result.validLoss };
      summary.finetuned = { path: f.out, mode: f.mode, steps: ft.result.steps, seconds: ft.result.seconds, valid_loss: ft.result.validLoss };
      log(`wrote ${f.out}: ${ft.result.steps} updates in ${ft.result.seconds.toFixed(0)} s, validation loss ${ft.result.validLoss.toFixed(4)}`);
      final = { bytes: ft.bytes, kind: "finetuned" };
    }
    if (o.bleu) {
      const test = o.bleu.test;
      const n = Math.min(test.src.length, o.bleu.max ?? test.src.length);
      const beam = 4, lenpen = 0.6;
      const b = bleuOfModel(HatModel.fromBytes(final.bytes, loadWasm()), bpe, test.src.slice(0, n), test.tgt.slice(0, n), { beam, lenpen });
      winner.bleu = { score: b.result.score, sentences: n, beam, lenpen, model: final.kind };
      summary.bleu = b.result.score;
      log(`BLEU ${b.result.score.toFixed(2)} (${final.kind} weights, ${n} test sentences, beam ${beam}, lenpen ${lenpen})`);
    }
  }

  // ---- outputs
  record.wallSeconds = (performance.now() - t0) / 1000;
  summary.seconds = record.wallSeconds;
  if (o.out) writeJson(o.out, o.pareto ? summary.front : best.arch);
  if (o.record) writeJson(o.record, record);
  if (o.report) {
    mkdirSync(dirname(o.report), { recursive: true });
    writeFileSync(o.report, renderReport(record));
    log(`wrote the report ${o.report}`);
  }
  return { result, random, record, summary };
}
