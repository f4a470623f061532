/** latency/features.ts: the three encodings and the fast space check. */
import { describe, expect, it } from "vitest";
import { validateArch } from "../../runtime/arch.js";
import { ArchError } from "../../runtime/arch-error.js";
import { hatFeatures } from "../../runtime/arch-features.js";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE, HAT_WMT_SPACE } from "../../runtime/spaces.js";
import { mulberry32 } from "../../runtime/rng.js";
import { checkInSpace, encodeArch, encodeRow, featureCount, featureNames, featureSpec, HAT_LATENCY_SPACE } from "../../latency/features.js";

describe("features", () => {
  const a = validateArch({ ...largestArch(HAT_WMT_SPACE), decoderLayers: 2, decoderFfnDims: [1024, 3072], decoderSelfHeads: [4, 8], decoderCrossHeads: [8, 8], decoderEndeLayers: [1, 3] }, HAT_WMT_SPACE);

  it("hat: HAT's 10; sums: the 10 and the per-stack sums; layers: and every layer's choices", () => {
    const hat = featureSpec("hat"), sums = featureSpec("sums"), layers = featureSpec("layers", HAT_WMT_SPACE);
    expect([featureCount(hat), featureCount(sums), featureCount(layers)]).toEqual([10, 22, 22 + 12 + 24]);
    expect(featureNames(layers)).toHaveLength(58);
    const x = new Float64Array(58);
    encodeArch(a, layers, x, 0);
    expect(Array.from(x.subarray(0, 10))).toEqual(hatFeatures(a));
    const sum = Object.fromEntries(featureNames(sums).slice(10).map((n, i) => [n, x[10 + i]]));
    expect(sum.dec_sum_ffn).toBe(4096); // 1024 + 3072
    expect(sum.dec_sum_embed_x_ffn).toBe(640 * 4096);
    expect(sum.dec_sum_ende_x_enc_embed).toBe(4 * 640); // (1 + 3) x De
    expect(sum.enc_sum_embed_x_ffn).toBe(6 * 640 * 3072);
    // decoder layer slots: 2 used, 4 zero
    const dec = Array.from(x.subarray(22 + 12));
    expect(dec.slice(0, 8)).toEqual([1024, 4, 8, 1, 3072, 8, 8, 3]);
    expect(dec.slice(8).every((v) => v === 0)).toBe(true);
    // a HAT row (no arch) gives the same sums from its 10 features
    expect(encodeRow({ features: hatFeatures(a), encoder_ms: 1, decoder_ms: 1, encoder_std_ms: 0, decoder_std_ms: 0 }, sums)).toEqual(Array.from(x.subarray(0, 22)));
    expect(() => encodeRow({ features: hatFeatures(a), encoder_ms: 1, decoder_ms: 1, encoder_std_ms: 0, decoder_std_ms: 0 }, layers)).toThrow(/need each row's architecture/);
  });

  it("checkInSpace agrees with validateArch and names the field", () => {
    const r = mulberry32(3);
    for (let i = 0; i < 200; i++) expect(() => checkInSpace(sampleArch(HAT_WMT_SPACE, r), HAT_LATENCY_SPACE)).not.toThrow();
    expect(() => checkInSpace(smallestArch(DEMO_SPACE), HAT_LATENCY_SPACE)).toThrow(ArchError);
    const bad = { ...a, decoderFfnDims: [1024, 4096] };
    expect(() => checkInSpace(bad, HAT_WMT_SPACE)).toThrow(/decoderFfnDims\[1\]: 4096 is not one of/);
    expect(() => checkInSpace({ ...a, decoderSelfHeads: [4] }, HAT_WMT_SPACE)).toThrow(/decoderSelfHeads: has 1 entries/);
    expect(() => checkInSpace({ ...a, qkvDim: 256 }, HAT_WMT_SPACE)).toThrow(/qkvDim/);
  });
});
