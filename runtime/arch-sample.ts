/**
 * SubTransformers built from a design space (docs/method.md §1, §3): HAT's uniform sampling, the
 * largest (the SuperTransformer itself) and the smallest; and the smallest space holding one arch.
 */
import { builtFromSpace, validateSpace } from "./arch.js";
import type { Arch, Space, ValidArch } from "./types.js";

/** An Arch built by one rule `pick` applied to every choice list, per layer for the per-layer ones. */
function buildArch(space: Space, pick: (choices: number[]) => number): ValidArch {
  const encoderEmbedDim = pick(space.encoderEmbedChoices);
  const decoderEmbedDim = pick(space.decoderEmbedChoices);
  const encoderLayers = pick(space.encoderLayerChoices);
  const decoderLayers = pick(space.decoderLayerChoices);
  const perLayer = (n: number, choices: number[]) => Array.from({ length: n }, () => pick(choices));
  const encoderFfnDims = perLayer(encoderLayers, space.encoderFfnChoices);
  const encoderHeads = perLayer(encoderLayers, space.encoderHeadChoices);
  const decoderFfnDims = perLayer(decoderLayers, space.decoderFfnChoices);
  const decoderSelfHeads = perLayer(decoderLayers, space.decoderSelfHeadChoices);
  const decoderCrossHeads = perLayer(decoderLayers, space.decoderCrossHeadChoices);
  const decoderEndeLayers = perLayer(decoderLayers, space.endeLayerChoices);
  return builtFromSpace({
    encoderEmbedDim, decoderEmbedDim, encoderLayers, decoderLayers, encoderFfnDims, encoderHeads,
    decoderFfnDims, decoderSelfHeads, decoderCrossHeads, decoderEndeLayers, qkvDim: space.qkvDim,
  });
}

/** A uniformly random SubTransformer: every choice independent, per-layer ones per layer (HAT's sampling). */
export function sampleArch(space: Space, rng: () => number): ValidArch {
  return buildArch(space, (xs) => xs[Math.min(xs.length - 1, Math.floor(rng() * xs.length))]);
}

/** The largest SubTransformer: the largest value of every choice (the SuperTransformer itself). */
export function largestArch(space: Space): ValidArch {
  return buildArch(space, (xs) => Math.max(...xs));
}

/** The smallest SubTransformer: the smallest value of every choice. */
export function smallestArch(space: Space): ValidArch {
  return buildArch(space, (xs) => Math.min(...xs));
}

/** The smallest space holding exactly `arch`: its SuperTransformer is the arch (per-layer FFN
 *  dims padded to the largest). Used to train one SubTransformer from scratch. */
export function spaceOfArch(arch: Arch): Space {
  const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => b - a);
  return validateSpace({
    encoderEmbedChoices: [arch.encoderEmbedDim], decoderEmbedChoices: [arch.decoderEmbedDim],
    encoderFfnChoices: uniq(arch.encoderFfnDims), decoderFfnChoices: uniq(arch.decoderFfnDims),
    encoderLayerChoices: [arch.encoderLayers], decoderLayerChoices: [arch.decoderLayers],
    encoderHeadChoices: uniq(arch.encoderHeads), decoderSelfHeadChoices: uniq(arch.decoderSelfHeads),
    decoderCrossHeadChoices: uniq(arch.decoderCrossHeads), endeLayerChoices: uniq(arch.decoderEndeLayers),
    qkvDim: arch.qkvDim,
  });
}
