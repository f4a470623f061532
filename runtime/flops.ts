/**
 * Floating-point operations (multiply and add counted apart) of one run of a latency protocol's
 * workload (runtime/protocol.ts) for one architecture: the encoder over S = src_len tokens, then
 * T = tgt_len incremental decoder steps with `beam` rows, the output projection over V = vocab.
 * Used to turn a measured latency into effective GFLOP/s.
 */
import type { Protocol } from "./protocol.js";
import type { Arch } from "./types.js";

/** Operations of the encoder and of the decoder. */
export interface Flops {
  encoder: number;
  decoder: number;
}

export function protocolFlops(a: Arch, p: Pick<Protocol, "src_len" | "tgt_len" | "beam" | "vocab">): Flops {
  const S = p.src_len, T = p.tgt_len, beam = p.beam, V = p.vocab;
  const Q = a.qkvDim, De = a.encoderEmbedDim, Dd = a.decoderEmbedDim;
  let encoder = 0;
  for (let i = 0; i < a.encoderLayers; i++) {
    const F = a.encoderFfnDims[i];
    encoder += 2 * S * De * Q * 3 + 2 * S * S * Q * 2 + 2 * S * Q * De + 2 * S * De * F * 2;
  }
  let decoder = 0;
  for (let i = 0; i < a.decoderLayers; i++) {
    const F = a.decoderFfnDims[i], K = a.decoderEndeLayers[i] * S;
    decoder += 2 * K * De * Q * 2; // cross-attention keys and values, once per sentence
    for (let t = 0; t < T; t++) {
      decoder += beam * (2 * Dd * Q * 3 + 2 * (t + 1) * Q * 2 + 2 * Q * Dd); // self-attention
      decoder += beam * (2 * Dd * Q + 2 * K * Q * 2 + 2 * Q * Dd); // cross-attention
      decoder += beam * 2 * Dd * F * 2; // feed-forward
    }
  }
  decoder += T * beam * 2 * Dd * V; // output projection
  return { encoder, decoder };
}
