/**
 * What is computed from an architecture: HAT's 10 latency features (docs/method.md §5), its
 * parameter count, and its canonical key for caches and deduplication.
 */
import { ARCH_KEYS } from "./arch.js";
import type { Arch } from "./types.js";

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** HAT's 10 latency features, in HAT_FEATURE_NAMES order (ende: mean number of encoder layers attended, 1..3). */
export function hatFeatures(a: Arch): number[] {
  return [
    a.encoderEmbedDim,
    a.encoderLayers,
    mean(a.encoderFfnDims),
    mean(a.encoderHeads),
    a.decoderEmbedDim,
    a.decoderLayers,
    mean(a.decoderFfnDims),
    mean(a.decoderSelfHeads),
    mean(a.decoderCrossHeads),
    mean(a.decoderEndeLayers),
  ];
}

/** A canonical string of an Arch (fixed key order, no whitespace), for caches and deduplication. */
export function archKey(arch: Arch): string {
  return JSON.stringify(Object.fromEntries(ARCH_KEYS.map((k) => [k, arch[k]])));
}

/**
 * Parameters of the SubTransformer (docs/runtime.md's layout): the shared embedding [V, max(De, Dd)]
 * once, tied output projection and sinusoidal positions add none.
 */
export function archParams(a: Arch, vocabSize: number): number {
  const Q = a.qkvDim, De = a.encoderEmbedDim, Dd = a.decoderEmbedDim;
  const linear = (inDim: number, outDim: number) => inDim * outDim + outDim;
  const norm = (d: number) => 2 * d;
  const attention = (dQuery: number, dKeyValue: number) => linear(dQuery, Q) + 2 * linear(dKeyValue, Q) + linear(Q, dQuery);
  const ffn = (d: number, F: number) => linear(d, F) + linear(F, d);
  let n = vocabSize * Math.max(De, Dd);
  for (const F of a.encoderFfnDims) n += attention(De, De) + norm(De) + ffn(De, F) + norm(De);
  for (const F of a.decoderFfnDims) {
    n += attention(Dd, Dd) + norm(Dd) + attention(Dd, De) + norm(Dd) + ffn(Dd, F) + norm(Dd);
  }
  return n;
}
