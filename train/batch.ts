/**
 * Padded teacher-forcing batches, laid out exactly as runtime/decode.ts `score()` lays them out:
 * sources right-padded with pad; decoder input `eos y_1 .. y_n` and target `y_1 .. y_n eos`,
 * both right-padded with pad to T = max(n) + 1.
 */
import { SPECIALS } from "../runtime/types.js";

/** One batch as flat row-major int32 arrays. */
export interface PaddedBatch {
  B: number;
  S: number; // longest source
  T: number; // longest target + 1 (the eos)
  src: Int32Array; // [B, S]
  prev: Int32Array; // [B, T]
  target: Int32Array; // [B, T]
  /** Scored target tokens (targets plus one eos each). */
  tokens: number;
}

/** Pad (src, tgt) pairs; tgt without eos (it is appended to the target, prepended to prev). */
export function padBatch(src: ArrayLike<number>[], tgt: ArrayLike<number>[]): PaddedBatch {
  if (src.length !== tgt.length) throw new RangeError(`batch: ${src.length} sources but ${tgt.length} targets`);
  if (src.length === 0) throw new RangeError("empty batch");
  const B = src.length;
  const S = Math.max(...src.map((s) => s.length));
  const T = Math.max(...tgt.map((t) => t.length)) + 1;
  if (S < 1) throw new RangeError("empty source sentence (it needs at least an eos)");
  const srcArr = new Int32Array(B * S).fill(SPECIALS.pad);
  const prev = new Int32Array(B * T).fill(SPECIALS.pad);
  const target = new Int32Array(B * T).fill(SPECIALS.pad);
  let tokens = 0;
  for (let b = 0; b < B; b++) {
    const s = src[b], y = tgt[b];
    for (let i = 0; i < s.length; i++) srcArr[b * S + i] = s[i];
    prev[b * T] = SPECIALS.eos;
    for (let t = 0; t < y.length; t++) {
      prev[b * T + t + 1] = y[t];
      target[b * T + t] = y[t];
    }
    target[b * T + y.length] = SPECIALS.eos;
    tokens += y.length + 1;
  }
  return { B, S, T, src: srcArr, prev, target, tokens };
}
