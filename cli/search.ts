/**
 * `hat search`: HAT's hardware-aware evolutionary search on a trained SuperTransformer with latency
 * predictors, then (optionally) the winner exported, fine-tuned or trained from scratch, scored
 * with BLEU, measured on this machine, and a self-contained HTML report. A thin shell over search/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import type { Arch } from "../runtime/types.js";
import { demoTask } from "../data/demo-task.js";
import { readTexts, type Texts } from "../data/texts.js";
import { runSearch, SEARCH_DEFAULTS, type SearchOptions } from "../search/pipeline.js";
import { readSearchRecord, renderReport } from "../search/report.js";
import { measureForms, modelArch } from "../search/forms.js";
import { readModelFile } from "../runtime/model-files.js";
import { protocolOf, QUANTS } from "../runtime/protocol.js";
import { intFlag, numFlag, optIntFlag as optInt, optNumFlag, quantFlag, requireFlag, threadsFlag } from "./args.js";
import { Progress, UsageError, type Io } from "./io.js";

const HELP = `usage: hat search --supernet MODEL --predictor FILE [--predictor FILE ...] --latency-ms X [--latency-ms Y ...]
                  (--demo [--demo-seed 1] | --valid-src FILE --valid-tgt FILE) [--valid-max 200]
                  [--generations 30] [--population 125] [--parents 25] [--mutations 50]
                  [--crossovers 50] [--mutation-prob 0.3] [--seed 1] [--random-baseline] [--pareto]
                  [--quant f32|int8|linear8|kmeans8|kmeans4] [--threads 1] [--out arch.json] [--record search.json] [--report report.html] [--json]
  after the search (not with --pareto):
                  [--export MODEL] [--finetune-steps N | --finetune-minutes M] [--scratch]
                  [--finetune-out MODEL] [--train-src FILE --train-tgt FILE] [--lr 0.001]
                  [--finetune-distill [--distill-weight 0.5]]
                  [--warmup 100] [--max-tokens 4096] [--dropout 0.1]
                  (with --demo: --lr 0.0005 --max-tokens 1024 --dropout 0)
                  [--measure [--verify 3] [--verify-rounds 3] [--verify-data CSV ...]]
                  [--runs 300] [--warmup-runs 5] [--vocab N] [--src-len 30] [--tgt-len 30] [--beam 5]
                  [--bleu] [--test-src FILE --test-tgt FILE] [--bleu-max N]

HAT's evolutionary search: fitness is the inherited validation loss of a SubTransformer on the
SuperTransformer's weights (the first --valid-max validation pairs, computed by the wasm runtime);
a candidate enters the population only if its predicted latency is <= --latency-ms on every
--predictor (one --latency-ms per --predictor, same order). A constraint below the smallest latency
the space reaches is refused with that minimum.
  --random-baseline  also run random search with the same number of evaluations (HAT Figure 9)
  --pareto           NSGA-II instead: the whole loss/latency Pareto front over all predictors
                     (--latency-ms optional, then a bound on the front)
  --quant int8       the deployment runs int8 products: every --predictor must have learnt int8
                     latencies (a campaign with --quant int8), else refused naming both (default
                     f32: predictors of f32 campaigns); --measure measures int8 products;
                     linear8|kmeans8|kmeans4 the same for a quantized file's form
  --threads N        the deployment runs on N threads: every --predictor must have learnt
                     latencies on N threads (hat profile-campaign --threads N); --measure and
                     the closed loop measure on N threads (default 1)
  --out FILE         the winner's architecture (JSON; with --pareto, the front)
  --export MODEL     the winner as a compact model with inherited weights (only its slices)
  --finetune-*       train the winner from its inherited weights (--scratch: from scratch) into
                     --finetune-out; data: the demo task's training split, or --train-src/--train-tgt;
                     --finetune-distill: token-level distillation from the SuperTransformer's largest
                     SubTransformer (its top-5 tokens, --distill-weight 0.5)
  --measure          the closed loop, here: before a winner is declared, the best --verify
                     candidates the search found are measured on this machine with the first
                     predictor's protocol, and the winner is the best whose measured latency meets
                     the constraint; a round whose best candidate missed searches again (refitted
                     on --verify-data, the predictor's datasets, with the rows measured), at most
                     --verify-rounds rounds; "no candidate met it" is said plainly (verdict
                     none_met). --verify 0: only the winner measured. Refused when the predictor is
                     for another machine. --runs/--warmup-runs may change its runs;
                     --vocab/--src-len/--tgt-len/--beam only for a predictor that does not say its
                     protocol (default vocab: the model's)
  --bleu             BLEU (beam 4, lenpen 0.6) of the final model on the test split / --test-src
  --report FILE      a self-contained HTML report (inline SVG) of all of it
With --json the last line is one object: arch, predicted_ms, valid_loss, evaluations, and more.`;

const OPTIONS = {
  supernet: { type: "string" }, predictor: { type: "string", multiple: true }, "latency-ms": { type: "string", multiple: true },
  demo: { type: "boolean" }, "demo-seed": { type: "string" }, "valid-src": { type: "string" }, "valid-tgt": { type: "string" }, "valid-max": { type: "string" },
  generations: { type: "string" }, population: { type: "string" }, parents: { type: "string" }, mutations: { type: "string" },
  crossovers: { type: "string" }, "mutation-prob": { type: "string" }, seed: { type: "string" },
  "random-baseline": { type: "boolean" }, pareto: { type: "boolean" }, quant: { type: "string" }, threads: { type: "string" },
  out: { type: "string" }, record: { type: "string" }, report: { type: "string" }, json: { type: "boolean" },
  export: { type: "string" }, "finetune-steps": { type: "string" }, "finetune-minutes": { type: "string" }, scratch: { type: "boolean" },
  "finetune-out": { type: "string" }, "train-src": { type: "string" }, "train-tgt": { type: "string" },
  "finetune-distill": { type: "boolean" }, "distill-weight": { type: "string" },
  lr: { type: "string" }, warmup: { type: "string" }, "max-tokens": { type: "string" }, dropout: { type: "string" },
  measure: { type: "boolean" }, verify: { type: "string" }, "verify-rounds": { type: "string" }, "verify-data": { type: "string", multiple: true }, runs: { type: "string" }, "warmup-runs": { type: "string" }, vocab: { type: "string" },
  "src-len": { type: "string" }, "tgt-len": { type: "string" }, beam: { type: "string" },
  bleu: { type: "boolean" }, "test-src": { type: "string" }, "test-tgt": { type: "string" }, "bleu-max": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = Record<string, unknown>;

/** A split of text pairs: the demo task's, or files given by two flags. */
function texts(values: Values, split: "train" | "valid" | "test", io: Io): Texts {
  const flag = split === "valid" ? "valid" : split;
  if (values[`${flag}-src`] !== undefined || values[`${flag}-tgt`] !== undefined) {
    return readTexts(requireFlag(values, `${flag}-src`), requireFlag(values, `${flag}-tgt`), (l) => io.err(l));
  }
  if (values.demo) return demoTask({ seed: intFlag(values, "demo-seed", 1, 0) })[split];
  throw new UsageError(`give --demo or --${flag}-src/--${flag}-tgt (the ${split} sentences)`);
}

