/**
 * Training memory, estimated before training (docs/training.md "Spaces that fit the machine").
 *
 * tfjs-backend-wasm has one 4 GiB heap per thread (wasm32), and a SuperTransformer that does not
 * fit dies deep in a kernel with "memory access out of bounds". So the trainer estimates the peak
 * of the busiest thread first and refuses what will not fit, naming the part that does not fit
 * and the batch that would.
 *
 * The estimate, in float32s, for a thread whose shard has N padded tokens a side:
 *
 *   persistent  P · 1                            the weights (Adam's moments are JS arrays, outside the heap)
 *   per update  P · C_PARAMS                      gradients (fitted when their clipped copies were
 *                                                 tensors too: an over-estimate since)
 *             + N · V · C_VOCAB                   logits, log-softmax, the loss and their gradients
 *             + N · Σ_layers (C_DIM · D + C_FFN · F)   every activation tfjs's tape keeps
 *             + N · Σ_attention H · T · C_SCORES  attention scores and probabilities
 *
 * P the SuperTransformer's parameters, V the vocabulary, D / F the super embed and FFN dims, T the
 * longest sequence. The coefficients were fitted to the engine's peak bytes (`tf.profile`) of one
 * update of the largest SubTransformer on batches of the worst length, on the cpu backend, over
 * embed 64-256, FFN 256-1024, 2-4 layers, V 1000-8000, 1024-2048 tokens; `test/train/memory.test.ts`
 * checks them against measured peaks of other shapes. The wasm heap's allocator adds its
 * fragmentation on top (HEAP_SLACK).
 */
import { superDims } from "../runtime/arch.js";
import { InputError } from "../runtime/errors.js";
import type { Space } from "../runtime/types.js";
import { shapeSize, superTensorShapes } from "../runtime/weights.js";

export const C_PARAMS = 2.5;
export const C_VOCAB = 12.5;
export const C_DIM = 145;
export const C_FFN = 3.7;
export const C_SCORES = 7;
/** The wasm allocator's headroom: a heap grows past the live bytes. */
export const HEAP_SLACK = 1.2;
/** tfjs-backend-wasm's heap limit per thread (emscripten's maximum for wasm32). */
export const WASM_HEAP_BYTES = 4294901760;

export interface MemoryInput {
  space: Space;
  vocabSize: number;
  /** Padded tokens of a batch (--max-tokens). */
  maxTokens: number;
  /** Threads sharing each batch (./data-parallel.ts): each holds a shard. */
  threads: number;
  /** The longest sequence of the corpus (source or target, eos included); default 128. */
  longest?: number;
}

/** Bytes of the busiest thread (the main one), by part. */
export interface MemoryEstimate {
  params: number;
  weights: number;
  gradients: number;
  logits: number;
  activations: number;
  attention: number;
  /** The main thread's peak, HEAP_SLACK included. */
  total: number;
  /** Padded tokens of one thread's shard. */
  shardTokens: number;
}

export function estimateTrainingMemory(i: MemoryInput): MemoryEstimate {
  const d = superDims(i.space);
  const P = [...superTensorShapes(i.space, i.vocabSize).values()].reduce((s, x) => s + shapeSize(x), 0);
  const N = Math.ceil(i.maxTokens / Math.max(1, i.threads));
  const T = Math.min(i.longest ?? 128, i.maxTokens);
  const maxHeads = (xs: number[]) => Math.max(...xs);
  const layers = d.encoderLayers * (C_DIM * d.encoderEmbedDim + C_FFN * d.encoderFfnDim) + d.decoderLayers * (C_DIM * d.decoderEmbedDim + C_FFN * d.decoderFfnDim);
  const scores = d.encoderLayers * maxHeads(i.space.encoderHeadChoices) + d.decoderLayers * (maxHeads(i.space.decoderSelfHeadChoices) + maxHeads(i.space.decoderCrossHeadChoices));
  const f = 4; // bytes a float
  const parts = {
    params: P,
    weights: P * f,
    gradients: C_PARAMS * P * f,
    logits: N * i.vocabSize * C_VOCAB * f,
    activations: N * layers * f,
    attention: N * scores * T * C_SCORES * f,
  };
  const live = parts.weights + parts.gradients + parts.logits + parts.activations + parts.attention;
  return { ...parts, total: live * HEAP_SLACK, shardTokens: N };
}

/** A space and batch whose training will not fit the backend's memory. */
export class TrainingMemoryError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = "TrainingMemoryError";
  }
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** The largest --max-tokens that fits (0 if even the weights do not), for the message. */
export function largestFittingBatch(i: MemoryInput, limit = WASM_HEAP_BYTES): number {
  let lo = 0, hi = Math.max(64, i.maxTokens);
  if (estimateTrainingMemory({ ...i, maxTokens: hi }).total <= limit) return hi;
  while (hi - lo > 16) {
    const mid = (lo + hi) >> 1;
    if (estimateTrainingMemory({ ...i, maxTokens: mid }).total <= limit) lo = mid;
    else hi = mid;
  }
  return lo < 64 ? 0 : Math.floor(lo / 64) * 64;
}

/**
 * Refuse a run that will not fit: only on the wasm backend, whose heap is bounded (the native
 * backends use the machine's memory, the cpu backend JS's). Returns the estimate either way.
 */
export function checkTrainingMemory(i: MemoryInput, backend: string, limit = WASM_HEAP_BYTES): MemoryEstimate {
  const e = estimateTrainingMemory(i);
  if (backend !== "wasm" || e.total <= limit) return e;
  const parts: [string, number][] = [["weights", e.weights], ["gradients", e.gradients], ["the output layer (batch x vocabulary)", e.logits], ["activations (batch x embed dims x layers)", e.activations], ["attention scores", e.attention]];
  const [what, bytes] = parts.sort((a, b) => b[1] - a[1])[0];
  const fits = largestFittingBatch(i, limit);
  const d = superDims(i.space);
  const advice = fits > 0
    ? `--max-tokens ${fits} fits (now ${i.maxTokens}${i.threads > 1 ? `, shared by ${i.threads} threads` : ""}); or shrink the largest embed dim (${Math.max(d.encoderEmbedDim, d.decoderEmbedDim)}), the layers (${d.encoderLayers}+${d.decoderLayers}) or the vocabulary (${i.vocabSize})`
    : `no batch fits: shrink the largest embed dim (${Math.max(d.encoderEmbedDim, d.decoderEmbedDim)}), the FFN dim (${Math.max(d.encoderFfnDim, d.decoderFfnDim)}), the layers (${d.encoderLayers}+${d.decoderLayers}) or the vocabulary (${i.vocabSize})`;
  throw new TrainingMemoryError(
    `this SuperTransformer needs about ${gib(e.total)} a thread to train (${e.params.toLocaleString("en-US")} parameters, ${e.shardTokens} tokens a thread), ` +
    `more than the wasm backend's ${gib(limit)} heap; the largest part is ${what}: ${gib(bytes)}. ${advice}. ` +
    "A native backend (@tensorflow/tfjs-node or -node-gpu, where they install) has no such limit.",
  );
}
