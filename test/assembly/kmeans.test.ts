/**
 * The k-means products (assembly/kmeans.ts, packed by runtime/kmeans.ts) in both builds, on random
 * inputs with tails (M, K, N not multiples of the tiles), leading dimensions, front slices of a
 * larger stored matrix, 4 and 8 bits, both orientations (weights [in, out]; the embedding [V, D]
 * read transposed). Two references:
 *
 * 1. float64: x · Ŵ with Ŵ the codebook's values at the file's indices, within
 *    2e-6 · Σ_k |x_k · Ŵ_kn| + 1e-6 (f32 accumulation over K <= 3100 terms);
 * 2. exact: the f32 kernel (matmul, matmul_nt) on the dequantized matrix. The k-means kernels run
 *    its steps on decoded rows in the same order, so the results are equal bit for bit, except
 *    where the order differs on purpose: one row (f32 uses gemv, whose K % 4 leftover is not fused
 *    in the relaxed build), the encoder's K > 3072 (the few-rows steps in blocks of rows) and a
 *    transposed K > 1024 (rows one at a time).
 *
 * Then a whole model: a kmeans4 / kmeans8 file run on its packed indices gives the logits of the
 * same file run dequantized in f32, bit for bit, on one and two threads; and slices beyond the
 * packed matrix trap (a WasmTrapError, never a wrong read).
 */
import { describe, expect, it } from "vitest";
import { loadWasm, loadWasmThreads } from "../../runtime/wasm-node.js";
import { packKm, type KmExports } from "../../runtime/kmeans.js";
import { dequantize, kmeansQuantize, unpackIndices } from "../../runtime/quant.js";
import { HatModel, quantizeModel, randomSuperTransformer } from "../../runtime/model.js";
import { decodeModel } from "../../runtime/format.js";
import { largestArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { SPECIALS, type ValidArch } from "../../runtime/types.js";
import { WasmTrapError } from "../../runtime/wasm.js";
import { randArray, rng, runnableBuilds } from "../helpers.js";

const builds = runnableBuilds();

for (const build of builds) describe(`${build.name}: k-means products`, () => {
  const wasm = loadWasm(build.bytes);
  const x = wasm.x as typeof wasm.x & KmExports;
  const relaxed = build.name.includes("relaxed");

  // M, K, N, ldx - K, extra stored rows/cols (front slice), transposed (the embedding's orientation)
  const shapes: [number, number, number, number, number, boolean][] = [
    [5, 512, 300, 0, 0, false],
    [1, 130, 77, 3, 11, false],
    [1, 64, 40, 0, 0, false],
    [2, 33, 9, 1, 2, false],
    [30, 70, 44, 2, 5, false],
    [12, 19, 13, 0, 1, false],
    [9, 3100, 16, 0, 0, false], // K > PACK_K: the few-rows steps in blocks of rows
    [5, 64, 1003, 0, 7, true],
    [5, 1100, 70, 0, 0, true], // K > KM_NT_BLOCK_K: one row at a time
    [1, 37, 18, 0, 3, true],
    [3, 640, 96, 5, 0, true],
  ];
  for (const bits of [4, 8] as const) for (const [M, K, N, ex, ew, nt] of shapes) {
    it(`${bits} bits: M=${M} K=${K} N=${N} ldx=K+${ex} stored+${ew}${nt ? " transposed" : ""}`, () => {
      const ldx = K + ex, ldy = N + 3;
      const [R, C] = nt ? [N + ew, K + ew + 1] : [K + ew, N + ew + 1]; // odd C for 4 bits: rows start mid-byte in the file
      const q = kmeansQuantize({ shape: [R, C], data: randArray(R * C, K * 31 + N + bits, 0.2) }, { bits });
      const W = dequantize(q).data, idx = unpackIndices(q.packed, R * C, bits);
      for (let i = 0; i < 50; i++) expect(W[i]).toBe(q.codebook[idx[i]]);
      const X = randArray(M * ldx, M * 5 + K, 2), b = randArray(N, 3);
      const el = (k: number, n: number) => (nt ? n * C + k : k * C + n);
      const m0 = wasm.mark();
      const px = wasm.putF32(X), pb = wasm.putF32(b), py = wasm.alloc(M * ldy * 4), pf = wasm.alloc(M * ldy * 4);
      const pw = wasm.putBytes(packKm(q)), pd = wasm.putF32(W);
      wasm.f32(py, M * ldy).fill(7);
      if (nt) x.km_matmul_nt(py, px, pw, pb, M, K, N, ldx, 0, ldy); else x.km_matmul(py, px, pw, pb, M, K, N, ldx, 0, ldy);
      if (nt) x.matmul_nt(pf, px, pd, pb, M, K, N, ldx, C, ldy); else x.matmul(pf, px, pd, pb, M, K, N, ldx, C, ldy);
      const y = wasm.f32(py, M * ldy).slice(), yf = wasm.f32(pf, M * ldy).slice();
      let worst = 0;
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let d = b[n], a = Math.abs(b[n]);
        for (let k = 0; k < K; k++) { const t = X[m * ldx + k] * W[el(k, n)]; d += t; a += Math.abs(t); }
        worst = Math.max(worst, Math.abs(y[m * ldy + n] - d) / (2e-6 * a + 1e-6));
      }
      expect(worst).toBeLessThanOrEqual(1);
      const exact = !(M === 1 && relaxed && K % 4 !== 0) && !(K > 3072 && M > 8) && !(nt && K > 1024);
      if (exact) for (let m = 0; m < M; m++) expect(y.subarray(m * ldy, m * ldy + N)).toEqual(yf.subarray(m * ldy, m * ldy + N));
      // km_decode, the naive path, is the codebook at the indices
      const pdd = wasm.alloc(R * C * 4);
      x.km_decode(pdd, pw, R, C);
      expect(wasm.f32(pdd, R * C)).toEqual(W);
      wasm.release(m0);
    });
  }

  it("a slice beyond the packed matrix, or a header of other bits, traps", () => {
    const q = kmeansQuantize({ shape: [8, 16], data: randArray(128, 1) }, { bits: 4 });
    const m0 = wasm.mark();
    const pw = wasm.putBytes(packKm(q)), px = wasm.alloc(4 * 64), py = wasm.alloc(4 * 64);
    expect(() => wasm.call("km_matmul", () => x.km_matmul(py, px, pw, 0, 1, 9, 16, 9, 0, 16))).toThrow(WasmTrapError);
    expect(() => wasm.call("km_matmul", () => x.km_matmul(py, px, pw, 0, 1, 8, 17, 8, 0, 17))).toThrow(WasmTrapError);
    new Int32Array(wasm.x.memory.buffer, pw, 4)[2] = 3; // bits
    expect(() => wasm.call("km_matmul", () => x.km_matmul(py, px, pw, 0, 1, 8, 16, 8, 0, 16))).toThrow(WasmTrapError);
    wasm.release(m0);
  });
});

