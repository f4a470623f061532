/**
 * The int8 products (assembly/int8.ts, packed by runtime/int8.ts) in both builds, on random
 * inputs with tails (M, K, N not multiples of the tiles), leading dimensions, more rows than the
 * activation buffer's block, and the embedding's transposed orientation. Two references:
 *
 * 1. exact: the activations quantized in TypeScript with the kernels' f32 arithmetic (Math.fround
 *    at each step, ties to even), the integer sums exact, then the f64 epilogue. The kernels differ
 *    from it only by the f32 rounding of their epilogue: |y - ref| <= 2e-6 · (|s·sx·T| + |s·min·S|
 *    + |b|) per element (four f32 roundings, 2.4e-7, with margin): one dropped or doubled element
 *    is well outside it.
 * 2. float64: x · Ŵ with the f32 x and Ŵ the file's dequantized weights. Each activation is within
 *    sx/2 of its quantized value (sx = the row's (max - min) / L, L = q8_levels()), so
 *    |y - ref| <= (0.51 · sx + 1e-5 · max|x|) · Σ_k |Ŵ_kc| + 1e-6.
 */
import { describe, expect, it } from "vitest";
import { loadWasm } from "../../runtime/wasm-node.js";
import { packQ8, q8Source, Q8ShapeError, type Q8Exports } from "../../runtime/int8.js";
import { dequantize, linearQuantize } from "../../runtime/quant.js";
import { Q8_MAX_K } from "../../assembly/q8-layout.js";
import { randArray, runnableBuilds } from "../helpers.js";

const builds = runnableBuilds();

const f = Math.fround;
const roundEven = (v: number) => { const r = Math.round(v); return Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r; };

/** The kernels' quantization of one row, in TypeScript. */
function quantRow(x: Float32Array, off: number, K: number, L: number) {
  let mn = Infinity, mx = -Infinity;
  for (let k = 0; k < K; k++) { mn = Math.min(mn, x[off + k]); mx = Math.max(mx, x[off + k]); }
  const range = f(mx - mn), inv = range > 0 ? f(L / range) : 0, sx = range > 0 ? f(range / L) : 0;
  const u = new Int32Array(K);
  for (let k = 0; k < K; k++) u[k] = Math.min(L, Math.max(0, roundEven(f(f(x[off + k] - mn) * inv))));
  return { u, sx, mn, mx };
}

