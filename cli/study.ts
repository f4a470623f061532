/** `hat study proxy | latency | evolution | all`: HAT's evidence on your corpus (search/study-run.ts, docs/method.md §12). */
import { parseArgs } from "node:util";
import { demoTask } from "../data/demo-task.js";
import { readTexts, type Texts } from "../data/texts.js";
import { SEARCH_DEFAULTS } from "../search/defaults.js";
import { runStudy, STUDIES, type StudyName } from "../search/study-run.js";
import { intFlag, numFlag, optIntFlag, optNumFlag, requireFlag } from "./args.js";
import { UsageError, type Io } from "./io.js";

const HELP = `usage: hat study proxy|latency|evolution|all --supernet FILE [--predictor FILE]
                 (--demo | --train-src F --train-tgt F --valid-src F --valid-tgt F [--test-src F --test-tgt F])
                 (--finetune-steps N | --finetune-minutes M) [--archs 8] [--latency-ms 3,4,5] [--seeds 1,2,3]
                 [--generations 30] [--population 125] [--parents 25] [--mutations 50] [--crossovers 50]
                 [--lr 0.001] [--max-tokens 4096] [--warmup 100] [--dropout 0.1]
                 (with --demo: --lr 0.0005 --max-tokens 1024 --dropout 0, as hat search --demo)
                 [--measure-runs N] [--measure-warmup N] [--valid-max 200] [--bleu-max 200] [--seed 1] [--threads N]
                 [--record JSON] [--report HTML] [--json]

HAT's evidence for one SuperTransformer and one device (docs/method.md §12):
  proxy      the proxy check (paper Table 5 / Fig 11): --archs SubTransformers spread over the space
             by parameters, each one's inherited validation loss against its loss and test BLEU
             after the same fine-tuning budget; Kendall tau.
  latency    BLEU against measured latency (Fig 7) and the searched model against the largest
             (Table 4): the search at each --latency-ms (default three over the range the space
             reaches on --predictor's device), baselines scaled by layer count and by dimension at
             the same constraints, and the largest SubTransformer; every model measured here with
             the predictor's protocol and fine-tuned with the same budget.
  evolution  evolution against random search at equal evaluations (Fig 9), one run per --seeds,
             at the middle --latency-ms (finetune flags not needed).
  all        the three, in one record and one report.
--predictor is the device's latency predictor (latency and evolution); its data measured on this
machine, as the latency study measures here.`;

const OPTIONS = {
  supernet: { type: "string" }, predictor: { type: "string" }, demo: { type: "boolean" }, "demo-seed": { type: "string" },
  "train-src": { type: "string" }, "train-tgt": { type: "string" }, "valid-src": { type: "string" }, "valid-tgt": { type: "string" },
  "test-src": { type: "string" }, "test-tgt": { type: "string" }, "finetune-steps": { type: "string" }, "finetune-minutes": { type: "string" },
  lr: { type: "string" }, "max-tokens": { type: "string" }, warmup: { type: "string" }, dropout: { type: "string" },
  archs: { type: "string" }, "latency-ms": { type: "string" }, seeds: { type: "string" },
  generations: { type: "string" }, population: { type: "string" }, parents: { type: "string" }, mutations: { type: "string" }, crossovers: { type: "string" },
  "measure-runs": { type: "string" }, "measure-warmup": { type: "string" },
  "valid-max": { type: "string" }, "bleu-max": { type: "string" }, seed: { type: "string" }, threads: { type: "string" },
  record: { type: "string" }, report: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
} as const;

/** A comma-separated list of numbers, each checked by `ok`. */
function listFlag(values: Record<string, unknown>, name: string, ok: (n: number) => boolean, what: string): number[] | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const parts = String(v).split(",").map((s) => s.trim());
  const ns = parts.map(Number);
  const bad = parts.findIndex((s, i) => s === "" || !ok(ns[i]));
  if (bad >= 0 || parts.length > 100) throw new UsageError(`--${name} must be a comma-separated list of ${what} (at most 100), got '${String(v)}'`);
  return ns;
}

