/**
 * runtime/quant.ts and the quantized model file (format version 2): K-means and linear
 * quantization against float64 references on random matrices, the 4-bit packing of odd counts,
 * the round trip through encodeModel / decodeModel, a version-1 file still loading, corrupt
 * quantized files refused, and a quantized model running in the wasm runtime.
 */
import { describe, expect, it } from "vitest";
import { crc32 } from "../../runtime/crc32.js";
import { decodeModel, encodeModel, ModelFormatError, type ModelFormatErrorCode, type ModelHeaderInput } from "../../runtime/format.js";
import { HatModel, quantizeModel } from "../../runtime/model.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import {
  dequantize, kmeans1d, kmeansQuantize, linearQuantize, packIndices, packedBytes, quantizeTensors, unpackIndices, type QuantBits,
} from "../../runtime/quant.js";
import { superDims } from "../../runtime/arch.js";
import { largestArch } from "../../runtime/arch-sample.js";
import { SPECIALS } from "../../runtime/types.js";
import { randomTensors, superTensorShapes, type Tensor } from "../../runtime/weights.js";
import { rng } from "../helpers.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { codeOf, headerOf } from "../model-files.js";

/** A [rows, cols] matrix of normal values (Box-Muller on the seeded PRNG). */
function normalMatrix(rows: number, cols: number, seed: number, std = 0.1): Tensor {
  const r = rng(seed), data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = std * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return { shape: [rows, cols], data };
}