for (const build of builds) describe(`${build.name}: int8 products`, () => {
  const wasm = loadWasm(build.bytes);
  const x = wasm.x as typeof wasm.x & Q8Exports;
  const L = x.q8_levels();

  it("activations take the build's levels (255 with dot_i16x8_s, 127 with the 7-bit relaxed dot)", () => {
    expect(L).toBe(build.name === "hat.wasm" ? 255 : 127);
  });

  // M, K, N, ldx - K, extra stored rows/columns of W (front slice), axis (1: [in,out]; 0: embedding [V,D] read transposed)
  const shapes: [number, number, number, number, number, 0 | 1][] = [
    [1, 512, 2048, 0, 0, 1],
    [5, 512, 300, 0, 0, 1],
    [5, 130, 77, 3, 11, 1],
    [30, 512, 520, 128, 0, 1],
    [7, 33, 9, 1, 2, 1],
    [4, 1, 8, 0, 0, 1],
    [3, 19, 13, 0, 1, 1],
    [37, 70, 44, 2, 5, 1], // three blocks of activation rows
    [2, 3072, 12, 0, 0, 1],
    [5, 64, 1003, 0, 7, 0],
    [1, 37, 18, 0, 3, 0],
  ];
  for (const [M, K, N, ex, ew, axis] of shapes) {
    for (const bias of [true, false]) {
      it(`M=${M} K=${K} N=${N} ldx=K+${ex} stored+${ew} axis=${axis} bias=${bias}`, () => {
        const ldx = K + ex;
        const [R, C] = axis === 1 ? [K + ew, N + ew] : [N + ew, K + ew];
        const Wf = randArray(R * C, K * 31 + N, 0.2);
        const lin = linearQuantize({ shape: [R, C], data: Wf }, { bits: 8, axis });
        const W = dequantize(lin).data;
        const src = q8Source({ shape: [R, C], data: W }, axis, lin);
        const X = randArray(M * ldx, M * 5 + K, 2), b = bias ? randArray(N, 3) : null;
        const el = (k: number, n: number) => (axis === 1 ? k * C + n : n * C + k);
        // references
        const exact = new Float64Array(M * N), tol = new Float64Array(M * N), f64 = new Float64Array(M * N), bound = new Float64Array(M * N);
        for (let m = 0; m < M; m++) {
          const r = quantRow(X, m * ldx, K, L);
          const xmax = Math.max(Math.abs(r.mn), Math.abs(r.mx));
          for (let n = 0; n < N; n++) {
            const z = src.zeroPoints[n], s = src.scales[n];
            let T = 0, S = 0, d = 0, aw = 0;
            for (let k = 0; k < K; k++) {
              const w = src.q[el(k, n)] - z;
              T += r.u[k] * w; S += w;
              d += X[m * ldx + k] * W[el(k, n)]; aw += Math.abs(W[el(k, n)]);
            }
            const bn = b ? b[n] : 0;
            exact[m * N + n] = s * (r.sx * T + r.mn * S) + bn;
            tol[m * N + n] = 2e-6 * (Math.abs(s * r.sx * T) + Math.abs(s * r.mn * S) + Math.abs(bn)) + 1e-30;
            f64[m * N + n] = d + bn;
            bound[m * N + n] = (0.51 * r.sx + 1e-5 * xmax) * aw + 1e-6;
          }
        }
        const m0 = wasm.mark();
        const ldy = N + 3;
        const px = wasm.putF32(X), pb = b ? wasm.putF32(b) : 0, py = wasm.alloc(M * ldy * 4);
        const packed = packQ8(src, K, N);
        const pw = wasm.alloc(packed.length);
        new Uint8Array(wasm.x.memory.buffer, pw, packed.length).set(packed);
        const pq = wasm.alloc(src.q.length);
        new Uint8Array(wasm.x.memory.buffer, pq, src.q.length).set(src.q);
        const pz = wasm.alloc(N);
        new Uint8Array(wasm.x.memory.buffer, pz, N).set(src.zeroPoints.subarray(0, N));
        const ps = wasm.putF32(src.scales.subarray(0, N));
        const runs = {
          q8_matmul: () => x.q8_matmul(py, px, pw, pb, M, K, N, ldx, 0, ldy),
          q8_matmul_naive: () => x.q8_matmul_naive(py, px, pq, pz, ps, pb, M, K, N, ldx, axis === 1 ? C : 1, axis === 1 ? 1 : C, ldy),
        };
        for (const [kernel, run] of Object.entries(runs)) {
          wasm.f32(py, M * ldy).fill(7);
          run();
          const y = wasm.f32(py, M * ldy);
          let worstExact = 0, worstBound = 0;
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              const v = y[m * ldy + n], i = m * N + n;
              worstExact = Math.max(worstExact, Math.abs(v - exact[i]) / tol[i]);
              worstBound = Math.max(worstBound, Math.abs(v - f64[i]) / bound[i]);
            }
            for (let n = N; n < ldy; n++) expect(y[m * ldy + n], `${kernel} wrote past column N`).toBe(7);
          }
          expect(worstExact, `${kernel}: error / exact tolerance`).toBeLessThanOrEqual(1);
          expect(worstBound, `${kernel}: error / quantization bound`).toBeLessThanOrEqual(1);
        }
        wasm.release(m0);
      });
    }
  }

  it("the first call (the engine's baseline tier) and a warmed-up call give the same bits", () => {
    // Node 20's V8 computed i32x4.relaxed_dot_i8x16_i7x16_add_s twice over in Liftoff (assembly/int8.ts, dot4)
    const fresh = loadWasm(build.bytes), fx = fresh.x as typeof fresh.x & Q8Exports;
    const K = 64, N = 16, M = 5, W = randArray(K * N, 8);
    const lin = linearQuantize({ shape: [K, N], data: W }, { bits: 8 });
    const packed = packQ8(q8Source({ shape: [K, N], data: W }, 1, lin), K, N);
    const pw = fresh.alloc(packed.length);
    new Uint8Array(fresh.x.memory.buffer, pw, packed.length).set(packed);
    const px = fresh.putF32(randArray(M * K, 9)), py = fresh.alloc(M * N * 4);
    fx.q8_matmul(py, px, pw, 0, M, K, N, K, 0, N);
    const first = fresh.f32(py, M * N).slice();
    for (let i = 0; i < 20000; i++) fx.q8_matmul(py, px, pw, 0, M, K, N, K, 0, N);
    expect(Array.from(fresh.f32(py, M * N))).toEqual(Array.from(first));
  });

  it("a constant row (zero range) is exact", () => {
    const K = 21, N = 10, W = randArray(K * N, 4);
    const lin = linearQuantize({ shape: [K, N], data: W }, { bits: 8 });
    const Wd = dequantize(lin).data;
    const m0 = wasm.mark();
    const packed = packQ8(q8Source({ shape: [K, N], data: Wd }, 1, lin), K, N);
    const pw = wasm.alloc(packed.length);
    new Uint8Array(wasm.x.memory.buffer, pw, packed.length).set(packed);
    const px = wasm.putF32(new Float32Array(K).fill(0.75)), py = wasm.alloc(N * 4);
    x.q8_matmul(py, px, pw, 0, 1, K, N, K, 0, N);
    const y = wasm.f32(py, N);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += 0.75 * Wd[k * N + n];
      expect(Math.abs(y[n] - s)).toBeLessThan(1e-5 * (1 + Math.abs(s)));
    }
    wasm.release(m0);
  });

  it("a K or N other than the packed matrix's traps (not a silent wrong product)", () => {
    const K = 8, N = 8, W = randArray(K * N, 5);
    const lin = linearQuantize({ shape: [K, N], data: W }, { bits: 8 });
    const m0 = wasm.mark();
    const packed = packQ8(q8Source({ shape: [K, N], data: W }, 1, lin), K, N);
    const pw = wasm.alloc(packed.length);
    new Uint8Array(wasm.x.memory.buffer, pw, packed.length).set(packed);
    const px = wasm.putF32(new Float32Array(K)), py = wasm.alloc(N * 4);
    expect(() => x.q8_matmul(py, px, pw, 0, 1, K - 1, N, K, 0, N)).toThrow(WebAssembly.RuntimeError);
    expect(() => x.q8_matmul(py, px, pw, 0, 1, K, N + 1, K, 0, N)).toThrow(WebAssembly.RuntimeError);
    wasm.release(m0);
  });
});

