/**
 * Every wasm kernel against a float64 TypeScript reference on random inputs, including
 * front-slice leading dimensions and shapes with tails (not multiples of 4 or 8).
 * Tolerance: max abs error <= 1e-5 x max |reference| (f32 accumulation over K <= 700).
 */
import { describe, expect, it } from "vitest";
import { loadWasm } from "../../runtime/wasm-node.js";
import { randArray, relErr, runnableBuilds } from "../helpers.js";

const TOL = 1e-5;

// The baseline SIMD build, and the optional relaxed-SIMD (fused multiply-add) build when it
// exists and this Node accepts it (Node 20 needs --experimental-wasm-relaxed-simd).
const builds = runnableBuilds();

for (const build of builds) describe(build.name, () => {
const wasm = loadWasm(build.bytes);
const x = wasm.x;

/** f64 y = x · W (+b), W [K, ldw] front slice, or W^T when nt (W [N, ldw]). */
function refMatmul(X: Float32Array, W: Float32Array, b: Float32Array | null, M: number, K: number, N: number, ldx: number, ldw: number, nt: boolean) {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = b ? b[n] : 0;
    for (let k = 0; k < K; k++) s += X[m * ldx + k] * (nt ? W[n * ldw + k] : W[k * ldw + n]);
    y[m * N + n] = s;
  }
  return y;
}

const shapes: [number, number, number, number, number][] = [
  // M, K, N, extra columns of x (ldx - K), extra columns of W (ldw - N or ldw - K)
  [1, 512, 2048, 0, 0],
  [2, 64, 36, 3, 5],
  [5, 130, 77, 0, 11],
  [30, 512, 512, 128, 128],
  [7, 33, 9, 1, 2],
  [4, 1, 8, 0, 0],
  [13, 96, 128, 32, 64],
  // few rows (2..8): column blocks of 512 and their boundary, odd rows, K tails
  [5, 512, 1100, 0, 4],
  [2, 65, 40, 3, 0],
  [8, 70, 600, 2, 9],
  [3, 19, 13, 0, 1],
  // K > PACK_K (3072): chunks of 256 with a tail, blocks of 256 rows with a tail, N % 8 columns
  [261, 3100, 19, 3, 5],
  [13, 6000, 40, 0, 0],
];

describe("matmul kernels (y = x·W and y = x·W^T, leading dimensions)", () => {
  for (const [M, K, N, ex, ew] of shapes) {
    for (const nt of [false, true]) {
      for (const bias of [true, false]) {
        it(`${nt ? "matmul_nt" : "matmul"} M=${M} K=${K} N=${N} ldx=K+${ex} ldw+${ew} bias=${bias}`, () => {
          const ldx = K + ex, ldw = (nt ? K : N) + ew, wRows = nt ? N : K;
          const X = randArray(M * ldx, M * 7 + K), W = randArray(wRows * ldw, N * 3 + 1), b = bias ? randArray(N, 99) : null;
          const ref = refMatmul(X, W, b, M, K, N, ldx, ldw, nt);
          const m0 = wasm.mark();
          const px = wasm.putF32(X), pw = wasm.putF32(W), pb = b ? wasm.putF32(b) : 0, py = wasm.alloc(M * N * 4);
          for (const kernel of nt ? [x.matmul_nt, x.matmul_nt_naive] : [x.matmul, x.matmul_naive]) {
            wasm.f32(py, M * N).fill(NaN);
            kernel(py, px, pw, pb, M, K, N, ldx, ldw, N);
            const err = relErr(wasm.f32(py, M * N), ref);
            expect(err, `${kernel.name} rel err ${err}`).toBeLessThan(TOL);
          }
          wasm.release(m0);
        });
      }
    }
  }

  it("gemv equals the reference with a front-slice leading dimension", () => {
    const K = 100, N = 61, ldw = 80;
    const X = randArray(K, 5), W = randArray(K * ldw, 6), b = randArray(N, 7);
    const ref = refMatmul(X, W, b, 1, K, N, K, ldw, false);
    const m0 = wasm.mark();
    const py = wasm.alloc(N * 4);
    x.gemv(py, wasm.putF32(X), wasm.putF32(W), wasm.putF32(b), K, N, ldw);
    expect(relErr(wasm.f32(py, N), ref)).toBeLessThan(TOL);
    wasm.release(m0);
  });

  for (const [M, nt] of [[6, false], [3, false], [12, false], [1, true], [5, true], [9, true]] as const) {
    it(`${nt ? "matmul_nt" : "matmul"} M=${M} writes into an output with a leading dimension and leaves the gaps untouched`, () => {
      const K = 16, N = 12, ldy = 20;
      const X = randArray(M * K, 1), W = randArray(K * N, 2);
      const m0 = wasm.mark();
      const py = wasm.alloc(M * ldy * 4);
      wasm.f32(py, M * ldy).fill(7);
      (nt ? x.matmul_nt : x.matmul)(py, wasm.putF32(X), wasm.putF32(W), 0, M, K, N, K, nt ? K : N, ldy);
      const y = wasm.f32(py, M * ldy), ref = refMatmul(X, W, null, M, K, N, K, nt ? K : N, nt);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) expect(Math.abs(y[m * ldy + n] - ref[m * N + n])).toBeLessThan(1e-4);
        for (let n = N; n < ldy; n++) expect(y[m * ldy + n]).toBe(7);
      }
      wasm.release(m0);
    });
  }
});

