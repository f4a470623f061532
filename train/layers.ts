/**
 * The building blocks of the tfjs SuperTransformer, each reading the FRONT SLICE of a
 * SuperTransformer variable (docs/runtime.md, "Weight layout"): a linear layer of a SubTransformer
 * is `y = x · W[:in, :out] + b[:out]`, a layer norm uses `g[:D]`, `b[:D]`. `tf.slice` makes the
 * gradient of a variable zero outside the slice, so an update only touches what the sampled
 * SubTransformer used (docs/method.md §2).
 *
 * Shape letters (runtime/types.ts): B batch, S source length, T target length, R rows (B·S or
 * B·T), D embed dim, F FFN dim, Q the q/k/v width, H heads, hd = Q / H.
 */
import * as tf from "@tensorflow/tfjs";
import { linearOp, sumRows } from "./matmul.js";

/** Looks a SuperTransformer variable up by its docs/runtime.md name (`enc.0.self.q.w`). */
export type VarLookup = (name: string) => tf.Variable;

/** Additive attention mask: this is added to masked scores (finite, so gradients stay finite). */
export const MASKED = -1e9;

/** `t[:n0, :n1]` (or `t[:n0]`): the front slice, or `t` itself when it is all of it. */
export function front<R extends tf.Rank>(t: tf.Tensor<R>, size: number[]): tf.Tensor<R> {
  if (size.every((s, i) => s === t.shape[i])) return t;
  return tf.slice(t, size.map(() => 0), size);
}

/** y[R, Out] = act(x[R, In] · W[:In, :Out] + b[:Out]) of linear layer `name` (`${name}.w`, `${name}.b`). */
export function linear(v: VarLookup, name: string, x: tf.Tensor2D, In: number, Out: number, activation?: "relu"): tf.Tensor2D {
  const w = front(v(`${name}.w`), [In, Out]) as tf.Tensor2D; // [In, Out]
  const b = front(v(`${name}.b`), [Out]); // [Out]
  return linearOp(x, w, b as tf.Tensor1D, activation === "relu"); // [R, Out]
}

/** LN(x + r) over the last axis with gain/bias `${name}.g[:D]`, `${name}.b[:D]` (eps 1e-5, as fairseq). */
export function addNorm(v: VarLookup, name: string, x: tf.Tensor2D, r: tf.Tensor2D, D: number): tf.Tensor2D {
  return layerNorm(tf.add(x, r), front(v(`${name}.g`), [D]) as tf.Tensor1D, front(v(`${name}.b`), [D]) as tf.Tensor1D);
}

/**
 * y = (x - mean) / sqrt(var + 1e-5) · g + b per row of x [R, D], with the gradient written out
 * (n = the normalised x, s = 1 / sqrt(var + 1e-5), dn = dy · g):
 *   dx = s · (dn - mean(dn) - n · mean(dn · n)),  dg = Σ_rows dy · n,  db = Σ_rows dy.
 * tfjs differentiating the moments op by op took ~25 kernels, a [R, D] tensor of ones built in
 * JavaScript and, for dg and db, a transpose of [R, D] each on tfjs-wasm.
 */