/** Bit-equal typed arrays. */
function same(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Σ(a - b)², in float64. */
function sse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

/** Naive float64 Lloyd's K-means, the same init and rules as kmeans1d (nearest centroid, the lower on a tie; empty clusters stay). */
function lloydReference(x: Float32Array, k: number, maxIt: number, init: "uniform" | "quantile" = "uniform"): number[] {
  let min = Infinity, max = -Infinity;
  for (const v of x) { min = Math.min(min, v); max = Math.max(max, v); }
  const sorted = [...x].sort((a, b) => a - b);
  const c = Array.from({ length: k }, (_, j) => init === "quantile" ? sorted[Math.floor(((j + 0.5) * x.length) / k)] : min + (j * (max - min)) / (k - 1));
  for (let it = 0; it < maxIt; it++) {
    const sum = new Array<number>(k).fill(0), cnt = new Array<number>(k).fill(0);
    for (const v of x) {
      let best = 0;
      for (let j = 1; j < k; j++) if (Math.abs(v - c[j]) < Math.abs(v - c[best])) best = j;
      sum[best] += v;
      cnt[best]++;
    }
    let moved = false;
    for (let j = 0; j < k; j++) {
      if (cnt[j] > 0 && sum[j] / cnt[j] !== c[j]) { c[j] = sum[j] / cnt[j]; moved = true; }
    }
    if (!moved) break;
  }
  return c;
}

describe("index packing", () => {
  it("4 bits: two a byte, the even element low, odd counts leave the last high nibble zero", () => {
    expect([...packIndices([1, 2, 3], 4)]).toEqual([0x21, 0x03]);
    for (const n of [1, 2, 3, 7, 8, 63, 64, 65, 1001]) {
      const r = rng(n), idx = Array.from({ length: n }, () => Math.floor(r() * 16));
      const p = packIndices(idx, 4);
      expect(p.length).toBe(Math.ceil(n / 2));
      expect(p.length).toBe(packedBytes(n, 4));
      if (n % 2 === 1) expect(p[p.length - 1] >> 4).toBe(0);
      expect([...unpackIndices(p, n, 4)], `n = ${n}`).toEqual(idx);
    }
  });

  it("8 bits: one a byte; a packed length that does not fit the count is refused", () => {
    const idx = [0, 255, 7, 128, 1];
    expect([...unpackIndices(packIndices(idx, 8), 5, 8)]).toEqual(idx);
    expect(() => unpackIndices(new Uint8Array(3), 7, 4)).toThrow(/7 4-bit indices take 4 bytes, got 3/);
  });
});

describe("K-means (HAT: centroids uniform over [min, max], at most 300 iterations)", () => {
  it("agrees with a naive float64 Lloyd's on random values", () => {
    for (const [n, k, seed] of [[500, 16, 1], [2000, 16, 2], [3000, 256, 3], [37, 16, 4]] as const) {
      const x = normalMatrix(1, n, seed).data;
      const { centroids, iterations } = kmeans1d(x, k);
      expect(iterations).toBeLessThanOrEqual(300);
      const ref = lloydReference(x, k, 300).sort((a, b) => a - b);
      for (let j = 0; j < k; j++) expect(Math.abs(centroids[j] - ref[j]), `n ${n} k ${k} centroid ${j}`).toBeLessThan(1e-9);
    }
  });

  it("--init quantile: starts at the values' quantiles, then the same Lloyd's (against the naive float64 one)", () => {
    for (const [n, k, seed] of [[500, 16, 1], [3000, 256, 3], [37, 16, 4]] as const) {
      const x = normalMatrix(1, n, seed).data;
      const start = kmeans1d(x, k, 0, "quantile").centroids, sorted = Float32Array.from(x).sort();
      for (let j = 0; j < k; j++) expect(start[j]).toBe(sorted[Math.floor(((j + 0.5) * n) / k)]);
      const { centroids } = kmeans1d(x, k, 300, "quantile");
      const ref = lloydReference(x, k, 300, "quantile").sort((a, b) => a - b);
      for (let j = 0; j < k; j++) expect(Math.abs(centroids[j] - ref[j]), `n ${n} k ${k} centroid ${j}`).toBeLessThan(1e-9);
    }
  });

  it("stops at maxIterations and starts from the uniform grid", () => {
    const x = normalMatrix(1, 1000, 5).data;
    const { centroids, iterations } = kmeans1d(x, 16, 0);
    expect(iterations).toBe(0);
    const min = Math.min(...x), max = Math.max(...x);
    expect(centroids[0]).toBeCloseTo(min, 12);
    expect(centroids[15]).toBeCloseTo(max, 12);
    expect(centroids[5]).toBeCloseTo(min + (5 * (max - min)) / 15, 12);
    expect(kmeans1d(x, 16, 3).iterations).toBe(3);
  });

  for (const bits of [4, 8] as QuantBits[]) {
    it(`${bits} bits: reconstruction error below the uniform grid's on a random matrix`, () => {
      const t = normalMatrix(61, 47, 10 + bits); // odd count: 2867
      const q = kmeansQuantize(t, { bits });
      expect(q.codebook.length).toBe(2 ** bits);
      expect(q.packed.length).toBe(packedBytes(61 * 47, bits));
      const back = dequantize(q).data;
      // the uniform grid over [min, max] at the same bits, each value to its nearest point (float64)
      const k = 2 ** bits, min = Math.min(...t.data), max = Math.max(...t.data), step = (max - min) / (k - 1);
      const grid = Array.from(t.data, (v) => min + Math.round((v - min) / step) * step);
      const eKm = sse(back, t.data), eGrid = sse(grid, t.data);
      // normal values: the centroids crowd where the values are (at 8 bits, 256 centroids for 2867 values, less so)
      expect(eKm).toBeLessThan((bits === 4 ? 0.8 : 1) * eGrid);
      // each element maps to its nearest codebook entry
      for (let i = 0; i < t.data.length; i += 97) {
        const best = Math.min(...Array.from(q.codebook, (c) => Math.abs(c - t.data[i])));
        expect(Math.abs(back[i] - t.data[i])).toBeLessThanOrEqual(best + 1e-7);
      }
    });
  }

  it("a constant matrix and a matrix of fewer distinct values than centroids are exact", () => {
    const c = kmeansQuantize({ shape: [3, 3], data: new Float32Array(9).fill(0.25) }, { bits: 4 });
    expect([...dequantize(c).data]).toEqual(new Array(9).fill(0.25));
    const few = new Float32Array([-1, 0.5, 2, 0.5, -1, 2, 2]);
    expect([...dequantize(kmeansQuantize({ shape: [7, 1], data: few }, { bits: 4 })).data]).toEqual([...few]);
  });
});

describe("linear (scale and zero point per output channel)", () => {
  for (const bits of [4, 8] as QuantBits[]) {
    for (const axis of [0, 1] as const) {
      it(`${bits} bits, axis ${axis}: every element within scale/2 of the float64 value`, () => {
        const t = normalMatrix(33, 21, 20 + bits + axis);
        // an all-positive channel, an all-negative one and an all-zero one
        for (let i = 0; i < 33; i++) {
          for (let j = 0; j < 21; j++) {
            const ch = axis === 0 ? i : j, at = i * 21 + j;
            if (ch === 1) t.data[at] = Math.abs(t.data[at]) + 0.5;
            if (ch === 2) t.data[at] = -Math.abs(t.data[at]) - 0.5;
            if (ch === 3) t.data[at] = 0;
          }
        }
        const q = linearQuantize(t, { bits, axis });
        expect(q.scales.length).toBe(t.shape[axis]);
        const back = dequantize(q).data, qmax = 2 ** bits - 1;
        for (let i = 0; i < 33; i++) {
          for (let j = 0; j < 21; j++) {
            const ch = axis === 0 ? i : j, at = i * 21 + j, s = q.scales[ch];
            expect(q.zeroPoints[ch]).toBeLessThanOrEqual(qmax);
            expect(Math.abs(back[at] - t.data[at]), `(${i}, ${j})`).toBeLessThanOrEqual(s / 2 * (1 + 1e-5) + 1e-9);
            if (ch === 3) expect(back[at]).toBe(0);
          }
        }
        // the scale spans the channel's range (with 0) in 2^bits - 1 steps
        const col = Array.from({ length: axis === 0 ? 21 : 33 }, (_, m) => t.data[axis === 0 ? 5 * 21 + m : m * 21 + 5]);
        const span = Math.max(0, ...col) - Math.min(0, ...col);
        expect(q.scales[5]).toBeCloseTo(span / qmax, 6);
      });
    }
  }
});

// ---- the model file --------------------------------------------------------------------------

const V = 40;
const d = superDims(DEMO_SPACE);
const header: ModelHeaderInput = {
  kind: "supertransformer", space: DEMO_SPACE, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim },
  vocab: { size: V, ...SPECIALS }, meta: {},
};
const f32 = randomTensors(superTensorShapes(DEMO_SPACE, V), 3);
const f32Bytes = encodeModel(header, f32);