const E = SEARCH_DEFAULTS.evolution, F = SEARCH_DEFAULTS.finetune;

/** The flags as runSearch's options: every value checked here, once. */
function searchOptions(values: Values, io: Io): SearchOptions {
  const predictorPaths = (values.predictor as string[] | undefined) ?? [];
  const latency = (values["latency-ms"] as string[] | undefined) ?? [];
  if (predictorPaths.length === 0) throw new UsageError("--predictor is required (a latency predictor file; repeat it for several devices)");
  const limits = latency.map((v, i) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw new UsageError(`--latency-ms must be a positive number of ms, got '${v}'`);
    if (i >= predictorPaths.length) throw new UsageError(`${latency.length} --latency-ms for ${predictorPaths.length} --predictor: give one per predictor, in the same order`);
    return n;
  });
  if (!values.pareto && limits.length !== predictorPaths.length) {
    throw new UsageError(limits.length === 0 ? "--latency-ms is required (the latency constraint, ms)" : `give one --latency-ms per --predictor (${predictorPaths.length})`);
  }
  if (values.pareto && limits.length !== 0 && limits.length !== predictorPaths.length) throw new UsageError(`with --pareto, give no --latency-ms or one per --predictor (${predictorPaths.length})`);
  const after = ["export", "finetune-steps", "finetune-minutes", "measure", "bleu", "random-baseline"].filter((k) => values[k] !== undefined);
  if (values.pareto && after.length) throw new UsageError(`--${after[0]} goes with the single-objective search (without --pareto)`);
  if (values["finetune-steps"] !== undefined && values["finetune-minutes"] !== undefined) throw new UsageError("give --finetune-steps or --finetune-minutes, not both");
  const finetune = values["finetune-steps"] !== undefined || values["finetune-minutes"] !== undefined;
  if (finetune && !values["finetune-out"]) throw new UsageError("--finetune-out MODEL is required with --finetune-steps/--finetune-minutes");
  if (values.scratch && !finetune) throw new UsageError("--scratch goes with --finetune-steps or --finetune-minutes");
  const loopFlag = ["verify", "verify-rounds", "verify-data"].find((k) => values[k] !== undefined);
  if (loopFlag && !values.measure) throw new UsageError(`--${loopFlag} goes with --measure (the closed loop measures here)`);
  const k = intFlag(values, "verify", SEARCH_DEFAULTS.verify.k, 0);
  const evolution = {
    generations: intFlag(values, "generations", E.generations), population: intFlag(values, "population", E.population), parents: intFlag(values, "parents", E.parents),
    mutations: intFlag(values, "mutations", E.mutations, 0), crossovers: intFlag(values, "crossovers", E.crossovers, 0),
    mutationProb: numFlag(values, "mutation-prob", E.mutationProb), seed: intFlag(values, "seed", E.seed, 0),
  };
  if (evolution.mutationProb > 1) throw new UsageError(`--mutation-prob must be in [0, 1], got ${evolution.mutationProb}`);
  if (evolution.parents > evolution.population) throw new UsageError(`--parents (${evolution.parents}) cannot exceed --population (${evolution.population})`);
  const supernet = requireFlag(values, "supernet");
  const validMax = intFlag(values, "valid-max", SEARCH_DEFAULTS.validMax);
  return {
    supernet, predictors: predictorPaths, latencyMs: limits, pareto: values.pareto === true, quant: quantFlag(values.quant), threads: threadsFlag(values),
    valid: texts(values, "valid", io), validMax, evolution, randomBaseline: values["random-baseline"] === true,
    export: values.export as string | undefined,
    measure: values.measure ? {
      vocab: optInt(values, "vocab", 8), src_len: optInt(values, "src-len"), tgt_len: optInt(values, "tgt-len"), beam: optInt(values, "beam"),
      runs: optInt(values, "runs"), warmup: optInt(values, "warmup-runs", 0),
    } : undefined,
    verify: values.measure && k > 0 ? {
      k, rounds: intFlag(values, "verify-rounds", SEARCH_DEFAULTS.verify.rounds), data: values["verify-data"] as string[] | undefined,
    } : undefined,
    finetune: finetune ? {
      out: values["finetune-out"] as string, mode: values.scratch ? "scratch" : "finetune", train: texts(values, "train", io),
      steps: optInt(values, "finetune-steps"),
      minutes: optNumFlag(values, "finetune-minutes"),
      // with --demo, the demo recipe (hat train --demo) at a fine-tuning rate: the default
      // (lr 1e-3, dropout 0.1, 4096-token batches) made the winner's inherited loss worse there
      // otherwise what is not given is sized by the budget's recipe (--finetune-minutes) or defaults
      maxTokens: values.demo ? intFlag(values, "max-tokens", 1024) : optInt(values, "max-tokens"), lr: values.demo ? numFlag(values, "lr", 5e-4) : optNumFlag(values, "lr"),
      warmup: optInt(values, "warmup", 0), dropout: numFlag(values, "dropout", values.demo ? 0 : F.dropout),
      distill: values["finetune-distill"] ? { weight: optNumFlag(values, "distill-weight") } : undefined,
    } : undefined,
    bleu: values.bleu ? { test: texts(values, "test", io), max: optInt(values, "bleu-max") } : undefined,
    out: values.out as string | undefined, record: values.record as string | undefined, report: values.report as string | undefined,
    log: (l) => io.err(l),
  };
}