export const layerNorm: (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D = tf.customGrad((x, g, b, save) => {
  const { mean, variance } = tf.moments(x as tf.Tensor2D, -1, true); // [R, 1] each
  const s = tf.rsqrt(tf.add(variance, 1e-5)); // [R, 1]
  const n = tf.mul(tf.sub(x as tf.Tensor2D, mean), s); // [R, D]
  (save as tf.GradSaveFunc)([n, s, g as tf.Tensor]);
  return {
    value: tf.add(tf.mul(n, g as tf.Tensor), b as tf.Tensor),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [ns, ss, gs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      const dn = tf.mul(dy, gs); // [R, D]
      const dx = tf.mul(tf.sub(tf.sub(dn, tf.mean(dn, -1, true)), tf.mul(ns, tf.mean(tf.mul(dn, ns), -1, true))), ss);
      return [dx, sumRows(tf.mul(dy, ns) as tf.Tensor2D), sumRows(dy as tf.Tensor2D)];
    },
  };
}) as (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D;

let maskState = (Math.random() * 0xffffffff) >>> 0 || 1;

/**
 * Inverted dropout with probability `rate` (identity when rate is 0): x times a mask of 0 and
 * 1 / (1 - rate). The mask is drawn here by xorshift32, one multiply in tfjs; tf.dropout draws
 * its uniforms through seedrandom and takes four more kernels (1.7 ms for [1300, 128] on
 * tfjs-wasm, a tenth of an update's element-wise time).
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number): T {
  if (!(rate > 0)) return x;
  if (rate >= 1) throw new RangeError(`dropout rate ${rate} must be below 1`);
  const n = x.size, mask = new Float32Array(n), scale = 1 / (1 - rate), below = (1 - rate) * 4294967296;
  let s = maskState;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    if ((s >>> 0) < below) mask[i] = scale;
  }
  maskState = s;
  return tf.mul(x, tf.tensor(mask, x.shape, "float32")) as T;
}

/** Dims and options of one multi-head attention call. */
export interface AttentionDims {
  B: number;
  Tq: number; // query length
  Tk: number; // key/value length
  Dq: number; // query input width (and output width)
  Dkv: number; // key/value input width
  Q: number; // q/k/v width
  H: number; // heads: head size Q / H, scale (Q / H)^-0.5
  attnDropout: number;
}

/**
 * Multi-head attention block `name` (`${name}.{q,k,v,o}.{w,b}`): queries from xq [B·Tq, Dq],
 * keys/values from xkv [B·Tk, Dkv], `maskBias` broadcast to [B, H, Tq, Tk] (0 or MASKED).
 * Returns the out projection [B·Tq, Dq].
 */
export function attention(v: VarLookup, name: string, xq: tf.Tensor2D, xkv: tf.Tensor2D, maskBias: tf.Tensor, d: AttentionDims): tf.Tensor2D {
  const { B, Tq, Tk, Q, H } = d, hd = Q / H;
  const heads = (x: tf.Tensor2D, T: number) => tf.transpose(tf.reshape(x, [B, T, H, hd]), [0, 2, 1, 3]); // [B, H, T, hd]
  const q = heads(tf.mul(linear(v, `${name}.q`, xq, d.Dq, Q), Math.pow(hd, -0.5)), Tq); // [B, H, Tq, hd]
  const k = heads(linear(v, `${name}.k`, xkv, d.Dkv, Q), Tk); // [B, H, Tk, hd]
  const val = heads(linear(v, `${name}.v`, xkv, d.Dkv, Q), Tk); // [B, H, Tk, hd]
  const scores = tf.add(tf.matMul(q, k, false, true), maskBias); // [B, H, Tq, Tk]
  const p = dropout(tf.softmax(scores), d.attnDropout); // [B, H, Tq, Tk]
  const ctx = tf.transpose(tf.matMul(p, val), [0, 2, 1, 3]); // [B, Tq, H, hd]
  return linear(v, `${name}.o`, tf.reshape(ctx, [B * Tq, Q]), Q, d.Dq); // [B·Tq, Dq]
}

/** fc2(relu(fc1(x))) of block `name` (`${name}.fc1`, `${name}.fc2`): [R, D] -> [R, F] -> [R, D]. */
export function ffn(v: VarLookup, name: string, x: tf.Tensor2D, D: number, F: number, actDropout: number): tf.Tensor2D {
  const h = dropout(linear(v, `${name}.fc1`, x, D, F, "relu"), actDropout); // [R, F]
  return linear(v, `${name}.fc2`, h, F, D); // [R, D]
}

/**
 * Token embedding of the front D columns of `embed.tokens`, scaled by sqrt(D), plus the front D
 * entries of the sinusoid table `pos` [maxPositions + 2, P] at positions t + 2:
 * tokens [B, T] -> [B·T, D].
 */
export function embed(v: VarLookup, tokens: tf.Tensor2D, D: number, pos: tf.Tensor2D): tf.Tensor2D {
  const [B, T] = tokens.shape;
  const table = v("embed.tokens");
  const E = front(table, [table.shape[0], D]) as tf.Tensor2D; // [V, D]
  const x = tf.mul(tf.gather(E, tokens), Math.sqrt(D)); // [B, T, D]
  const p = tf.slice(pos, [2, 0], [T, D]); // [T, D], broadcast over B
  return tf.reshape(tf.add(x, p), [B * T, D]);
}
