/**
 * `hat search`: HAT's hardware-aware evolutionary search on a trained SuperTransformer with latency
 * predictors, then (optionally) the winner exported, fine-tuned or trained from scratch, scored
 * with BLEU, measured on this machine, and a self-contained HTML report. A thin shell over search/.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { readModelFile, writeModelFile } from "../runtime/format.js";
import { HatModel } from "../runtime/model.js";
import { protocolOf } from "../runtime/protocol.js";
import type { Arch, Space } from "../runtime/types.js";
import { Bpe } from "../data/bpe.js";
import { demoTask } from "../data/demo-task.js";
import { readTexts, tokenizeTexts, type Texts } from "./corpus.js";
import { bleuOfModel, exportWinner, finetuneWinner, measureWinner } from "../search/after.js";
import type { Device } from "../search/constraint.js";
import { evolutionSearch } from "../search/evolution.js";
import { CachedLoss, InheritedLoss } from "../search/fitness.js";
import { nsga2Search } from "../search/nsga2.js";
import { checkSpaceCovered, loadPredictorFile, SearchInputError, type LatencySource } from "../search/predictor-file.js";
import { SearchProblem, type GenerationStats, type SearchResult } from "../search/problem.js";
import { randomSearch } from "../search/random.js";
import { renderReport, runRecord, type SearchRecord, type WinnerRecord } from "../search/report.js";
import { intFlag, numFlag, requireFlag } from "./args.js";
import { UsageError, type Io } from "./io.js";

const HELP = `usage: hat search --supernet MODEL --predictor FILE [--predictor FILE ...] --latency-ms X [--latency-ms Y ...]
                  (--demo [--demo-seed 1] | --valid-src FILE --valid-tgt FILE) [--valid-max 200]
                  [--generations 30] [--population 125] [--parents 25] [--mutations 50]
                  [--crossovers 50] [--mutation-prob 0.3] [--seed 1] [--random-baseline] [--pareto]
                  [--out arch.json] [--record search.json] [--report report.html] [--json]
  after the search (not with --pareto):
                  [--export MODEL] [--finetune-steps N | --finetune-minutes M] [--scratch]
                  [--finetune-out MODEL] [--train-src FILE --train-tgt FILE] [--lr 0.001]
                  [--warmup 100] [--max-tokens 4096] [--dropout 0.1]
                  (with --demo: --lr 0.0005 --max-tokens 1024 --dropout 0)
                  [--measure] [--runs 300] [--warmup-runs 5] [--vocab N] [--src-len 30] [--tgt-len 30] [--beam 5]
                  [--bleu] [--test-src FILE --test-tgt FILE] [--bleu-max N]

HAT's evolutionary search: fitness is the inherited validation loss of a SubTransformer on the
SuperTransformer's weights (the first --valid-max validation pairs, computed by the wasm runtime);
a candidate enters the population only if its predicted latency is <= --latency-ms on every
--predictor (one --latency-ms per --predictor, same order). A constraint below the smallest latency
the space reaches is refused with that minimum.
  --random-baseline  also run random search with the same number of evaluations (HAT Figure 9)
  --pareto           NSGA-II instead: the whole loss/latency Pareto front over all predictors
                     (--latency-ms optional, then a bound on the front)
  --out FILE         the winner's architecture (JSON; with --pareto, the front)
  --export MODEL     the winner as a compact model with inherited weights (only its slices)
  --finetune-*       train the winner from its inherited weights (--scratch: from scratch) into
                     --finetune-out; data: the demo task's training split, or --train-src/--train-tgt
  --measure          measure the winner's latency here with the first predictor's protocol (or the
                     --vocab/--src-len/--tgt-len/--beam given; default vocab: the model's); a winner
                     over its constraint is flagged
  --bleu             BLEU (beam 4, lenpen 0.6) of the final model on the test split / --test-src
  --report FILE      a self-contained HTML report (inline SVG) of all of it
With --json the last line is one object: arch, predicted_ms, valid_loss, evaluations, and more.`;

const OPTIONS = {
  supernet: { type: "string" }, predictor: { type: "string", multiple: true }, "latency-ms": { type: "string", multiple: true },
  demo: { type: "boolean" }, "demo-seed": { type: "string" }, "valid-src": { type: "string" }, "valid-tgt": { type: "string" }, "valid-max": { type: "string" },
  generations: { type: "string" }, population: { type: "string" }, parents: { type: "string" }, mutations: { type: "string" },
  crossovers: { type: "string" }, "mutation-prob": { type: "string" }, seed: { type: "string" },
  "random-baseline": { type: "boolean" }, pareto: { type: "boolean" },
  out: { type: "string" }, record: { type: "string" }, report: { type: "string" }, json: { type: "boolean" },
  export: { type: "string" }, "finetune-steps": { type: "string" }, "finetune-minutes": { type: "string" }, scratch: { type: "boolean" },
  "finetune-out": { type: "string" }, "train-src": { type: "string" }, "train-tgt": { type: "string" },
  lr: { type: "string" }, warmup: { type: "string" }, "max-tokens": { type: "string" }, dropout: { type: "string" },
  measure: { type: "boolean" }, runs: { type: "string" }, "warmup-runs": { type: "string" }, vocab: { type: "string" },
  "src-len": { type: "string" }, "tgt-len": { type: "string" }, beam: { type: "string" },
  bleu: { type: "boolean" }, "test-src": { type: "string" }, "test-tgt": { type: "string" }, "bleu-max": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = Record<string, unknown>;

/** A split of text pairs: the demo task's, or files given by two flags. */
function texts(values: Values, split: "train" | "valid" | "test", io: Io): Texts {
  const flag = split === "valid" ? "valid" : split;
  if (values[`${flag}-src`] !== undefined || values[`${flag}-tgt`] !== undefined) {
    return readTexts(requireFlag(values, `${flag}-src`), requireFlag(values, `${flag}-tgt`), io);
  }
  if (values.demo) return demoTask({ seed: intFlag(values, "demo-seed", 1, 0) })[split];
  throw new UsageError(`give --demo or --${flag}-src/--${flag}-tgt (the ${split} sentences)`);
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

export async function searchCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) { io.out(HELP); return; }
  const t0 = performance.now();
  const log = (s: string) => io.err(s);

  // ---- settings, before anything slow
  const predictorPaths = values.predictor ?? [];
  if (predictorPaths.length === 0) throw new UsageError("--predictor is required (a latency predictor file; repeat it for several devices)");
  const limits = (values["latency-ms"] ?? []).map((v, i) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw new UsageError(`--latency-ms must be a positive number of ms, got '${v}'`);
    if (i >= predictorPaths.length) throw new UsageError(`${values["latency-ms"]!.length} --latency-ms for ${predictorPaths.length} --predictor: give one per predictor, in the same order`);
    return n;
  });
  if (!values.pareto && limits.length !== predictorPaths.length) {
    throw new UsageError(limits.length === 0 ? "--latency-ms is required (the latency constraint, ms)" : `give one --latency-ms per --predictor (${predictorPaths.length})`);
  }
  if (values.pareto && limits.length !== 0 && limits.length !== predictorPaths.length) throw new UsageError(`with --pareto, give no --latency-ms or one per --predictor (${predictorPaths.length})`);
  const after = ["export", "finetune-steps", "finetune-minutes", "measure", "bleu", "random-baseline"].filter((k) => (values as Values)[k] !== undefined);
  if (values.pareto && after.length) throw new UsageError(`--${after[0]} goes with the single-objective search (without --pareto)`);
  if (values["finetune-steps"] !== undefined && values["finetune-minutes"] !== undefined) throw new UsageError("give --finetune-steps or --finetune-minutes, not both");
  const finetune = values["finetune-steps"] !== undefined || values["finetune-minutes"] !== undefined;
  if (finetune && !values["finetune-out"]) throw new UsageError("--finetune-out MODEL is required with --finetune-steps/--finetune-minutes");
  if (values.scratch && !finetune) throw new UsageError("--scratch goes with --finetune-steps or --finetune-minutes");
  const evo = {
    generations: intFlag(values, "generations", 30), population: intFlag(values, "population", 125), parents: intFlag(values, "parents", 25),
    mutations: intFlag(values, "mutations", 50, 0), crossovers: intFlag(values, "crossovers", 50, 0),
    mutationProb: numFlag(values, "mutation-prob", 0.3), seed: intFlag(values, "seed", 1, 0),
  };
  if (evo.mutationProb > 1) throw new UsageError(`--mutation-prob must be in [0, 1], got ${evo.mutationProb}`);
  if (evo.parents > evo.population) throw new UsageError(`--parents (${evo.parents}) cannot exceed --population (${evo.population})`);

  // ---- inputs: predictors, SuperTransformer, validation data
  const sources: LatencySource[] = [];
  for (const p of predictorPaths) sources.push(await loadPredictorFile(p));
  const supernetPath = requireFlag(values, "supernet");
  const file = await readModelFile(supernetPath);
  if (file.header.kind !== "supertransformer" || !file.header.space) throw new SearchInputError(`${supernetPath} is a ${file.header.kind}, not a SuperTransformer: the search needs one to inherit weights from`);
  const space: Space = file.header.space;
  for (const s of sources) if (s.space) checkSpaceCovered(space, s.space, `the predictor ${s.path}`);
  if (!file.header.tokenizer) throw new SearchInputError(`${supernetPath} carries no tokenizer: it was not trained on text (hat train writes one)`);
  const bpe = Bpe.fromJSON(file.header.tokenizer);
  const validMax = intFlag(values, "valid-max", 200);
  const validTexts = texts(values, "valid", io);
  const validPairs = tokenizeTexts(bpe, validTexts).slice(0, validMax);
  if (validPairs.length === 0) throw new SearchInputError("the validation set is empty");
  const model = await HatModel.fromFile(supernetPath);
  log(`search: ${supernetPath} (${(model.params / 1e6).toFixed(2)} M parameters), ${validPairs.length} validation pairs, ${sources.length} device(s): ${sources.map((s, i) => `${s.name}${limits[i] !== undefined ? ` <= ${limits[i]} ms` : ""}`).join(", ")}`);

  const devices: Device[] = sources.map((s, i) => ({ name: s.name, model: s.model, maxMs: limits[i] }));
  const loss = new CachedLoss(new InheritedLoss(model, validPairs).loss);
  const problem = () => new SearchProblem(space, devices, loss);
  const progress = (method: string, total: number) => (s: GenerationStats) => log(progressLine(method, total, s, devices));

  // ---- the search(es)
  const record: SearchRecord = {
    version: 1, createdAt: new Date().toISOString(), supernet: supernetPath, space,
    devices: devices.map((d) => ({ name: d.name, maxMs: d.maxMs })), settings: { ...evo, validPairs: validPairs.length },
    validPairs: validPairs.length, wallSeconds: 0,
    predictorTests: sources.filter((s) => s.testSet && s.testSet.measured.length > 0).map((s) => ({ device: s.name, measured: s.testSet!.measured, predicted: s.testSet!.predicted })),
  };
  let result: SearchResult;
  if (values.pareto) {
    result = nsga2Search(problem(), { ...evo, onGeneration: progress("nsga2", evo.generations) });
    record.nsga2 = runRecord(result);
  } else {
    result = evolutionSearch(problem(), { ...evo, onGeneration: progress("evolution", evo.generations) });
    record.evolution = runRecord(result);
  }
  for (const w of result.warnings) log(`warning: ${w}`);
  const searchSeconds = result.seconds;
  let random: SearchResult | undefined;
  if (values["random-baseline"]) {
    const gens = Math.ceil(result.evaluations / evo.population);
    random = randomSearch(problem(), { budget: result.evaluations, seed: evo.seed, batch: evo.population, onGeneration: progress("random", gens) });
    record.random = runRecord(random);
    for (const w of random.warnings) log(`warning: ${w}`);
    log(`evolution best loss ${result.best.loss.toFixed(4)} vs random search ${random.best.loss.toFixed(4)} at ${result.evaluations} evaluations each`);
  }

  // ---- the winner, and what comes after
  const best = result.best;
  const summary: Record<string, unknown> = values.pareto
    ? {
      front: result.front!.map((e) => ({ arch: e.arch, predicted_ms: e.latency.length === 1 ? e.latency[0] : e.latency, valid_loss: e.loss })),
      devices: devices.map((d) => ({ name: d.name, max_ms: d.maxMs })), evaluations: result.evaluations,
    }
    : { arch: best.arch, predicted_ms: best.latency[0], valid_loss: best.loss, evaluations: result.evaluations };
  summary.search_seconds = searchSeconds;
  if (devices.length > 1 && !values.pareto) summary.devices = devices.map((d, i) => ({ name: d.name, max_ms: d.maxMs, predicted_ms: best.latency[i] }));
  if (random) summary.random = { valid_loss: random.best.loss, predicted_ms: random.best.latency[0], evaluations: random.evaluations, arch: random.best.arch };

  if (!values.pareto) {
    const winner: WinnerRecord = { arch: best.arch, validLoss: best.loss, predictedMs: best.latency, params: 0, superParams: model.params };
    record.winner = winner;
    const exported = exportWinner(file, best.arch, { validLoss: best.loss, predictedMs: best.latency, devices: devices.map((d) => d.name) });
    winner.params = exported.params;
    summary.params = exported.params;
    if (values.export) {
      await writeModel(values.export, exported.bytes);
      winner.exported = { path: values.export, bytes: exported.bytes.length, params: exported.params };
      summary.exported = values.export;
      log(`wrote ${values.export}: the winner with inherited weights, ${(exported.params / 1e6).toFixed(3)} M parameters (SuperTransformer ${(model.params / 1e6).toFixed(3)} M)`);
    }
    // measured before any training in this process: a quiet heap and no worker threads
    if (values.measure) {
      const p = sources[0].protocol;
      const protocol = protocolOf({
        vocab: intFlag(values, "vocab", p?.vocab ?? file.header.vocab.size, 8), src_len: intFlag(values, "src-len", p?.src_len ?? 30),
        tgt_len: intFlag(values, "tgt-len", p?.tgt_len ?? 30), beam: intFlag(values, "beam", p?.beam ?? 5),
        runs: intFlag(values, "runs", p?.runs ?? 300), warmup: intFlag(values, "warmup-runs", p?.warmup ?? 5, 0),
      }, p);
      if (!p) log(`measure: ${sources[0].path} does not say its protocol; measuring with vocab ${protocol.vocab}, src ${protocol.src_len}, tgt ${protocol.tgt_len}, beam ${protocol.beam}`);
      const m = measureWinner(best.arch, protocol);
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
    if (finetune) {
      const out = values["finetune-out"]!;
      const mode = values.scratch ? "scratch" : "finetune";
      const trainPairs = tokenizeTexts(bpe, texts(values, "train", io));
      log(`${mode === "scratch" ? "training the winner from scratch" : "fine-tuning the winner from its inherited weights"} on ${trainPairs.length} pairs`);
      let last = 0;
      const ft = await finetuneWinner({
        supernet: file, arch: best.arch, mode, train: trainPairs, valid: tokenizeTexts(bpe, validTexts),
        steps: values["finetune-steps"] !== undefined ? intFlag(values, "finetune-steps", 0) : undefined,
        minutes: values["finetune-minutes"] !== undefined ? numFlag(values, "finetune-minutes", 0) : undefined,
        // with --demo, the demo recipe (hat train --demo) at a fine-tuning rate: the default
        // (lr 1e-3, dropout 0.1, 4096-token batches) made the winner's inherited loss worse there
        maxTokens: intFlag(values, "max-tokens", values.demo ? 1024 : 4096), lr: numFlag(values, "lr", values.demo ? 5e-4 : 1e-3),
        warmup: intFlag(values, "warmup", 100, 0), dropout: numFlag(values, "dropout", values.demo ? 0 : 0.1),
        seed: evo.seed, checkpoint: `${out}.ckpt`, log,
        onProgress: (p) => {
          const now = performance.now();
          if (now - last > 10_000) { last = now; log(`  update ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)} ${Math.round(p.tokensPerSec)} tokens/s`); }
        },
      });
      await writeModel(out, ft.bytes);
      winner.finetuned = { path: out, mode, steps: ft.result.steps, seconds: ft.result.seconds, validLoss: ft.result.validLoss };
      summary.finetuned = { path: out, mode, steps: ft.result.steps, seconds: ft.result.seconds, valid_loss: ft.result.validLoss };
      log(`wrote ${out}: ${ft.result.steps} updates in ${ft.result.seconds.toFixed(0)} s, validation loss ${ft.result.validLoss.toFixed(4)}`);
      final = { bytes: ft.bytes, kind: "finetuned" };
    }
    if (values.bleu) {
      const test = texts(values, "test", io);
      const n = Math.min(test.src.length, values["bleu-max"] !== undefined ? intFlag(values, "bleu-max", 1) : test.src.length);
      const beam = 4, lenpen = 0.6;
      const b = bleuOfModel(HatModel.fromBytes(final.bytes), bpe, test.src.slice(0, n), test.tgt.slice(0, n), { beam, lenpen });
      winner.bleu = { score: b.result.score, sentences: n, beam, lenpen, model: final.kind };
      summary.bleu = b.result.score;
      log(`BLEU ${b.result.score.toFixed(2)} (${final.kind} weights, ${n} test sentences, beam ${beam}, lenpen ${lenpen})`);
    }
  }

  // ---- outputs
  record.wallSeconds = (performance.now() - t0) / 1000;
  summary.seconds = record.wallSeconds;
  if (values.out) writeJson(values.out, values.pareto ? summary.front : best.arch);
  if (values.record) writeJson(values.record, record);
  if (values.report) {
    mkdirSync(dirname(values.report), { recursive: true });
    writeFileSync(values.report, renderReport(record));
    log(`wrote the report ${values.report}`);
  }
  if (values.json) { io.out(JSON.stringify(summary)); return; }
  if (values.pareto) {
    io.out(`Pareto front (${result.front!.length} SubTransformers, ${result.evaluations} evaluations, ${searchSeconds.toFixed(1)} s):`);
    for (const e of result.front!) io.out(`  ${e.latency.map((v) => `${v.toFixed(3)} ms`).join(" / ")}  loss ${e.loss.toFixed(4)}`);
  } else {
    io.out(`best: loss ${best.loss.toFixed(4)}, predicted ${best.latency.map((v) => `${v.toFixed(3)} ms`).join(" / ")}, ${result.evaluations} evaluations in ${searchSeconds.toFixed(1)} s`);
    io.out(`arch: ${JSON.stringify(best.arch as Arch)}`);
  }
}

/** `hat report --record FILE --out FILE`: the HTML report again from a search's record (`hat search --record`). */
export async function reportCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { record: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    io.out("usage: hat report --record search.json --out report.html\n\nWrites the self-contained HTML report (inline SVG, nothing fetched) of a search from the record `hat search --record` wrote.");
    return;
  }
  const path = requireFlag(values, "record"), out = requireFlag(values, "out");
  let rec: SearchRecord;
  try {
    rec = JSON.parse(readFileSync(path, "utf8")) as SearchRecord;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code) throw e;
    throw new SearchInputError(`${path}: not a search record: malformed JSON (${err.message})`);
  }
  if (rec?.version !== 1 || !Array.isArray(rec.devices) || typeof rec.space !== "object") throw new SearchInputError(`${path}: not a search record (hat search --record writes one)`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderReport(rec));
  io.out(`wrote ${out}`);
}