const V = 300;
const superBytes = randomSuperTransformer(DEMO_SPACE, V, 5);
const files = {
  kmeans4: quantizeModel(decodeModel(superBytes), { bits: 4, method: "kmeans" }).bytes,
  kmeans8: quantizeModel(decodeModel(superBytes), { bits: 8, method: "kmeans" }).bytes,
};

/** Logits of 4 decoder steps, beam 2, over 2 source sentences. */
function stepLogits(model: HatModel, arch: ValidArch): Float32Array {
  const r = rng(11), tok = () => 4 + Math.floor(r() * (V - 4));
  const src = [[tok(), tok(), tok(), tok(), tok(), SPECIALS.eos], [tok(), tok(), tok(), SPECIALS.eos]];
  const s = model.subnet(arch).begin(src, { beam: 2, maxLen: 8 });
  const out: number[] = [], tokens = new Int32Array(s.rows).fill(SPECIALS.eos);
  for (let t = 0; t < 4; t++) {
    out.push(...s.step(tokens, t));
    for (let b = 0; b < s.rows; b++) tokens[b] = tok();
  }
  s.release();
  return Float32Array.from(out);
}

for (const build of builds) describe(`${build.name}: a model on its packed k-means indices`, () => {
  for (const [form, bytes] of Object.entries(files) as ["kmeans4" | "kmeans8", Uint8Array][]) {
    it(`${form}: the logits of the dequantized f32 run, bit for bit (largest and smallest SubTransformer)`, () => {
      const packed = HatModel.fromBytes(bytes, loadWasm(build.bytes), { quant: form });
      const deq = HatModel.fromBytes(bytes, loadWasm(build.bytes), { quant: "f32" });
      const asStored = HatModel.fromBytes(bytes, loadWasm(build.bytes)); // no quant asked: the file's own form
      expect(packed.weights.kmeans).toBe(true);
      expect(asStored.weights.kmeans).toBe(true);
      expect(asStored.weights.quant).toBe(form);
      expect(deq.weights.kmeans).toBe(false);
      for (const arch of [largestArch(DEMO_SPACE), smallestArch(DEMO_SPACE)]) expect(stepLogits(packed, arch)).toEqual(stepLogits(deq, arch));
    });
  }
});

describe("k-means products on two threads", () => {
  it("give one thread's logits", async () => {
    const one = HatModel.fromBytes(files.kmeans4, loadWasm(), { quant: "kmeans4" });
    const two = HatModel.fromBytes(files.kmeans4, await loadWasmThreads(2), { quant: "kmeans4" });
    two.weights.wasm.x.set_threads!(2, 1); // split every product, however small
    expect(stepLogits(two, largestArch(DEMO_SPACE))).toEqual(stepLogits(one, largestArch(DEMO_SPACE)));
  });
});