const ascii = (s: string) => new TextEncoder().encode(s);
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
/** `from` rebuilt with its header edited, its data edited (offsets relative to the data) and a correct CRC: only what the test breaks is broken. */
function patch(from: Uint8Array, edit: { header?: (h: Record<string, any>) => void; data?: (data: Uint8Array, h: Record<string, any>) => void; version?: number }): Uint8Array {
  const h = headerOf(from), data = from.slice(h.dataOffset, h.dataOffset + h.dataBytes);
  edit.header?.(h);
  edit.data?.(data, h);
  for (let off = h.dataOffset; ; off += 64) {
    h.dataOffset = off;
    const text = ascii(JSON.stringify(h));
    if (12 + text.length > off) continue;
    const out = new Uint8Array(off + data.length + 8), view = new DataView(out.buffer);
    out.set(ascii("HATM"));
    view.setUint32(4, edit.version ?? u32(from, 4), true);
    view.setUint32(8, text.length, true);
    out.set(text, 12);
    out.set(data, off);
    view.setUint32(out.length - 8, crc32(out.subarray(0, out.length - 8)), true);
    out.set(ascii("MTAH"), out.length - 4);
    return out;
  }
}

describe("quantized model files (format version 2)", () => {
  for (const [method, bits] of [["kmeans", 4], ["kmeans", 8], ["linear", 4], ["linear", 8]] as const) {
    it(`${method} ${bits} bits round-trips: the stored parts exactly, the tensors as dequantized`, () => {
      const { tensors, summary } = quantizeTensors(f32, { method, bits });
      expect(summary.quantized).toBe([...f32.values()].filter((t) => t.shape.length === 2).length);
      expect(summary.kept).toBe(f32.size - summary.quantized);
      const bytes = encodeModel(header, tensors);
      expect(u32(bytes, 4)).toBe(2);
      const m = decodeModel(bytes);
      expect([...m.tensors.keys()]).toEqual([...f32.keys()]);
      for (const [name, t] of tensors) {
        const got = m.tensors.get(name)!;
        if ("method" in t) {
          const stored = m.quantized.get(name)!;
          expect(stored.shape).toEqual(t.shape);
          expect(same(stored.packed, t.packed), name).toBe(true);
          if (stored.method === "kmeans" && t.method === "kmeans") expect(same(stored.codebook, t.codebook)).toBe(true);
          if (stored.method === "linear" && t.method === "linear") {
            expect(same(stored.scales, t.scales) && same(stored.zeroPoints, t.zeroPoints) && stored.axis === t.axis).toBe(true);
          }
          expect(same(got.data, dequantize(t).data), name).toBe(true);
          expect(m.header.tensors.find((e) => e.name === name)!.quant).toMatchObject({ method, bits });
        } else {
          expect(same(got.data, t.data), name).toBe(true); // biases and layer norms: f32, bit-exact
          expect(m.quantized.has(name)).toBe(false);
        }
      }
      expect(bytes.length).toBeLessThan(f32Bytes.length * (bits === 4 ? 0.18 : 0.32)); // 4 bits: ~6x smaller, 8 bits: ~3.3x
    });
  }

  it("embedBits: the embedding at its own bits, or kept f32", () => {
    const bitsOf = (embedBits: 4 | 8 | 32) => {
      const { tensors, summary } = quantizeTensors(f32, { method: "kmeans", bits: 4, embedBits });
      expect(summary.embedBits).toBe(embedBits);
      const e = tensors.get("embed.tokens")!, w = tensors.get("enc.0.ffn.fc1.w")!;
      expect("method" in w && w.bits).toBe(4);
      return "method" in e ? e.bits : 32;
    };
    expect(bitsOf(8)).toBe(8);
    expect(bitsOf(4)).toBe(4);
    expect(bitsOf(32)).toBe(32);
    expect(() => quantizeTensors(f32, { bits: 4, embedBits: 6 as 8 })).toThrow(/embedBits must be one of 4, 8 or 32, got 6/);
  });

  it("a model of f32 tensors is still written as version 1, and a version-1 file loads", () => {
    expect(u32(f32Bytes, 4)).toBe(1);
    const m = decodeModel(f32Bytes);
    expect(m.quantized.size).toBe(0);
    expect(m.tensors.get("embed.tokens")!.data).toEqual(f32.get("embed.tokens")!.data);
  });

  const km4 = encodeModel(header, quantizeTensors(f32, { method: "kmeans", bits: 4 }).tensors);
  const lin4 = encodeModel(header, quantizeTensors(f32, { method: "linear", bits: 4 }).tensors);
  /** The header entry and data offset of `name`. */
  const entry = (h: Record<string, any>, name: string) => h.tensors.find((e: { name: string }) => e.name === name);
  const W = "enc.0.ffn.fc1.w"; // [64, 256]

  it("refuses a quantized file that lies about its codebooks, scales, zero points or packed indices", () => {
    const cases: [Uint8Array, ModelFormatErrorCode, RegExp][] = [
      [patch(km4, { header: (h) => { entry(h, W).quant.codebook = 15; } }), "tensor-quant",
        /tensor enc\.0\.ffn\.fc1\.w of shape \[64, 256\] \(kmeans, 4 bits\) has a codebook of 15 entries: 4 bits need 16/],
      [patch(km4, { header: (h) => { entry(h, W).quant.codebook = 256; } }), "tensor-quant", /codebook of 256 entries: 4 bits need 16/],
      [patch(km4, { header: (h) => { entry(h, W).quant.packedBytes = 8191; } }), "tensor-quant",
        /tensor enc\.0\.ffn\.fc1\.w of shape \[64, 256\] \(kmeans, 4 bits\) has 8191 bytes of packed indices: 16384 elements at 4 bits take 8192/],
      [patch(km4, { header: (h) => { entry(h, W).shape = [64, 257]; } }), "tensor-quant", /shape \[64, 257\].*8192 bytes of packed indices: 16448 elements at 4 bits take 8224/],
      [patch(km4, { header: (h) => { entry(h, W).quant.bits = 3; } }), "bad-header", /tensors\[\d+\]\.quant \(enc\.0\.ffn\.fc1\.w\)\.bits must be one of 4, 8, got 3/],
      [patch(km4, { header: (h) => { entry(h, W).quant.method = "pq"; } }), "bad-header", /\.method must be "kmeans" or "linear", got "pq"/],
      [patch(lin4, { header: (h) => { entry(h, W).quant.axis = 2; } }), "bad-header", /\.axis must be 0 or 1, got 2/],
      [patch(km4, { version: 1 }), "bad-header", /quantized tensors need format version 2, the file says version 1/],
      // the data itself
      [patch(km4, { data: (b, h) => { new DataView(b.buffer).setFloat32(entry(h, W).offset + 4 * 3, NaN, true); } }), "tensor-quant",
        /tensor enc\.0\.ffn\.fc1\.w of shape \[64, 256\] \(kmeans, 4 bits\): codebook entry 3 is NaN/],
      [patch(lin4, { data: (b, h) => { new DataView(b.buffer).setFloat32(entry(h, W).offset + 4 * 7, 0, true); } }), "tensor-quant",
        /\(linear, 4 bits\): scale 7 of 256 \(axis 1\) is 0, not a finite number > 0/],
      [patch(lin4, { data: (b, h) => { b[entry(h, W).offset + 4 * 256 + 2] = 16; } }), "tensor-quant", /zero point 2 of 256 is 16, outside \[0, 15\]/],
    ];
    for (const [bytes, code, re] of cases) {
      const e = codeOf(bytes);
      expect(e.code, e.message).toBe(code);
      expect(e.message).toMatch(re);
    }
  });

  it("refuses a 4-bit odd count whose unused last nibble is not zero", () => {
    // a [1, 7] kmeans matrix: 4 packed bytes, the last high nibble unused
    const t = new Map([["m", kmeansQuantize({ shape: [1, 7], data: new Float32Array([1, 2, 3, 4, 5, 6, 7]) }, { bits: 4 })]]);
    const ok = encodeModel(header, t);
    expect(decodeModel(ok).tensors.get("m")!.data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6, 7]));
    const bad = patch(ok, { data: (b, h) => { b[entry(h, "m").offset + 64 + 3] |= 0x50; } });
    expect(codeOf(bad)).toMatchObject({ code: "tensor-quant", message: expect.stringMatching(/high nibble of the last packed byte is 5, not 0: the packed indices do not hold 7 elements/) });
  });

  it("refuses a truncated quantized file, and parts that run outside the data or overlap, allocating nothing sized by the header", () => {
    expect(codeOf(km4.subarray(0, km4.length - 100)).code).toBe("truncated");
    // a huge claimed matrix whose packed length is consistent: bounded by the data before anything is allocated
    const huge = patch(km4, { header: (h) => { entry(h, W).shape = [1e6, 1e6]; entry(h, W).quant.packedBytes = 5e11; } });
    const rss0 = process.memoryUsage().rss;
    expect(codeOf(huge)).toMatchObject({ code: "tensor-bounds", message: expect.stringMatching(/tensor enc\.0\.ffn\.fc1\.w of shape \[1000000, 1000000\] spans bytes/) });
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 2 ** 20);
    const lin = patch(lin4, { header: (h) => { entry(h, "embed.tokens").shape = [V, 4000]; entry(h, "embed.tokens").quant.packedBytes = V * 2000; } });
    expect(codeOf(lin).code).toBe("tensor-bounds");
    const overlap = patch(km4, { header: (h) => { entry(h, W).offset += 64; } });
    expect(codeOf(overlap).code).toBe("tensor-bounds");
  });

  it("runs in the wasm runtime: 8-bit K-means logits close to the f32 model's", () => {
    const arch = largestArch(DEMO_SPACE);
    const src = [5, 9, 12, 7, SPECIALS.eos];
    /** The logits of the first two decoder steps (bos, then token 11). */
    const logits = (bytes: Uint8Array) => {
      const s = HatModel.fromBytes(bytes, loadWasm()).subnet(arch).begin([src], { maxLen: 4 });
      const out = [...s.step(new Int32Array([SPECIALS.eos]), 0).slice(), ...s.step(new Int32Array([11]), 1).slice()];
      s.release();
      return out;
    };
    const base = decodeModel(f32Bytes);
    const q8 = quantizeModel(base, { method: "kmeans", bits: 8 });
    expect(q8.relRmse).toBeLessThan(0.02);
    expect(q8.f32Bytes).toBe(4 * q8.params);
    const a = logits(f32Bytes), b = logits(q8.bytes);
    expect(a).toHaveLength(2 * V);
    let num = 0, den = 0;
    for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(a[i])); }
    expect(num / den).toBeGreaterThan(0); // really the quantized weights
    expect(num / den).toBeLessThan(0.05);
    expect(HatModel.fromBytes(q8.bytes, loadWasm()).header.meta).toMatchObject({ quantized: { method: "kmeans", bits: 8 } });
  });
});
