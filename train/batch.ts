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

/**
 * Split a batch into at most `n` shards of consecutive rows with about equal target tokens, each
 * trimmed to its own longest source and target (the batcher sorts rows by length, so neighbours
 * are alike). Every shard has at least one row; together they hold the batch's rows in order.
 */
export function splitBatch(batch: PaddedBatch, n: number): PaddedBatch[] {
  const { B, T } = batch;
  const k = Math.max(1, Math.min(n, B));
  const rowTokens = (b: number) => {
    let c = 0;
    for (let t = 0; t < T; t++) if (batch.target[b * T + t] !== SPECIALS.pad) c++;
    return c;
  };
  const tokens = Array.from({ length: B }, (_, b) => rowTokens(b));
  const shards: PaddedBatch[] = [];
  let start = 0, done = 0;
  for (let s = 0; s < k; s++) {
    const last = s === k - 1;
    const share = (batch.tokens - done) / (k - s); // this shard's part of what is left
    const maxEnd = B - (k - s - 1); // leave a row for each later shard
    let end = start + 1, got = tokens[start];
    while (end < maxEnd && (last || got + tokens[end] / 2 <= share)) got += tokens[end++];
    shards.push(sliceRows(batch, start, end, got));
    done += got;
    start = end;
  }
  return shards;
}

/** Rows [from, to) of a batch, trimmed to their longest source and target. */
function sliceRows(batch: PaddedBatch, from: number, to: number, tokens: number): PaddedBatch {
  const { S, T } = batch, B = to - from;
  const used = (a: Int32Array, W: number) => {
    let w = 1;
    for (let b = from; b < to; b++) for (let i = W - 1; i >= w; i--) if (a[b * W + i] !== SPECIALS.pad) { w = i + 1; break; }
    return w;
  };
  const S2 = used(batch.src, S), T2 = used(batch.target, T);
  const take = (a: Int32Array, W: number, W2: number) => {
    const out = new Int32Array(B * W2);
    for (let b = 0; b < B; b++) out.set(a.subarray((from + b) * W + 0, (from + b) * W + W2), b * W2);
    return out;
  };
  return { B, S: S2, T: T2, src: take(batch.src, S, S2), prev: take(batch.prev, T, T2), target: take(batch.target, T, T2), tokens };
}
