/**
 * One training update of a SubTransformer of the SuperTransformer (docs/method.md §3):
 * forward with dropout, label-smoothed loss averaged over the batch's target tokens, gradients
 * (only into the sampled SubTransformer's slices), optional clipping by global norm, Adam.
 *
 * The update is two halves so that several threads can share one batch (./data-parallel.ts):
 * `shardGradients` (the gradients of one shard's summed loss divided by the whole batch's token
 * count: shards' gradients add up to the batch's) and `applyGradients` (clip, Adam).
 *
 * An update may train several SubTransformers on the same batch (the sandwich rule, docs/method.md
 * §3): their gradients are summed into one update, as slimmable networks and BigNAS do.
 */
import * as tf from "@tensorflow/tfjs";
import { SPECIALS, type ValidArch } from "../runtime/types.js";
import type { PaddedBatch } from "./batch.js";
import { distillLoss, labelSmoothedLoss, type SoftLabels } from "./loss.js";
import { clipFactor, type Adam, type Gradient } from "./optim.js";
import type { DropoutRates, SuperTransformer } from "./supertransformer.js";

/**
 * A teacher for token-level knowledge distillation (docs/method.md §9): a frozen SuperTransformer
 * and the SubTransformer of it that teaches (the largest, usually). Each scored position's loss
 * becomes (1 - weight)·label-smoothed CE + weight·CE against the teacher's top-k distribution.
 */
export interface Teacher {
  st: SuperTransformer;
  arch: ValidArch;
  topK: number;
  weight: number;
}

/** Options of one update. */
export interface StepOptions {
  lr: number;
  labelSmoothing?: number; // default 0.1
  rates?: Partial<DropoutRates>; // at the super dims; default none
  clipNorm?: number; // <= 0 or absent: no clipping
  teacher?: Teacher;
}

/** The teacher's top-k tokens and renormalised probabilities at the scored rows (no gradient). */
export function softLabels(t: Teacher, src: tf.Tensor2D, prev: tf.Tensor2D, rows: tf.Tensor1D): SoftLabels {
  return tf.tidy(() => {
    const { values, indices } = tf.topk(t.st.forward(t.arch, src, prev, { rows }), t.topK); // [R, k]
    return { idx: indices as tf.Tensor2D, p: tf.softmax(values) as tf.Tensor2D }; // softmax over the top-k logits = their probabilities renormalised
  });
}

