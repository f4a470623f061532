/**
 * fairseq's label-smoothed cross-entropy, sparse: no one-hot [R, V] is built. Per target row r
 * with log p = log_softmax(logits[r]):
 *   nll_r    = -log p[target_r]                          (one gathered value per row)
 *   smooth_r = sum_v -log p[v] = V·lse_r - sum_v logits[r, v]
 *   loss_r   = (1 - eps)·nll_r + eps / V · smooth_r
 * Rows whose target is pad count for nothing. The same quantity as runtime/decode.ts `score().loss`.
 */
import * as tf from "@tensorflow/tfjs";
import { SPECIALS } from "../runtime/types.js";
import { fusedLossActive, fusedSmoothedRows } from "./hat-loss.js";

/**
 * log(sum_v exp(x[r, v])) per row: [R, V] -> [R], with the gradient written directly as
 * dy[r]·softmax(x)[r, v]. (tf.logSumExp differentiates through its max, whose gradient is
 * mathematically zero but costs a broadcast `Equal` over [R, V], slow on the wasm backend.)
 */
export const logSumExpRows: (x: tf.Tensor2D) => tf.Tensor1D = tf.customGrad((x, save) => {
  const xs = x as tf.Tensor2D;
  const value = tf.tidy(() => {
    const m = tf.max(xs, 1, true); // [R, 1], not differentiated
    return tf.add(tf.reshape(m, [-1]), tf.log(tf.sum(tf.exp(tf.sub(xs, m)), 1))); // [R]
  });
  (save as tf.GradSaveFunc)([xs, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xv, lse] = saved as [tf.Tensor2D, tf.Tensor1D];
      return tf.mul(tf.exp(tf.sub(xv, tf.expandDims(lse, 1))), tf.expandDims(dy, 1)); // [R, V]
    },
  };
}) as (x: tf.Tensor2D) => tf.Tensor1D;

/** Summed losses of a batch (scalars), and its number of scored tokens. */
export interface LossResult {
  /** Sum over non-pad targets of the label-smoothed loss: minimise loss / tokens. */
  loss: tf.Scalar;
  /** Sum over non-pad targets of -log p(target). */
  nll: tf.Scalar;
  /** Number of non-pad targets. */
  tokens: tf.Scalar;
}

/**
 * Label-smoothed cross-entropy of logits [R, V] against target ids [R] (int32), summed over
 * non-pad rows. Differentiable w.r.t. logits; use inside tf.tidy / a gradient function.
 */
export function labelSmoothedLoss(logits: tf.Tensor2D, target: tf.Tensor1D, eps = 0.1, pad: number = SPECIALS.pad): LossResult {
  const [R, V] = logits.shape;
  if (target.shape[0] !== R) throw new RangeError(`loss: ${R} logit rows but ${target.shape[0]} targets`);
  if (fusedLossActive()) {
    // one pass per row on our wasm kernel (./hat-loss.ts); the same quantities
    const { rows, nllSum } = fusedSmoothedRows(logits, target, eps, pad);
    return { loss: tf.sum(rows), nll: tf.scalar(nllSum), tokens: tf.sum(tf.cast(tf.notEqual(target, pad), "float32")) };
  }
  const lse = logSumExpRows(logits); // [R]
  // logits[r, target_r] by a flat gather: index r·V + target_r
  const flat = tf.add(tf.range(0, R * V, V, "int32"), tf.cast(target, "int32")); // [R]
  const picked = tf.gather(tf.reshape(logits, [R * V]), flat); // [R]
  const nll = tf.sub(lse, picked); // [R]
  const smooth = tf.sub(tf.mul(lse, V), tf.sum(logits, 1)); // [R]
  const keep = tf.cast(tf.notEqual(target, pad), "float32"); // [R]
  const row = tf.add(tf.mul(nll, 1 - eps), tf.mul(smooth, eps / V)); // [R]
  return {
    loss: tf.sum(tf.mul(row, keep)),
    nll: tf.sum(tf.mul(nll, keep)),
    tokens: tf.sum(keep),
  };
}

/** A teacher's soft labels for each scored row: its top-k tokens and their probabilities (renormalised over the k). */
export interface SoftLabels {
  /** [R, k] token ids, int32. */
  idx: tf.Tensor2D;
  /** [R, k] probabilities summing to 1 per row. */
  p: tf.Tensor2D;
}

/**
 * Token-level knowledge distillation (docs/method.md §9): per row, the cross-entropy of the
 * student's distribution against the teacher's top-k, -Σ_k p_k · log softmax(logits)[idx_k],
 * summed over non-pad rows. Differentiable w.r.t. logits (the soft labels are constants).
 */
export function distillLoss(logits: tf.Tensor2D, soft: SoftLabels, target: tf.Tensor1D, pad: number = SPECIALS.pad): tf.Scalar {
  const [R, V] = logits.shape, k = soft.idx.shape[1];
  if (soft.idx.shape[0] !== R || soft.p.shape[0] !== R || soft.p.shape[1] !== k) throw new RangeError(`distill: ${R} logit rows but soft labels ${soft.idx.shape} / ${soft.p.shape}`);
  const lse = logSumExpRows(logits); // [R]
  const flat = tf.add(tf.reshape(tf.range(0, R * V, V, "int32"), [R, 1]), tf.cast(soft.idx, "int32")); // [R, k]: r·V + idx
  const picked = tf.reshape(tf.gather(tf.reshape(logits, [R * V]), tf.reshape(flat, [R * k])), [R, k]); // logits[r, idx_rk]
  const ce = tf.sub(lse, tf.sum(tf.mul(soft.p, picked), 1)); // Σ_k p (lse - logit) = lse - Σ_k p·logit (Σ p = 1)
  const keep = tf.cast(tf.notEqual(target, pad), "float32");
  return tf.sum(tf.mul(ce, keep));
}
