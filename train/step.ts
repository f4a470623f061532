/**
 * One training update of a SubTransformer of the SuperTransformer (HAT-NOTES section 2):
 * forward with dropout, label-smoothed loss averaged over the batch's target tokens, gradients
 * (only into the sampled SubTransformer's slices), optional clipping by global norm, Adam.
 */
import * as tf from "@tensorflow/tfjs";
import type { Arch } from "../runtime/types.js";
import type { PaddedBatch } from "./batch.js";
import { labelSmoothedLoss } from "./loss.js";
import { Adam, clipByGlobalNorm } from "./optim.js";
import type { DropoutRates, SuperTransformer } from "./supertransformer.js";

/** Options of one update. */
export interface StepOptions {
  lr: number;
  labelSmoothing?: number; // default 0.1
  rates?: Partial<DropoutRates>; // at the super dims; default none
  clipNorm?: number; // <= 0 or absent: no clipping
}

/** What one update measured. */
export interface StepResult {
  /** Label-smoothed loss per target token (natural log). */
  loss: number;
  /** NLL per target token. */
  nll: number;
  tokens: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/** One update of `arch` on `batch`. */
export function trainStep(st: SuperTransformer, opt: Adam, arch: Arch, batch: PaddedBatch, o: StepOptions): StepResult {
  const eps = o.labelSmoothing ?? 0.1;
  const src = tf.tensor2d(batch.src, [batch.B, batch.S], "int32");
  const prev = tf.tensor2d(batch.prev, [batch.B, batch.T], "int32");
  const target = tf.tensor1d(batch.target, "int32");
  let nllSum = 0;
  const { value, grads } = tf.variableGrads(() => {
    const logits = st.forward(arch, src, prev, { training: true, rates: o.rates }); // [B·T, V]
    const l = labelSmoothedLoss(logits, target, eps);
    nllSum = l.nll.dataSync()[0];
    return tf.div(l.loss, batch.tokens) as tf.Scalar;
  }, [...st.variables.values()]);
  tf.dispose([src, prev, target]);
  // tfjs names gradients by the variables' registered names; Adam works with docs/runtime.md names
  const byName = new Map<string, tf.Tensor>();
  for (const [name, v] of st.variables) if (grads[v.name]) byName.set(name, grads[v.name]);
  const clipped = clipByGlobalNorm(byName, o.clipNorm ?? 0);
  opt.apply(st.variables, clipped.grads, o.lr);
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads), ...clipped.grads.values()]);
  return { loss, nll: nllSum / batch.tokens, tokens: batch.tokens, gradNorm: clipped.norm };
}