describe("layer norm with residual", () => {
  for (const [M, D] of [[3, 640], [5, 37], [1, 8]]) {
    it(`add_layernorm M=${M} D=${D} (and layernorm_naive) match f64`, () => {
      const X = randArray(M * D, D, 3), R = randArray(M * D, D + 1), g = randArray(D, 2), b = randArray(D, 4);
      const ref = new Float64Array(M * D);
      for (let m = 0; m < M; m++) {
        let mean = 0, v = 0;
        for (let d = 0; d < D; d++) mean += X[m * D + d] + R[m * D + d];
        mean /= D;
        for (let d = 0; d < D; d++) v += (X[m * D + d] + R[m * D + d] - mean) ** 2;
        const inv = 1 / Math.sqrt(v / D + 1e-5);
        for (let d = 0; d < D; d++) ref[m * D + d] = (X[m * D + d] + R[m * D + d] - mean) * inv * g[d] + b[d];
      }
      const m0 = wasm.mark();
      const px = wasm.putF32(X), pr = wasm.putF32(R), pg = wasm.putF32(g), pb = wasm.putF32(b), py = wasm.alloc(M * D * 4);
      x.add_layernorm(py, px, pr, pg, pb, M, D);
      expect(relErr(wasm.f32(py, M * D), ref)).toBeLessThan(TOL);
      // in place on x, then the naive kernel on (x + r) precomputed
      x.add_layernorm(px, px, pr, pg, pb, M, D);
      expect(relErr(wasm.f32(px, M * D), ref)).toBeLessThan(TOL);
      const sum = wasm.putF32(X.map((v, i) => v + R[i]));
      x.layernorm_naive(py, sum, pg, pb, M, D);
      expect(relErr(wasm.f32(py, M * D), ref)).toBeLessThan(TOL);
      wasm.release(m0);
    });
  }
});

describe("transpose (exact: a copy, no arithmetic)", () => {
  // Tiles of 32 and their boundary, edges not a multiple of 4 on either side, one row, one column.
  for (const [R, C] of [[1, 1], [1, 9], [9, 1], [4, 4], [3, 5], [32, 32], [33, 31], [70, 129], [128, 4000]]) {
    it(`${R}x${C}`, () => {
      const X = randArray(R * C, R * 31 + C);
      const m0 = wasm.mark();
      const px = wasm.putF32(X), py = wasm.alloc(R * C * 4), pn = wasm.alloc(R * C * 4);
      x.transpose(py, px, R, C);
      x.transpose_naive(pn, px, R, C);
      const ref = new Float32Array(R * C);
      for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) ref[c * R + r] = X[r * C + c];
      expect(wasm.f32(py, R * C)).toEqual(ref);
      expect(wasm.f32(pn, R * C)).toEqual(ref);
      wasm.release(m0);
    });
  }
});