export async function studyCommand(argv: string[], io: Io): Promise<void> {
  const [what, ...rest] = argv;
  if (what === undefined || what === "--help" || what === "-h") { io.out(HELP); return; }
  if (!(STUDIES as readonly string[]).includes(what)) throw new UsageError(`hat study: unknown study '${what}' (known: ${STUDIES.join(", ")})`);
  const study = what as StudyName;
  const { values } = parseArgs({ args: rest, strict: true, options: OPTIONS });
  if (values.help) { io.out(HELP); return; }
  const steps = optIntFlag(values, "finetune-steps"), minutes = optNumFlag(values, "finetune-minutes");
  if (steps !== undefined && minutes !== undefined) throw new UsageError("give one of --finetune-steps and --finetune-minutes, not both");
  if (study !== "evolution" && steps === undefined && minutes === undefined) throw new UsageError("give --finetune-steps or --finetune-minutes (the same budget for every model)");
  const archs = intFlag(values, "archs", 8, 3);
  if (archs > 100) throw new UsageError(`--archs must be at most 100, got ${archs}`);
  const E = SEARCH_DEFAULTS.evolution;
  const evolution = {
    generations: intFlag(values, "generations", E.generations), population: intFlag(values, "population", E.population), parents: intFlag(values, "parents", E.parents),
    mutations: intFlag(values, "mutations", E.mutations, 0), crossovers: intFlag(values, "crossovers", E.crossovers, 0), mutationProb: E.mutationProb, seed: intFlag(values, "seed", E.seed, 0),
  };
  if (evolution.parents > evolution.population) throw new UsageError(`--parents (${evolution.parents}) cannot exceed --population (${evolution.population})`);
  const split = (s: "train" | "valid" | "test", need: boolean): Texts | undefined => {
    if (values[`${s}-src`] !== undefined || values[`${s}-tgt`] !== undefined) return readTexts(requireFlag(values, `${s}-src`), requireFlag(values, `${s}-tgt`), (l) => io.err(l));
    if (values.demo) return demoTask({ seed: intFlag(values, "demo-seed", 1, 0) })[s];
    if (need) throw new UsageError(`give --demo or --${s}-src/--${s}-tgt`);
    return undefined;
  };
  const measureRuns = optIntFlag(values, "measure-runs"), measureWarmup = optIntFlag(values, "measure-warmup", 0);
  const r = await runStudy({
    study, supernet: requireFlag(values, "supernet"), predictor: values.predictor,
    train: study === "evolution" ? { src: [], tgt: [] } : split("train", true)!, valid: split("valid", true)!, test: split("test", false),
    // with --demo, the demo recipe at a fine-tuning rate (as hat search --demo); else the fine-tuning defaults (search/after.ts)
    finetune: {
      steps, minutes,
      maxTokens: values.demo ? intFlag(values, "max-tokens", 1024) : optIntFlag(values, "max-tokens"),
      lr: values.demo ? numFlag(values, "lr", 5e-4) : optNumFlag(values, "lr"),
      warmup: optIntFlag(values, "warmup", 0),
      dropout: values.demo ? numFlag(values, "dropout", 0) : optNumFlag(values, "dropout"),
    },
    archs,
    latencyMs: listFlag(values, "latency-ms", (n) => Number.isFinite(n) && n > 0, "positive ms"),
    seeds: listFlag(values, "seeds", (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 31, "integer seeds"),
    evolution, validMax: intFlag(values, "valid-max", 200), bleuMax: intFlag(values, "bleu-max", 200), seed: intFlag(values, "seed", 1, 0), threads: optIntFlag(values, "threads"),
    measure: { ...(measureRuns !== undefined && { runs: measureRuns }), ...(measureWarmup !== undefined && { warmup: measureWarmup }) },
    record: values.record, report: values.report, log: (l) => io.err(l),
  });
  if (values.json) { io.out(JSON.stringify(study === "all" ? r.summary : r.summary[study])); return; }
  io.out(headline(r.summary));
  if (values.report) io.out(`report ${values.report}`);
}

/** One line per study: the numbers the study is for. */
function headline(s: Record<string, unknown>): string {
  const lines: string[] = [];
  const p = s.proxy as { kendall_tau_loss: number; kendall_tau_bleu: number | null; rows: unknown[]; seconds: number } | undefined;
  if (p) lines.push(`proxy: Kendall tau of the inherited loss against the fine-tuned loss ${p.kendall_tau_loss.toFixed(3)}${p.kendall_tau_bleu !== null ? `, against -BLEU ${p.kendall_tau_bleu.toFixed(3)}` : ""} (${p.rows.length} SubTransformers, ${p.seconds.toFixed(0)} s)`);
  type Model = { usual_ms: number; bleu: number | null; finetuned_loss: number };
  const l = s.latency as { models: Model[]; equal_latency: { searched: number; layers: number | null; dimension: number | null }[]; seconds: number } | undefined;
  if (l) {
    const q = (i: number | null) => (i === null ? "none as fast" : `${l.models[i].bleu !== null ? `BLEU ${l.models[i].bleu!.toFixed(2)}` : `loss ${l.models[i].finetuned_loss.toFixed(4)}`} at ${l.models[i].usual_ms.toFixed(3)} ms`);
    for (const e of l.equal_latency) lines.push(`latency: searched ${q(e.searched)}; scaled by layers ${q(e.layers)}; by dimension ${q(e.dimension)}`);
  }
  const e = s.evolution as { wins: number; ties: number; losses: number; runs: unknown[]; constraint_ms: number } | undefined;
  if (e) lines.push(`evolution: lower than random search in ${e.wins} of ${e.runs.length} seeds (level ${e.ties}, higher ${e.losses}) at ${e.constraint_ms} ms`);
  return lines.join("\n");
}
