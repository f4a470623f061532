/**
 * Physically impossible orderings (docs/method.md §5: the predictor stands in for the device in
 * the search, so it must not rank a SubTransformer slower than one that contains it). The space's
 * own order: a <= b when a's embed dims, layer counts, and, layer by layer (layer i of a against
 * layer i of b), FFN dims, heads (self, cross, encoder) and encoder layers attended are each at
 * most b's. Such an a runs a subset of b's work, so it cannot be slower on a device (beyond noise).
 *
 * `monotonicityCheck` draws seeded pairs a <= b (b uniform in the space, a uniform among the
 * architectures below b) and counts those the predictor says are the wrong way round by more than
 * `tolerance` (relative to b's prediction): a prediction's own noise is not an ordering.
 */
import { smallestArch, largestArch, sampleArch } from "../runtime/arch-sample.js";
import { builtFromSpace } from "../runtime/arch.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Arch, Space, ValidArch } from "../runtime/types.js";

/** Default pairs drawn, and the relative tolerance (1 %: within a measurement's noise). */
export const MONOTONICITY_PAIRS = 2000;
export const MONOTONICITY_TOLERANCE = 0.01;

/** A uniformly random architecture of `space` at most `big` in every dimension (the space's order). */
export function archBelow(big: Arch, space: Space, rng: () => number): ValidArch {
  const pick = (choices: readonly number[], max: number) => {
    const ok = choices.filter((c) => c <= max);
    return ok[Math.min(ok.length - 1, Math.floor(rng() * ok.length))];
  };
  const encoderLayers = pick(space.encoderLayerChoices, big.encoderLayers);
  const decoderLayers = pick(space.decoderLayerChoices, big.decoderLayers);
  const per = (n: number, choices: readonly number[], maxes: readonly number[]) => Array.from({ length: n }, (_, i) => pick(choices, maxes[i]));
  return builtFromSpace({
    encoderEmbedDim: pick(space.encoderEmbedChoices, big.encoderEmbedDim),
    decoderEmbedDim: pick(space.decoderEmbedChoices, big.decoderEmbedDim),
    encoderLayers, decoderLayers,
    encoderFfnDims: per(encoderLayers, space.encoderFfnChoices, big.encoderFfnDims),
    encoderHeads: per(encoderLayers, space.encoderHeadChoices, big.encoderHeads),
    decoderFfnDims: per(decoderLayers, space.decoderFfnChoices, big.decoderFfnDims),
    decoderSelfHeads: per(decoderLayers, space.decoderSelfHeadChoices, big.decoderSelfHeads),
    decoderCrossHeads: per(decoderLayers, space.decoderCrossHeadChoices, big.decoderCrossHeads),
    decoderEndeLayers: per(decoderLayers, space.endeLayerChoices, big.decoderEndeLayers),
    qkvDim: space.qkvDim,
  });
}

/** Is a <= b in every dimension of the space's order? */
export function archAtMost(a: Arch, b: Arch): boolean {
  if (a.encoderEmbedDim > b.encoderEmbedDim || a.decoderEmbedDim > b.decoderEmbedDim) return false;
  if (a.encoderLayers > b.encoderLayers || a.decoderLayers > b.decoderLayers) return false;
  const le = (x: readonly number[], y: readonly number[]) => x.every((v, i) => v <= y[i]);
  return le(a.encoderFfnDims, b.encoderFfnDims) && le(a.encoderHeads, b.encoderHeads) && le(a.decoderFfnDims, b.decoderFfnDims)
    && le(a.decoderSelfHeads, b.decoderSelfHeads) && le(a.decoderCrossHeads, b.decoderCrossHeads) && le(a.decoderEndeLayers, b.decoderEndeLayers);
}

export interface MonotonicityReport {
  /** Pairs a <= b drawn (pairs where a equals b are skipped). */
  pairs: number;
  /** Pairs predicted with a slower than b by more than the tolerance. */
  violations: number;
  /** violations / pairs */
  fraction: number;
  /** The largest (prediction of a) - (prediction of b) over the violations, ms (0 when none). */
  worst_excess_ms: number;
  tolerance: number;
  seed: number;
  /** The space's smallest and largest SubTransformers, predicted. */
  smallest_ms: number;
  largest_ms: number;
  /** The smallest predicted slower than the largest (beyond the tolerance). */
  smallest_slower_than_largest: boolean;
}

/** Sample `pairs` architecture pairs a <= b of `space` (seeded) and count the predictor's impossible orderings. */
export function monotonicityCheck(predict: (archs: readonly ValidArch[]) => ArrayLike<number>, space: Space, o: { pairs?: number; seed?: number; tolerance?: number } = {}): MonotonicityReport {
  const n = o.pairs ?? MONOTONICITY_PAIRS, seed = o.seed ?? 1, tol = o.tolerance ?? MONOTONICITY_TOLERANCE;
  const rng = mulberry32(seed ^ 0x3070);
  const small: ValidArch[] = [], big: ValidArch[] = [];
  for (let tries = 0; small.length < n && tries < 20 * n; tries++) {
    const b = sampleArch(space, rng), a = archBelow(b, space, rng);
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    small.push(a);
    big.push(b);
  }
  const pa = predict(small), pb = predict(big);
  let violations = 0, worst = 0;
  for (let i = 0; i < small.length; i++) {
    const excess = pa[i] - pb[i];
    if (excess > tol * Math.abs(pb[i])) {
      violations++;
      worst = Math.max(worst, excess);
    }
  }
  const [s, l] = Array.from(predict([smallestArch(space), largestArch(space)]));
  return {
    pairs: small.length, violations, fraction: small.length ? violations / small.length : 0, worst_excess_ms: worst, tolerance: tol, seed,
    smallest_ms: s, largest_ms: l, smallest_slower_than_largest: s - l > tol * Math.abs(l),
  };
}
