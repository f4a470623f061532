/**
 * The search's fitness (docs/method.md §6): the label-smoothed validation loss per token of a
 * SubTransformer with weights inherited from the SuperTransformer, no training. The weights are
 * uploaded into one wasm instance once; each architecture costs only a descriptor of pointers
 * (front slices) and one teacher-forced pass over a fixed validation subset. Losses are cached
 * by archKey, so an architecture is scored once whatever the searches ask.
 */
import { archInSpace } from "../runtime/arch.js";
import { archKey } from "../runtime/arch-features.js";
import { corpusLoss } from "../runtime/decode.js";
import type { HatModel } from "../runtime/model.js";
import type { Space, ValidArch } from "../runtime/types.js";
import { WasmSubTransformer } from "../runtime/wasm-model.js";
import type { TokenPair } from "../train/batching.js";

/** A loss to minimise for one architecture. */
export type LossFn = (arch: ValidArch) => number;

/** A loss function with a cache: `computed` counts the architectures actually scored. */
export class CachedLoss {
  private readonly cache = new Map<string, number>();
  /** Architectures scored (cache misses). */
  computed = 0;
  /** Seconds spent scoring. */
  seconds = 0;

  constructor(private readonly fn: LossFn) {}

  loss(arch: ValidArch, key = archKey(arch)): number {
    let v = this.cache.get(key);
    if (v === undefined) {
      const t0 = performance.now();
      v = this.fn(arch);
      this.seconds += (performance.now() - t0) / 1000;
      if (!Number.isFinite(v)) throw new Error(`the loss of ${key} is ${v}`);
      this.cache.set(key, v);
      this.computed++;
    }
    return v;
  }

  has(key: string): boolean {
    return this.cache.has(key);
  }
}

export interface InheritedLossOptions {
  /** fairseq's label smoothing (0.1), as in training. */
  labelSmoothing?: number;
  /** Sentences per scoring batch (default 64). */
  batch?: number;
}

/**
 * Inherited validation loss on a fixed set of pairs (tgt without eos), computed by the WASM
 * runtime on the model's weights. Pairs are scored in batches of similar lengths.
 */
export class InheritedLoss {
  readonly space: Space;
  readonly pairs: readonly TokenPair[];
  private readonly batches: TokenPair[][];
  private readonly labelSmoothing: number;

  constructor(private readonly model: HatModel, pairs: readonly TokenPair[], o: InheritedLossOptions = {}) {
    if (model.header.kind !== "supertransformer" || !model.header.space) throw new RangeError("the inherited loss needs a SuperTransformer model");
    if (pairs.length === 0) throw new RangeError("the inherited loss needs at least one validation pair");
    this.space = model.header.space;
    this.pairs = pairs;
    this.labelSmoothing = o.labelSmoothing ?? 0.1;
    const B = o.batch ?? 64;
    const sorted = [...pairs].sort((a, b) => a.src.length - b.src.length || a.tgt.length - b.tgt.length);
    this.batches = [];
    for (let i = 0; i < sorted.length; i += B) this.batches.push(sorted.slice(i, i + B));
  }

  /** Label-smoothed loss per token (the same quantity as the trainer's validation loss). */
  readonly loss: LossFn = (arch) => {
    const a = archInSpace(arch, this.space);
    const wasm = this.model.weights.wasm;
    const mark = wasm.mark(); // the descriptor and every buffer of the scoring are freed afterwards
    try {
      return corpusLoss(new WasmSubTransformer(this.model.weights, a), this.batches, this.labelSmoothing);
    } finally {
      wasm.release(mark);
    }
  };
}