/** What one update measured. */
export interface StepResult {
  /** Label-smoothed loss per target token (natural log), the mean over the update's SubTransformers. */
  loss: number;
  /** NLL per target token (the same mean). */
  nll: number;
  /** Target tokens trained: the batch's, times the SubTransformers trained on it. */
  tokens: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/** Gradients of one shard of a batch, by docs/runtime.md tensor name. */
export interface ShardGradients {
  /** d(shard's summed loss / batchTokens)/d(variable), for the variables the SubTransformer uses. */
  grads: Map<string, tf.Tensor>;
  /** Summed label-smoothed loss and NLL of the shard's target tokens. */
  lossSum: number;
  nllSum: number;
}

/** The SubTransformers of one update: one, or the sandwich's several. */
export type UpdateArchs = ValidArch | readonly ValidArch[];

export function archList(a: UpdateArchs): readonly ValidArch[] {
  return Array.isArray(a) ? (a as readonly ValidArch[]) : [a as ValidArch];
}

/**
 * Gradients of `shard`'s loss summed over its tokens and divided by `batchTokens`; with several
 * SubTransformers, the sum of each one's (and of their summed losses).
 */
export function shardGradients(
  st: SuperTransformer, archs: UpdateArchs, shard: PaddedBatch, batchTokens: number,
  o: { labelSmoothing?: number; rates?: Partial<DropoutRates>; teacher?: Teacher },
): ShardGradients {
  let sum: ShardGradients | undefined;
  for (const arch of archList(archs)) {
    const g = oneArchGradients(st, arch, shard, batchTokens, o);
    if (!sum) { sum = g; continue; }
    sum.lossSum += g.lossSum;
    sum.nllSum += g.nllSum;
    for (const [name, t] of g.grads) {
      const have = sum.grads.get(name);
      if (have) {
        sum.grads.set(name, tf.add(have, t));
        tf.dispose([have, t]);
      } else sum.grads.set(name, t);
    }
  }
  if (!sum) throw new RangeError("an update needs at least one SubTransformer");
  return sum;
}

function oneArchGradients(
  st: SuperTransformer, arch: ValidArch, shard: PaddedBatch, batchTokens: number,
  o: { labelSmoothing?: number; rates?: Partial<DropoutRates>; teacher?: Teacher },
): ShardGradients {
  const eps = o.labelSmoothing ?? 0.1;
  const src = tf.tensor2d(shard.src, [shard.B, shard.S], "int32");
  const prev = tf.tensor2d(shard.prev, [shard.B, shard.T], "int32");
  // only the real target positions are projected onto the vocabulary and scored (pads count for nothing)
  const real: number[] = [];
  for (let i = 0; i < shard.target.length; i++) if (shard.target[i] !== SPECIALS.pad) real.push(i);
  const rows = tf.tensor1d(real, "int32");
  const target = tf.tensor1d(real.map((i) => shard.target[i]), "int32");
  const soft = o.teacher && softLabels(o.teacher, src, prev, rows);
  const w = o.teacher?.weight ?? 0;
  let nllSum = 0;
  const { value, grads } = tf.variableGrads(() => {
    const logits = st.forward(arch, src, prev, { training: true, rates: o.rates, rows }); // [real targets, V]
    const l = labelSmoothedLoss(logits, target, eps);
    nllSum = l.nll.dataSync()[0];
    const loss = soft ? tf.add(tf.mul(l.loss, 1 - w), tf.mul(distillLoss(logits, soft, target), w)) : l.loss;
    return tf.div(loss, batchTokens) as tf.Scalar;
  }, [...st.variables.values()]);
  tf.dispose([src, prev, rows, target, ...(soft ? [soft.idx, soft.p] : [])]);
  const lossSum = value.dataSync()[0] * batchTokens;
  value.dispose();
  // tfjs names gradients by the variables' registered names; callers work with docs/runtime.md names
  const byName = new Map<string, tf.Tensor>();
  for (const [name, v] of st.variables) {
    const g = grads[v.name];
    if (g) byName.set(name, g);
  }
  return { grads: byName, lossSum, nllSum };
}

/**
 * Clip `grads` by global norm and take one Adam step (over flat buffers: a tensor's values are
 * read once); disposes the tensors among `grads`. Returns the norm before clipping.
 */
export function applyGradients(st: SuperTransformer, opt: Adam, grads: ReadonlyMap<string, Gradient>, lr: number, clipNorm = 0): number {
  try {
    const flat = new Map<string, Float32Array>();
    for (const [name, g] of grads) flat.set(name, g instanceof Float32Array ? g : (g.dataSync() as Float32Array));
    // Clipping needs the norm before the update; without it, Adam's pass sums the squares itself.
    if (clipNorm > 0) {
      const { norm, scale } = clipFactor(flat.values(), clipNorm);
      opt.apply(st.variables, flat, lr, scale);
      return norm;
    }
    return Math.sqrt(opt.apply(st.variables, flat, lr));
  } finally {
    disposeGradients(grads);
  }
}

/** Dispose the tensors among `grads` (values given as arrays need nothing). */
export function disposeGradients(grads: ReadonlyMap<string, Gradient>): void {
  for (const g of grads.values()) if (!(g instanceof Float32Array)) g.dispose();
}

/** What an update of `n` SubTransformers on `batch` measured: losses per token per SubTransformer, tokens trained. */
export function stepResult(lossSum: number, nllSum: number, batch: PaddedBatch, n: number, gradNorm: number): StepResult {
  return { loss: lossSum / (batch.tokens * n), nll: nllSum / (batch.tokens * n), tokens: batch.tokens * n, gradNorm };
}

/** One update of `archs` (one SubTransformer, or several summed) on `batch`, on this thread. */
export function trainStep(st: SuperTransformer, opt: Adam, archs: UpdateArchs, batch: PaddedBatch, o: StepOptions): StepResult {
  const g = shardGradients(st, archs, batch, batch.tokens, o);
  const gradNorm = applyGradients(st, opt, g.grads, o.lr, o.clipNorm ?? 0);
  return stepResult(g.lossSum, g.nllSum, batch, archList(archs).length, gradNorm);
}
