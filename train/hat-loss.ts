/**
 * fairseq's label-smoothed cross-entropy (./loss.ts) on our own wasm kernel
 * (assembly/decode.ts `smoothed_ce_grad`), for the wasm backend: one pass per row computes the
 * row's loss, its NLL and the loss's gradient softmax - eps / V - (1 - eps)·onehot(target), which
 * the backward pass only scales by the incoming dy. tfjs's ops take ~12 passes over the [R, V]
 * logits, two of them exp (scalar on tfjs-wasm), and a [R, V] tensor of ones built in JavaScript
 * for the gradient of the row sums.
 *
 * Enabled with the products (HAT_TRAIN_KERNELS=hat, the default; ./backend.ts); elsewhere, and
 * with HAT_TRAIN_KERNELS=hat-batched or tfjs, ./loss.ts uses tfjs ops.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { hatInstance } from "./hat-instance.js";

let enabled = false;

/** Turn the fused loss on or off (./backend.ts; tests). */
export function enableFusedLoss(on: boolean): void {
  enabled = on;
}

/** Whether ./loss.ts takes the fused path now: enabled and the active backend is wasm. */
export function fusedLossActive(): boolean {
  return enabled && tf.getBackend() === "wasm";
}

/**
 * Per-row label-smoothed loss [R] of logits [R, V] against int32 target ids [R] (differentiable
 * w.r.t. the logits; pad rows 0), and the summed NLL of the non-pad rows (a number: no gradient).
 * Throws RangeError for a target outside [0, V) that is not pad.
 */
export function fusedSmoothedRows(logits: tf.Tensor2D, target: tf.Tensor1D, eps: number, pad: number): { rows: tf.Tensor1D; nllSum: number } {
  const [R, V] = logits.shape;
  if (target.shape[0] !== R) throw new RangeError(`loss: ${R} logit rows but ${target.shape[0]} targets`);
  if (logits.dtype !== "float32") throw new RangeError(`loss: logits are ${logits.dtype}, not float32`);
  const ids = Int32Array.from(target.dataSync());
  for (let r = 0; r < R; r++) {
    if (ids[r] !== pad && !(ids[r] >= 0 && ids[r] < V)) throw new RangeError(`loss: target ${ids[r]} of row ${r} is outside the vocabulary (${V})`);
  }
  let nllSum = 0;
  const op = tf.customGrad((x, save) => {
    const be = tf.backend() as BackendWasm;
    const h = hatInstance(), mark = h.mark(), n = R * V;
    try {
      const pX = h.alloc(n * 4), pT = h.alloc(R * 4), pL = h.alloc(R * 4), pN = h.alloc(R * 4);
      h.f32(pX, n).set(be.typedArrayFromHeap(x as tf.Tensor) as Float32Array);
      h.i32(pT, R).set(ids);
      h.x.smoothed_ce_grad(pL, pN, pX, pT, R, V, eps, pad);
      for (const v of h.f32(pN, R)) nllSum += v;
      const grad = tf.tensor2d(h.f32(pX, n), [R, V]); // copied into the backend's heap
      const value = tf.tensor1d(h.f32(pL, R).slice());
      (save as tf.GradSaveFunc)([grad]);
      return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], tf.expandDims(dy, 1)) };
    } finally {
      h.release(mark);
    }
  }) as (x: tf.Tensor2D) => tf.Tensor1D;
  return { rows: op(logits), nllSum };
}
