/** `hat train`: train a SuperTransformer (or one SubTransformer) on a corpus or the built-in demo task. */
import { parseArgs } from "node:util";
import { loadArch } from "../runtime/arch-files.js";
import type { DecodedModel } from "../runtime/format.js";
import { readModelFile } from "../runtime/model-files.js";
import type { Space, ValidArch } from "../runtime/types.js";
import { demoTask } from "../data/demo-task.js";
import { readTexts, type Texts } from "../data/texts.js";
import { givenSettings } from "../train/defaults.js";
import { progressLine, trainModel, trainSummary, TRAIN_DEFAULTS as D, type Progress as TrainProgress } from "../train/pipeline.js";
import { intFlag, numFlag, optIntFlag, optNumFlag, requireFlag, spaceArg } from "./args.js";
import { Progress, UsageError, type Io } from "./io.js";

/** Training budget of `--demo` when neither --steps nor --minutes is given. */
const DEMO_MINUTES = 5;
/**
 * Defaults with --demo (measured: the demo space's SubTransformers learn the demo task in a few
 * hundred updates of small batches at a high rate; the data is noiseless, so no dropout).
 */
const DEMO_DEFAULTS = { "max-tokens": "1024", lr: "0.005", warmup: "100", dropout: "0" };
/** --demo's recipe is its own: a time budget sizes none of it. */
const DEMO_FIXED = { maxTokens: DEMO_DEFAULTS["max-tokens"], warmup: DEMO_DEFAULTS.warmup, lr: DEMO_DEFAULTS.lr };

const HELP = `usage: hat train (--src FILE --tgt FILE --valid-src FILE --valid-tgt FILE | --demo)
                 (--space FILE|demo|wmt14|iwslt14|multi30k|cpu-server | --arch FILE [--init SUPERNET.hatm] | --init MODEL.hatm)
                 (--steps N | --minutes M; --demo alone: 5 minutes) --out MODEL
                 [--vocab-size 8000] [--max-tokens 4096] [--lr 0.001] [--warmup 400]
                 [--schedule cosine|inverse-sqrt] [--sampling uniform|sandwich] [--dropout 0.1]
                 (--demo changes the defaults to --vocab-size 1000 --max-tokens 1024 --lr 0.005
                  --warmup 100 --dropout 0)
                 [--clip-norm 0] [--label-smoothing 0.1] [--valid-every N] [--seed 1] [--backend NAME]
                 [--threads N (default: every core on the wasm/cpu backends)] [--checkpoint-seconds 60]
                 [--recipe auto|fixed] [--average N]
                 [--distill [--teacher-arch FILE] [--distill-weight 0.5] [--distill-top 5]]   (with --init)

With --space: trains the SuperTransformer, one SubTransformer sampled per update (the sandwich rule
trains the largest, the smallest and a random one). With --arch: trains that SubTransformer alone,
from scratch, or fine-tuned from the inherited weights of --init; the output is a compact model.
--init a compact SubTransformer (an export's, a search's or a fine-tune's output) trains it further
as itself (--arch, if given, must be its own).
With --minutes alone the recipe is sized to the budget (--recipe auto): the first updates are
timed, then the batch size, the warm-up and the peak rate that were not given are chosen so that
the budget makes ~1,000 updates, most past warm-up (printed as "recipe: ..."); --recipe fixed uses
the values as given. The model is validated every budget/8 and the weights kept are the final ones
or the best by validation loss; --average N also tries the mean of the last N validated snapshots.
--distill (fine-tuning from --init): token-level knowledge distillation, each position's loss mixed
with the cross-entropy against the top-k tokens of a teacher, the SuperTransformer's largest
SubTransformer (or --teacher-arch).
Checkpoints go to MODEL.ckpt every minute (--checkpoint-seconds); running the same command again
resumes from it.
The output model carries its tokenizer (joint BPE trained on the training data).`;

interface Data {
  train: Texts;
  valid: Texts;
}

export function loadData(values: Record<string, unknown>, io: Io): Data {
  if (values.demo) {
    const t = demoTask({ seed: intFlag(values, "seed", 1, 0) });
    io.err(`data: the built-in demo task (${t.train.src.length} training pairs, ${t.valid.src.length} validation)`);
    return { train: t.train, valid: t.valid };
  }
  const read = (s: string, t: string) => readTexts(requireFlag(values, s), requireFlag(values, t), (l) => io.err(l));
  return { train: read("src", "tgt"), valid: read("valid-src", "valid-tgt") };
}

/** The trainer's progress on `progress`: a line a second at most, each validation kept. */
export function progressPrinter(progress: Progress): (p: TrainProgress) => void {
  let lastPrint = 0;
  return (p) => {
    const now = performance.now();
    if (now - lastPrint > 1000 || p.validLoss !== undefined) {
      lastPrint = now;
      progress.update(progressLine(p), p.validLoss !== undefined);
    }
  };
}

