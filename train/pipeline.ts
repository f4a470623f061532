/**
 * Training as one call, what `hat train` and the server's train and finetune jobs run: a joint BPE
 * trained on the training text (or the tokenizer of the SuperTransformer fine-tuned from), the
 * text tokenized, the trainer run (checkpointing to OUT.ckpt, resumed from it when it exists), and
 * the result written as a model file: the SuperTransformer, or the compact SubTransformer of `arch`.
 */
import { largestArch, spaceOfArch } from "../runtime/arch-sample.js";
import { InputError } from "../runtime/errors.js";
import type { DecodedModel } from "../runtime/format.js";
import { writeModelFile } from "../runtime/model-files.js";
import { encodeTrained } from "../runtime/model.js";
import type { Space, ValidArch } from "../runtime/types.js";
import { Bpe } from "../data/bpe.js";
import { tokenizeTexts, type Texts } from "../data/texts.js";
import { finetuneStart } from "./start.js";
import { train, type Progress, type TrainOptions, type TrainResult } from "./trainer.js";

export { TRAIN_DEFAULTS } from "./defaults.js";

/** What to train, on what, for how long; every value already checked by whoever took it in. */
export interface TrainModelOptions extends Pick<TrainOptions, "steps" | "minutes" | "maxTokens" | "dropout" | "clipNorm" | "labelSmoothing" | "validEvery" | "validEverySec" | "recipe" | "average" | "seed" | "backend" | "threads" | "checkpointSeconds" | "sampling" | "onProgress" | "log" | "signal"> {
  data: { train: Texts; valid: Texts };
  /** The SuperTransformer's space; with `arch`, that SubTransformer alone (its space: `init`'s, or its own). */
  space?: Space;
  arch?: ValidArch;
  /** A model to fine-tune `arch` from, its weights and its tokenizer: a SuperTransformer, or a compact SubTransformer trained further as itself (`arch` then optional). */
  init?: DecodedModel;
  /** Tokens of the joint BPE trained when `init` brings no tokenizer. */
  vocabSize: number;
  lr: { maxLr: number; warmup: number; schedule?: "cosine" | "inverse-sqrt" };
  /** The model file written; checkpoints go to `${out}.ckpt`. */
  out: string;
  /**
   * Fine-tuning with token-level knowledge distillation from `init` (docs/method.md §9): the
   * teacher is `init`'s SubTransformer `arch` (default its largest), top-k soft labels (default 5)
   * weighted `weight` (default 0.5).
   */
  distill?: { arch?: ValidArch; topK?: number; weight?: number };
}

export interface TrainModelResult {
  out: string;
  bytes: Uint8Array;
  /** The model's vocabulary size (its tokenizer's): what its latency campaigns measure at. */
  vocab: number;
  result: TrainResult;
}

export async function trainModel(o: TrainModelOptions): Promise<TrainModelResult> {
  const { data, space: superSpace, init: initFile, vocabSize, lr, out, distill, ...trainer } = o;
  if (distill && initFile?.header.kind !== "supertransformer") throw new InputError("distillation needs a teacher: fine-tune from a SuperTransformer (--init)");
  const log = o.log ?? (() => {});
  // the space, the starting weights (./start.ts: a SuperTransformer's, or a compact model's) and (when fine-tuning) the tokenizer
  const start = initFile ? finetuneStart(initFile, o.arch) : undefined;
  const arch = start?.arch ?? o.arch;
  const space = start ? start.space : arch ? spaceOfArch(arch) : superSpace!;
  const init = start?.tensors;
  let bpe = initFile?.header.tokenizer ? Bpe.fromJSON(initFile.header.tokenizer) : undefined;
  if (!bpe) {
    const t0 = performance.now();
    bpe = Bpe.train([...data.train.src, ...data.train.tgt], { vocabSize });
    log(`tokenizer: joint BPE, ${bpe.vocab().size} tokens (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const vocab = bpe.vocab();
  const r = await train({
    ...trainer, space, arch, init, vocab, tokenizer: bpe.toJSON(),
    distill: distill && init ? { tensors: init, arch: distill.arch ?? largestArch(space), topK: distill.topK, weight: distill.weight } : undefined,
    train: tokenizeTexts(bpe, data.train), valid: tokenizeTexts(bpe, data.valid),
    lr: { maxLr: lr.maxLr, warmup: lr.warmup, schedule: lr.schedule ?? "cosine" },
    checkpoint: `${out}.ckpt`,
  });
  const positionDims = { encoder: Math.max(...space.encoderEmbedChoices), decoder: Math.max(...space.decoderEmbedChoices) };
  const meta = { trained: { steps: r.steps, seconds: r.seconds, validLoss: r.validLoss, trainLoss: r.trainLoss, backend: r.backend.name, threads: r.threads, tokensPerSec: r.tokensPerSec, recipe: r.recipe, kept: r.kept } };
  const bytes = encodeTrained({ arch, space, positionDims, vocab, tokenizer: bpe.toJSON(), meta }, r.tensors);
  await writeModelFile(out, bytes);
  return { out, bytes, vocab: vocab.size, result: r };
}

/** The training run's JSON summary (`hat train --json`, the train and finetune jobs' results). */
export function trainSummary(r: TrainModelResult): Record<string, unknown> {
  const t = r.result;
  const recipe = t.recipe && { max_tokens: t.recipe.maxTokens, warmup: t.recipe.warmup, lr: t.recipe.maxLr, expected_updates: t.recipe.expectedUpdates, fixed: t.recipe.fixed, probe: t.recipe.probe };
  return {
    out: r.out, vocab: r.vocab, steps: t.steps, valid_loss: t.validLoss, train_loss: t.trainLoss, tokens_per_sec: t.tokensPerSec, backend: t.backend.name, threads: t.threads, seconds: t.seconds,
    recipe, kept: t.kept.kept, kept_step: t.kept.step, valid_losses: t.kept.losses,
  };
}

/**
 * One line of a run's position: a bar, the loss, the rate and the time left. A time budget's total
 * is not known before the first updates are timed (totalSteps 0): `step 1/?`, never `step 1/0`.
 */
export function progressLine(p: Progress): string {
  const pct = p.totalSteps ? Math.min(100, (100 * p.step) / p.totalSteps) : 0;
  const bar = "#".repeat(Math.round(pct / 5)).padEnd(20, ".");
  const eta = p.etaSec > 0 ? `${Math.floor(p.etaSec / 60)}m${String(Math.round(p.etaSec % 60)).padStart(2, "0")}s` : "-";
  return `[${bar}] step ${p.step}/${p.totalSteps > 0 ? p.totalSteps : "?"} loss ${p.loss.toFixed(3)}${p.validLoss !== undefined ? ` valid ${p.validLoss.toFixed(3)}` : ""} lr ${p.lr.toExponential(1)} ${Math.round(p.tokensPerSec)} tok/s ETA ${eta}`;
}

export type { Progress };