describe("packQ8", () => {
  it("refuses a product outside the matrix and a K beyond the kernel's buffer, naming them", () => {
    const src = q8Source({ shape: [16, 8], data: randArray(128, 1) }, 1);
    expect(() => packQ8(src, 17, 8, "enc.0.ffn.fc1.w")).toThrow(/enc\.0\.ffn\.fc1\.w: a 17x8 product does not fit its shape \[16,8\]/);
    expect(() => packQ8(src, 16, 9)).toThrow(Q8ShapeError);
    const big = q8Source({ shape: [Q8_MAX_K + 1, 1], data: new Float32Array(Q8_MAX_K + 1).fill(0.5) }, 1);
    expect(() => packQ8(big, Q8_MAX_K + 1, 1, "w")).toThrow(/K <= 4096/);
  });

  it("keeps a linear file's indices, zero points and scales; quantizes anything else at 8 bits", () => {
    const t = { shape: [6, 5], data: randArray(30, 2) };
    const lin = linearQuantize(t, { bits: 8, axis: 1 });
    const s = q8Source(dequantize(lin), 1, lin);
    expect(s.zeroPoints).toBe(lin.zeroPoints);
    expect(Array.from(s.q)).toEqual(Array.from(lin.packed));
    const fresh = q8Source(t, 1);
    expect(Array.from(fresh.q)).toEqual(Array.from(lin.packed));
    expect(() => q8Source({ shape: [30], data: t.data }, 1)).toThrow(Q8ShapeError);
  });
});
