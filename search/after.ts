/**
 * After the search (docs/method.md §9): the winner exported as a compact standalone model (only
 * its slices, so its parameter count is the SubTransformer's), fine-tuned from its inherited
 * weights or trained from scratch with the trainer, scored with BLEU, and its real latency
 * measured in this machine's wasm runtime with the predictor's protocol.
 */
import { archParams } from "../runtime/arch-features.js";
import { largestArch, spaceOfArch } from "../runtime/arch-sample.js";
import { InputError } from "../runtime/errors.js";
import { translateLines } from "../runtime/decode.js";
import type { DecodedModel } from "../runtime/format.js";
import { encodeTrained, exportSubTransformer, HatModel } from "../runtime/model.js";
import { profileFastest, type ProfileResult } from "../runtime/profile.js";
import type { Protocol } from "../runtime/protocol.js";
import type { ValidArch } from "../runtime/types.js";
import { archTensorShapes, paramCount, type TensorMap } from "../runtime/weights.js";
import type { Bpe } from "../data/bpe.js";
import { bleu, type BleuResult } from "../data/bleu.js";
import { givenSettings } from "../train/defaults.js";
import { train, withoutAdamState, type TrainOptions, type TrainResult } from "../train/trainer.js";

/** The compact model of `arch` with inherited weights, and its parameter count. */
export function exportWinner(supernet: DecodedModel, arch: ValidArch, meta: Record<string, unknown> = {}): { bytes: Uint8Array; params: number } {
  const bytes = exportSubTransformer({ ...supernet, header: { ...supernet.header, meta: { ...supernet.header.meta, search: meta } } }, arch);
  return { bytes, params: archParams(arch, supernet.header.vocab.size) };
}

/** What fine-tuning takes: the winner, its data and budget as the trainer takes them, and a peak rate. */
export interface FinetuneOptions extends Pick<TrainOptions, "train" | "valid" | "steps" | "minutes" | "maxTokens" | "dropout" | "seed" | "checkpoint" | "onProgress" | "log" | "threads"> {
  supernet: DecodedModel;
  arch: ValidArch;
  /** "finetune": from the inherited weights (HAT's cheaper path); "scratch": fresh initialisation. */
  mode: "finetune" | "scratch";
  /**
   * Peak learning rate (default 1e-3), its linear warm-up in updates (default 100) and the batch
   * (default 4,096 tokens); those left out are sized by a time budget's recipe (train/recipe.ts).
   */
  lr?: number;
  warmup?: number;
  /** Token-level knowledge distillation from the SuperTransformer's largest SubTransformer (mode finetune only). */
  distill?: { weight?: number; topK?: number };
}

/** Train the winner; returns the compact model's bytes and the trainer's result. */
export async function finetuneWinner(o: FinetuneOptions): Promise<{ bytes: Uint8Array; result: TrainResult }> {
  const h = o.supernet.header;
  if (!h.space) throw new RangeError("fine-tuning needs the SuperTransformer's space");
  const init: TensorMap | undefined = o.mode === "finetune" ? withoutAdamState(o.supernet.tensors) : undefined;
  const space = o.mode === "finetune" ? h.space : spaceOfArch(o.arch);
  if (o.distill && !init) throw new InputError("distillation needs the inherited weights (fine-tuning, not training from scratch)");
  const result = await train({
    space, arch: o.arch, init, vocab: h.vocab, tokenizer: h.tokenizer, train: o.train, valid: o.valid,
    steps: o.steps, minutes: o.minutes, maxTokens: o.maxTokens ?? 4096,
    lr: { maxLr: o.lr ?? 1e-3, warmup: o.warmup ?? 100 }, recipe: { fixed: givenSettings({ maxTokens: o.maxTokens, warmup: o.warmup, lr: o.lr }) },
    dropout: o.dropout, threads: o.threads, seed: o.seed ?? 1, checkpoint: o.checkpoint, onProgress: o.onProgress, log: o.log,
    distill: o.distill && init ? { tensors: init, arch: largestArch(space), topK: o.distill.topK, weight: o.distill.weight } : undefined,
  });
  const positionDims = o.mode === "finetune" ? h.positionDims : { encoder: o.arch.encoderEmbedDim, decoder: o.arch.decoderEmbedDim };
  const bytes = encodeTrained({
    arch: o.arch, space: h.space, positionDims, vocab: h.vocab, tokenizer: h.tokenizer,
    meta: { params: paramCount(archTensorShapes(o.arch, h.vocab.size)), trained: { mode: o.mode, steps: result.steps, seconds: result.seconds, validLoss: result.validLoss, backend: result.backend.name } },
  }, result.tensors);
  return { bytes, result };
}

/** Real latency of `arch` in this process's wasm runtime with the protocol (random weights of its shapes; the fastest of its rounds). */
export function measureWinner(arch: ValidArch, p: Protocol, onRun?: (done: number, total: number) => void): ProfileResult {
  return profileFastest(arch, p, { onRun });
}

/** Corpus BLEU of a compact model (or a SuperTransformer's `arch`) on sentences, beam search. */
export function bleuOfModel(model: HatModel, bpe: Bpe, src: readonly string[], refs: readonly string[], o: { arch?: ValidArch; beam?: number; lenpen?: number; batch?: number } = {}): { result: BleuResult; hyps: string[] } {
  const hyps = translateLines(model.subnet(o.arch), bpe, src, { beam: o.beam ?? 4, lenpen: o.lenpen ?? 0.6, batch: o.batch });
  return { result: bleu(hyps, refs), hyps };
}