describe("activations, softmax, attention", () => {
  it("relu", () => {
    const X = randArray(103, 8);
    const m0 = wasm.mark();
    const p = wasm.putF32(X);
    x.relu(p, X.length);
    expect(Array.from(wasm.f32(p, X.length))).toEqual(Array.from(X, (v) => Math.max(0, v)));
    wasm.release(m0);
  });

  it("softmax_row with scale, causal limit and block-periodic padding mask", () => {
    const n = 12, last = 9, scale = 0.37, len = 3, block = 4;
    const s = randArray(n, 3, 4);
    const valid = (j: number) => j <= last && j % block < len;
    let mx = -Infinity;
    for (let j = 0; j < n; j++) if (valid(j)) mx = Math.max(mx, s[j] * scale);
    let sum = 0;
    const ref = Array.from(s, (v, j) => (valid(j) ? Math.exp(v * scale - mx) : 0));
    for (const v of ref) sum += v;
    const m0 = wasm.mark();
    const p = wasm.putF32(s);
    x.softmax_row(p, n, last, scale, len, block);
    expect(relErr(wasm.f32(p, n), ref.map((v) => v / sum))).toBeLessThan(TOL);
    wasm.release(m0);
  });

  it("multi-head attention with padding lengths, beams sharing keys, causal", () => {
    const B = 4, kvDiv = 2, Tq = 3, Tk = 5, H = 4, Qd = 16, hd = Qd / H;
    const q = randArray(B * Tq * Qd, 1), k = randArray((B / kvDiv) * Tk * Qd, 2), v = randArray((B / kvDiv) * Tk * Qd, 3);
    const lens = [4, 2];
    for (const causal of [false, true]) {
      const ref = new Float64Array(B * Tq * Qd);
      for (let b = 0; b < B; b++) {
        const kb = Math.floor(b / kvDiv);
        for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++) {
          const w: number[] = [];
          for (let j = 0; j < Tk; j++) {
            const ok = j < lens[kb] && (!causal || j <= i + Tk - Tq);
            let d = 0;
            for (let c = 0; c < hd; c++) d += q[(b * Tq + i) * Qd + h * hd + c] * k[(kb * Tk + j) * Qd + h * hd + c];
            w.push(ok ? d / Math.sqrt(hd) : -Infinity);
          }
          const mx = Math.max(...w), e = w.map((t) => Math.exp(t - mx)), z = e.reduce((a, c) => a + c, 0);
          for (let c = 0; c < hd; c++) {
            let o = 0;
            for (let j = 0; j < Tk; j++) o += (e[j] / z) * v[(kb * Tk + j) * Qd + h * hd + c];
            ref[(b * Tq + i) * Qd + h * hd + c] = o;
          }
        }
      }
      const m0 = wasm.mark();
      const po = wasm.alloc(B * Tq * Qd * 4), sc = wasm.alloc(Tq * Tk * 4);
      x.attention(po, wasm.putF32(q), wasm.putF32(k), wasm.putF32(v), sc, wasm.putI32(lens), B, Tq, Tk, H, Qd, Tq * Qd, Tk * Qd, Tq * Qd, kvDiv, Tk, causal ? 1 : 0);
      expect(relErr(wasm.f32(po, B * Tq * Qd), ref)).toBeLessThan(TOL);
      wasm.release(m0);
    }
  });
});

describe("decoding kernels", () => {
  it("token_nll gives -log p(target) and the smoothing sum, zero for pad targets", () => {
    const R = 3, V = 17, logits = randArray(R * V, 4, 3), targets = [5, 1, 16];
    const m0 = wasm.mark();
    const pn = wasm.alloc(R * 4), ps = wasm.alloc(R * 4);
    x.token_nll(pn, ps, wasm.putF32(logits), wasm.putI32(targets), R, V, 1);
    const nll = wasm.f32(pn, R), sm = wasm.f32(ps, R);
    for (let r = 0; r < R; r++) {
      const row = Array.from(logits.subarray(r * V, (r + 1) * V)), mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
      if (targets[r] === 1) { expect(nll[r]).toBe(0); continue; }
      expect(Math.abs(nll[r] - (lse - row[targets[r]]))).toBeLessThan(1e-5);
      expect(Math.abs(sm[r] - row.reduce((a, v) => a + lse - v, 0)) / Math.abs(sm[r])).toBeLessThan(1e-5);
    }
    wasm.release(m0);
  });

  // log-softmax with the SIMD exp (assembly/decode.ts expf4) against float64: vocabularies with
  // tails (V % 4 != 0), logits from -120 to +60 (exp underflows far below the max), a row with
  // -Infinity entries, and token_nll on the same rows
  it("log_softmax_rows and token_nll match float64 on wide logits (within 2e-6 + 4e-7·|value|: a few f32 ulps)", () => {
    for (const V of [3, 17, 1001, 32771]) {
      const R = 3, logits = randArray(R * V, 40 + V, 30); // uniform in [-30, 30)
      for (let v = 0; v < V; v += 7) logits[v] = -120 + (v % 13); // far below the max
      logits[V + 1] = 60;
      logits[2 * V] = -Infinity; logits[2 * V + (V >> 1)] = -Infinity;
      const targets = [0, 1, V - 1];
      const m0 = wasm.mark();
      const px = wasm.putF32(logits), pn = wasm.alloc(R * 4), ps = wasm.alloc(R * 4);
      x.token_nll(pn, ps, px, wasm.putI32(targets), R, V, -1);
      const nll = wasm.f32(pn, R).slice(), sm = wasm.f32(ps, R).slice();
      x.log_softmax_rows(px, R, V);
      const lp = wasm.f32(px, R * V);
      for (let r = 0; r < R; r++) {
        const row = Array.from(logits.subarray(r * V, (r + 1) * V)), mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
        const tol = (ref: number) => 2e-6 + 4e-7 * Math.abs(ref);
        let worst = 0;
        row.forEach((v, i) => { if (v !== -Infinity) worst = Math.max(worst, Math.abs(lp[r * V + i] - (v - lse)) / tol(v - lse)); else expect(lp[r * V + i]).toBe(-Infinity); });
        expect(worst).toBeLessThan(1);
        expect(Math.abs(nll[r] - (lse - row[targets[r]]))).toBeLessThan(tol(lse - row[targets[r]]));
        if (r < 2) expect(Math.abs(sm[r] - row.reduce((a, v) => a + lse - v, 0)) / Math.abs(sm[r])).toBeLessThan(1e-5);
      }
      wasm.release(m0);
    }
  });
});
});
