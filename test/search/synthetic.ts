/** Stand-ins for the search tests: a FLOP-based latency model and a loss whose optimum is known. */
import { archKey } from "../../runtime/arch-features.js";
import { protocolFlops } from "../../runtime/flops.js";
import type { Arch, Space } from "../../runtime/types.js";
import type { LatencyModel } from "../../search/constraint.js";

/** Latency of HAT's protocol (S = T = 30, beam 5) at `gflops` GFLOP/s; counts its calls. */
export class FlopsLatency implements LatencyModel {
  calls = 0;
  constructor(private readonly gflops = 10, private readonly vocab = 32768, private readonly offsetMs = 0) {}
  predict(archs: readonly Arch[]): Float64Array {
    this.calls++;
    return Float64Array.from(archs, (a) => {
      const f = protocolFlops(a, { src_len: 30, tgt_len: 30, beam: 5, vocab: this.vocab });
      return this.offsetMs + (f.encoder + f.decoder) / (this.gflops * 1e6);
    });
  }
}

/** Normalised distance of `a` from `target`: 0 exactly at the target, >= 1/(number of genes) elsewhere. */
export function distanceLoss(space: Space, target: Arch): (a: Arch) => number {
  const range = (xs: number[]) => Math.max(1, Math.max(...xs) - Math.min(...xs));
  const d = (x: number, y: number, xs: number[]) => Math.abs(x - y) / range(xs);
  const perLayer = (xs: number[], ys: number[], choices: number[]) => {
    let s = 0;
    for (let i = 0; i < Math.max(xs.length, ys.length); i++) s += i < xs.length && i < ys.length ? d(xs[i], ys[i], choices) : 1;
    return s;
  };
  return (a) =>
    d(a.encoderEmbedDim, target.encoderEmbedDim, space.encoderEmbedChoices) +
    d(a.decoderEmbedDim, target.decoderEmbedDim, space.decoderEmbedChoices) +
    d(a.encoderLayers, target.encoderLayers, space.encoderLayerChoices) +
    d(a.decoderLayers, target.decoderLayers, space.decoderLayerChoices) +
    perLayer(a.encoderFfnDims, target.encoderFfnDims, space.encoderFfnChoices) +
    perLayer(a.encoderHeads, target.encoderHeads, space.encoderHeadChoices) +
    perLayer(a.decoderFfnDims, target.decoderFfnDims, space.decoderFfnChoices) +
    perLayer(a.decoderSelfHeads, target.decoderSelfHeads, space.decoderSelfHeadChoices) +
    perLayer(a.decoderCrossHeads, target.decoderCrossHeads, space.decoderCrossHeadChoices) +
    perLayer(a.decoderEndeLayers, target.decoderEndeLayers, space.endeLayerChoices);
}

/** A deterministic pseudo-random loss in [0, 1) per architecture (for Pareto tests). */
export function hashLoss(a: Arch): number {
  let h = 2166136261;
  for (const c of archKey(a)) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return ((h >>> 0) % 100003) / 100003;
}