export async function trainCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      src: { type: "string" }, tgt: { type: "string" }, "valid-src": { type: "string" }, "valid-tgt": { type: "string" }, demo: { type: "boolean" },
      space: { type: "string" }, arch: { type: "string" }, init: { type: "string" }, out: { type: "string" },
      steps: { type: "string" }, minutes: { type: "string" }, "vocab-size": { type: "string" }, "max-tokens": { type: "string" },
      lr: { type: "string" }, warmup: { type: "string" }, schedule: { type: "string" }, sampling: { type: "string" },
      dropout: { type: "string" }, "clip-norm": { type: "string" }, "label-smoothing": { type: "string" }, "valid-every": { type: "string" },
      seed: { type: "string" }, backend: { type: "string" }, threads: { type: "string" }, "checkpoint-seconds": { type: "string" },
      recipe: { type: "string" }, average: { type: "string" },
      distill: { type: "boolean" }, "teacher-arch": { type: "string" }, "distill-weight": { type: "string" }, "distill-top": { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  // the settings the recipe keeps: the user's, and --demo's own
  const fixed = givenSettings(values.demo ? DEMO_FIXED : { maxTokens: values["max-tokens"], warmup: values.warmup, lr: values.lr });
  if (values.demo) for (const [k, v] of Object.entries(DEMO_DEFAULTS)) (values as Record<string, unknown>)[k] ??= v;
  if (values.recipe !== undefined && values.recipe !== "auto" && values.recipe !== "fixed") throw new UsageError(`--recipe must be auto or fixed, got '${values.recipe}'`);
  const out = requireFlag(values, "out");
  if (values.space !== undefined && values.arch !== undefined) throw new UsageError("give exactly one of --space (SuperTransformer) and --arch (one SubTransformer)");
  if (values.space === undefined && values.arch === undefined && values.init === undefined) throw new UsageError("give exactly one of --space (SuperTransformer) and --arch (one SubTransformer)");
  if (values.steps === undefined && values.minutes === undefined) {
    if (!values.demo) throw new UsageError("give --steps N or --minutes M");
    values.minutes = String(DEMO_MINUTES); // the demo task's default budget
  }
  if (values.schedule && values.schedule !== "cosine" && values.schedule !== "inverse-sqrt") throw new UsageError(`--schedule must be cosine or inverse-sqrt, got '${values.schedule}'`);
  if (values.sampling && values.sampling !== "uniform" && values.sampling !== "sandwich") throw new UsageError(`--sampling must be uniform or sandwich, got '${values.sampling}'`);

  // the space, the fixed arch, and the SuperTransformer fine-tuned from: checked here, trusted by trainModel
  let space: Space | undefined, arch: ValidArch | undefined, init: DecodedModel | undefined;
  if (values.init) {
    init = await readModelFile(values.init);
    if (values.space !== undefined) throw new UsageError("--init goes with --arch (fine-tuning one SubTransformer), not --space");
    if (init.header.kind === "supertransformer" && values.arch === undefined) throw new UsageError(`--init ${values.init} is a SuperTransformer: say which SubTransformer to fine-tune (--arch FILE)`);
  }
  if (values.arch) arch = loadArch(values.arch, init?.header.space);
  else if (!init) space = spaceArg(values.space!);

  const distillFlags = ["teacher-arch", "distill-weight", "distill-top"].filter((k) => values[k as keyof typeof values] !== undefined);
  if (distillFlags.length && !values.distill) throw new UsageError(`--${distillFlags[0]} goes with --distill`);
  if (values.distill && init?.header.kind !== "supertransformer") throw new UsageError("--distill needs a teacher: fine-tune from a SuperTransformer with --arch FILE --init SUPERNET.hatm");
  const distillWeight = numFlag(values, "distill-weight", 0.5, 0);
  if (distillWeight > 1) throw new UsageError(`--distill-weight must be in [0, 1], got ${distillWeight}`);
  const distill = values.distill ? {
    arch: values["teacher-arch"] ? loadArch(values["teacher-arch"], init!.header.space) : undefined,
    weight: distillWeight, topK: intFlag(values, "distill-top", 5, 1),
  } : undefined;
  const data = loadData(values, io);
  const vocabSize = intFlag(values, "vocab-size", values.demo ? 1000 : D.vocabSize, 300);
  const average = intFlag(values, "average", 0, 0);
  if (average > 100) throw new UsageError(`--average must be at most 100, got ${average}`);
  const progress = new Progress();
  const r = await trainModel({
    data, space, arch, init, vocabSize, out, sampling: (values.sampling as "uniform" | "sandwich") ?? D.sampling,
    steps: optIntFlag(values, "steps"), minutes: optNumFlag(values, "minutes"),
    maxTokens: intFlag(values, "max-tokens", D.maxTokens),
    lr: {
      maxLr: numFlag(values, "lr", D.lr), warmup: intFlag(values, "warmup", D.warmup, 0),
      schedule: (values.schedule as "cosine" | "inverse-sqrt") ?? D.schedule,
    },
    dropout: numFlag(values, "dropout", D.dropout), clipNorm: numFlag(values, "clip-norm", D.clipNorm),
    labelSmoothing: numFlag(values, "label-smoothing", D.labelSmoothing),
    validEvery: optIntFlag(values, "valid-every"),
    seed: intFlag(values, "seed", D.seed, 0), backend: values.backend,
    checkpointSeconds: numFlag(values, "checkpoint-seconds", D.checkpointSeconds, 1),
    threads: optIntFlag(values, "threads"),
    recipe: values.recipe === "fixed" ? false : { fixed }, average, distill,
    onProgress: progressPrinter(progress),
    log: (l) => io.err(l),
  });
  progress.done();
  const t = r.result;
  if (values.json) io.out(JSON.stringify(trainSummary(r)));
  else io.out(`wrote ${out}: ${t.steps} updates in ${t.seconds.toFixed(0)} s on ${t.backend.name} x ${t.threads} thread${t.threads > 1 ? "s" : ""} (${Math.round(t.tokensPerSec)} tokens/s), validation loss ${t.validLoss.toFixed(3)}${t.kept.kept === "final" ? "" : ` (the ${t.kept.kept} weights; ${t.kept.losses.final.toFixed(3)} at the end)`}`);
}