export async function searchCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) { io.out(HELP); return; }
  const { result, summary } = await runSearch(searchOptions(values, io));
  if (values.json) { io.out(JSON.stringify(summary)); return; }
  const best = { arch: summary.arch as Arch, loss: summary.valid_loss as number, latency: [summary.predicted_ms as number] };
  if (values.pareto) {
    io.out(`Pareto front (${result.front!.length} SubTransformers, ${result.evaluations} evaluations, ${result.seconds.toFixed(1)} s):`);
    for (const e of result.front!) io.out(`  ${e.latency.map((v) => `${v.toFixed(3)} ms`).join(" / ")}  loss ${e.loss.toFixed(4)}`);
  } else {
    const m = summary.measured_ms as number | undefined;
    io.out(`best: loss ${best.loss.toFixed(4)}, predicted ${best.latency.map((v) => `${v.toFixed(3)} ms`).join(" / ")}${m !== undefined ? `, measured ${m.toFixed(3)} ms` : ""}${summary.verdict ? ` (${summary.verdict})` : ""}, ${result.evaluations} evaluations in ${result.seconds.toFixed(1)} s`);
    io.out(`arch: ${JSON.stringify(best.arch as Arch)}`);
  }
}

/** `hat report --record FILE --out FILE`: the HTML report again from a search's record (`hat search --record`). */
export async function reportCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { record: { type: "string" }, out: { type: "string" }, model: { type: "string" }, forms: { type: "string" }, runs: { type: "string" }, rounds: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    io.out(`usage: hat report --record search.json --out report.html [--model winner.hatm [--forms ${QUANTS.join(",")}] [--runs 30] [--rounds 3]]

Writes the self-contained HTML report (inline SVG, nothing fetched) of a search from the record \`hat search --record\` wrote.
--model: the searched model (hat search --export, or its fine-tuned file): the report shows each form's file size
(hat quantize of the model; int8: the linear8 file) and its latency measured here at the form (hat profile --quant),
the forms in interleaved rounds, the fastest of each kept; the workload is the winner's measurement's (else HAT's) at the model's vocabulary.`);
    return;
  }
  const path = requireFlag(values, "record"), out = requireFlag(values, "out");
  const rec = readSearchRecord(path);
  if (values.model !== undefined) {
    const file = await readModelFile(values.model);
    const forms = values.forms === undefined ? QUANTS : values.forms.split(",").map((f) => quantFlag(f.trim()));
    const measured = rec.winner?.measured?.protocol;
    const protocol = protocolOf({ ...(measured ? { src_len: measured.src_len, tgt_len: measured.tgt_len, beam: measured.beam } : {}), vocab: file.header.vocab.size, runs: intFlag(values, "runs", 30), warmup: 2 });
    const progress = new Progress(process.stderr, 0);
    rec.forms = measureForms(file, modelArch(file), { forms, protocol, rounds: intFlag(values, "rounds", 3), onForm: (q, r) => progress.update(`measuring ${q}, round ${r + 1}`) });
    progress.done();
    for (const f of rec.forms) io.out(`${f.quant.padEnd(8)} ${(f.bytes / 1024).toFixed(1).padStart(9)} KiB  ${f.smaller.toFixed(2)}x smaller  ${f.totalMs.toFixed(3)} ms`);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderReport(rec));
  io.out(`wrote ${out}`);
}
