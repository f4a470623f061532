/**
 * Floating-point operations (multiply and add counted apart) of HAT's latency protocol for one
 * architecture: the encoder over S tokens, then T incremental decoder steps with B = beam rows.
 * Used to turn a measured latency into effective GFLOP/s.
 */
import type { Arch } from "./types.js";

export interface ProtocolFlops {
  encoder: number;
  decoder: number;
}

export function protocolFlops(a: Arch, S: number, T: number, beam: number, V: number): ProtocolFlops {
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
