/**
 * Token-based batching, as fairseq's --max-tokens: sentence pairs sorted by length are cut into
 * batches whose padded size (rows x longest source or target, eos included) stays under a token
 * budget; the batches are shuffled every epoch with a seeded generator.
 */
import { mulberry32 } from "../runtime/rng.js";
import type { TokenPair } from "../data/texts.js";
import { padBatch, type PaddedBatch } from "./batch.js";

export type { TokenPair };

/** Index lists of batches whose padded size is at most maxTokens (a longer single pair gets its own batch). */
export function makeBatches(pairs: readonly TokenPair[], maxTokens: number): number[][] {
  if (!(maxTokens >= 1)) throw new RangeError(`maxTokens must be >= 1, got ${maxTokens}`);
  const size = (i: number) => Math.max(pairs[i].src.length, pairs[i].tgt.length + 1);
  // sort by (longest side, source length) so a batch holds pairs of similar lengths
  const order = pairs.map((_, i) => i).sort((a, b) => size(a) - size(b) || pairs[a].src.length - pairs[b].src.length || a - b);
  const batches: number[][] = [];
  let cur: number[] = [], longest = 0;
  for (const i of order) {
    const l = Math.max(longest, size(i));
    if (cur.length > 0 && l * (cur.length + 1) > maxTokens) {
      batches.push(cur);
      cur = [];
      longest = 0;
    }
    cur.push(i);
    longest = Math.max(longest, size(i));
  }
  if (cur.length) batches.push(cur);
  return batches;
}

/** Fisher-Yates with a seeded generator. */
export function shuffled<T>(xs: readonly T[], rng: () => number): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * An endless, reproducible stream of padded batches: epoch e visits every batch once in an order
 * drawn from (seed, e). `position` (epoch, index) can be saved in a checkpoint and restored.
 */
export class BatchStream {
  private readonly batches: number[][];
  private order: number[][] = [];
  epoch = 0;
  index = 0;

  constructor(private readonly pairs: readonly TokenPair[], maxTokens: number, private readonly seed: number) {
    if (pairs.length === 0) throw new RangeError("no training pairs");
    this.batches = makeBatches(pairs, maxTokens);
    this.reorder();
  }

  get batchesPerEpoch(): number {
    return this.batches.length;
  }

  private reorder(): void {
    this.order = shuffled(this.batches, mulberry32(this.seed * 1000003 + this.epoch));
  }

  /** Jump to a saved position. */
  seek(epoch: number, index: number): void {
    this.epoch = epoch;
    this.index = index;
    this.reorder();
  }

  next(): PaddedBatch {
    if (this.index >= this.order.length) {
      this.epoch++;
      this.index = 0;
      this.reorder();
    }
    const idx = this.order[this.index++];
    return padBatch(idx.map((i) => this.pairs[i].src), idx.map((i) => this.pairs[i].tgt));
  }
}
