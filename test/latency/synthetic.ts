/** Synthetic latency datasets for the latency/ tests: known functions of the architecture, seeded noise. */
import { hatFeatures } from "../../runtime/arch-features.js";
import { sampleArch } from "../../runtime/arch-sample.js";
import { mulberry32, randn } from "../../runtime/rng.js";
import type { Arch, Space } from "../../runtime/types.js";
import type { LatencyRow } from "../../latency/dataset.js";
import { HAT_LATENCY_SPACE } from "../../latency/features.js";

/**
 * A latency with products of features a linear model on HAT's 10 features cannot follow: the
 * decoder costs layers x (embed x FFN) per layer, and attention to more encoder layers costs more
 * with a larger encoder.
 */
export function syntheticLatency(a: Arch): { encoder: number; decoder: number } {
  let encoder = 1;
  for (const f of a.encoderFfnDims) encoder += (a.encoderEmbedDim * f) / 4e5 + a.encoderEmbedDim / 300;
  let decoder = 5 + a.decoderEmbedDim / 40;
  a.decoderFfnDims.forEach((f, i) => {
    decoder += (a.decoderEmbedDim * f) / 1e5 + (a.decoderEndeLayers[i] * a.encoderEmbedDim) / 200 + 8 / a.decoderSelfHeads[i];
  });
  return { encoder, decoder };
}

/** n rows of distinct random archs of `space` with `noise` relative Gaussian noise. */
export function syntheticRows(n: number, seed = 1, noise = 0.003, space: Space = HAT_LATENCY_SPACE): LatencyRow[] {
  const r = mulberry32(seed);
  const rows: LatencyRow[] = [];
  const seen = new Set<string>();
  while (rows.length < n) {
    const arch = sampleArch(space, r);
    const k = JSON.stringify(arch);
    if (seen.has(k)) continue;
    seen.add(k);
    const { encoder, decoder } = syntheticLatency(arch);
    rows.push({
      features: hatFeatures(arch), arch,
      encoder_ms: encoder * (1 + noise * randn(r)), decoder_ms: decoder * (1 + noise * randn(r)),
      encoder_std_ms: encoder * 0.01, decoder_std_ms: decoder * 0.01,
    });
  }
  return rows;
}
