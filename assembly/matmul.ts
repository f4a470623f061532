// Matrix products, f32, row-major with leading dimensions (in elements), so that a
// SubTransformer runs directly on the front slice W[:K, :N] of a SuperTransformer weight.
//
//   matmul    y[M,N] = x[M,K] · W[K,N] (+ b[N])       weights stored [in, out]
//   matmul_nt y[M,N] = x[M,K] · W[N,K]^T (+ b[N])     tied output projection, attention scores
//
// Arguments go outputs, inputs, sizes (llm.c). `b == 0` means no bias. Every kernel keeps its
// state in locals and its thread's scratch slot, so the threaded build splits N across workers
// (assembly/threads.ts).
// The *_naive versions are the textbook loops: the reference for the tests and the scalar
// baseline of the benchmark.

import { slot, SLOTS } from "./thread-id";

// ---------------------------------------------------------------------------------------------
// Reference kernels

export function matmul_naive(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc: f32 = b != 0 ? load<f32>(b + (<usize>n << 2)) : 0;
      for (let k = 0; k < K; k++) {
        acc += load<f32>(x + ((<usize>m * ldx + k) << 2)) * load<f32>(w + ((<usize>k * ldw + n) << 2));
      }
      store<f32>(y + ((<usize>m * ldy + n) << 2), acc);
    }
  }
}

export function matmul_nt_naive(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc: f32 = b != 0 ? load<f32>(b + (<usize>n << 2)) : 0;
      for (let k = 0; k < K; k++) {
        acc += load<f32>(x + ((<usize>m * ldx + k) << 2)) * load<f32>(w + ((<usize>n * ldw + k) << 2));
      }
      store<f32>(y + ((<usize>m * ldy + n) << 2), acc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SIMD kernels

/** c + a·b: a fused multiply-add in the optional relaxed-SIMD build (build/hat-relaxed.wasm),
 *  a multiply then an add in the baseline SIMD build. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Largest K for which a column panel is packed whole (96 KiB). Larger K (the logits' gradient
 *  times the embedding, a weight gradient over a large batch) runs in chunks (packedTiles). */
export const PACK_K: i32 = 3072;
const PANEL_BYTES: usize = PACK_K * 8 * 4;
/** One packed panel W[:, n:n+8], contiguous, per thread (assembly/thread-id.ts). */
const PANELS: usize = memory.data(<i32>PANEL_BYTES * SLOTS, 16);
/** packedTiles' chunk of K and block of rows for K > PACK_K: the block's x (256 x 256 floats, 256 KiB) stays in
 *  L2 while every panel of the chunk passes over it. */
const DEEP_KC: i32 = 256;
const DEEP_MB: i32 = 256;

/** Up to this many rows, matmul streams W once (matmulFewRows); above, packed 4x8 tiles. */
export const FEW_ROWS: i32 = 8;
/** Columns of y per block in matmulFewRows: the M x NB block of y (<= 16 KiB) and the four W
 *  row segments it meets (8 KiB) stay in L1. */
export const NB: i32 = 512;
const FEW_Y_BYTES: usize = FEW_ROWS * NB * 4;
/** Per thread: the M x NB block of y that matmulFewRows accumulates in, copied to y once done.
 *  Accumulating in y itself, two threads' neighbouring column shares of the same rows of y made
 *  the hardware prefetchers pull each other's lines away (the split product ran at half the
 *  speed of one thread: docs/runtime.md "Threads"). */
const FEW_Y: usize = memory.data(<i32>FEW_Y_BYTES * SLOTS, 16);

/** y = x · W (+ b). One row: gemv. Few rows (a beam-search decoder step): matmulFewRows.
 *  Many rows: copy each 8-column panel of W contiguous (a strided panel costs a TLB miss per
 *  row), then 4x8 register tiles; K > PACK_K in chunks. */
export function matmul(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  if (M <= 1) {
    if (M == 1) gemv(y, x, w, b, K, N, ldw);
    return;
  }
  if (M <= FEW_ROWS) {
    matmulFewRows(y, x, w, b, M, K, N, ldx, ldw, ldy);
    return;
  }
  const N8 = N & ~7;
  // K <= PACK_K: one chunk of K and one block of rows, each panel packed once.
  if (K <= PACK_K) packedTiles(y, x, w, b, M, K, N8, ldx, ldw, ldy, K, M);
  else packedTiles(y, x, w, b, M, K, N8, ldx, ldw, ldy, DEEP_KC, DEEP_MB);
  if (N8 < N) tailColumns(y, x, w, b, M, K, N8, N, ldx, ldw, ldy);
}

/** The panel W[0:K, 0:8] (rows ldw floats apart) copied contiguous to dst (K x 8). */
// @ts-ignore: decorator
@inline function packPanel(dst: usize, src: usize, ldw: i32, K: i32): void {
  const step = <usize>ldw << 2;
  for (let k = 0; k < K; k++) {
    v128.store(dst, v128.load(src));
    v128.store(dst, v128.load(src, 16), 16);
    src += step;
    dst += 32;
  }
}

/** y[:, 0:N8] = x · W (+ b): K in chunks of KC (<= PACK_K), rows in blocks of MB; per chunk and
 *  block each 8-column panel is packed and the block's rows pass over it, the chunk's sums added
 *  to y (the bias with the first chunk). For K > PACK_K, unpacked panels (rows ldw floats apart)
 *  ran at a quarter of the packed rate (K 8000, N 256: the logits' gradient times the embedding). */
// @ts-ignore: decorator
@inline function packedTiles(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N8: i32, ldx: i32, ldw: i32, ldy: i32, KC: i32, MB: i32): void {
  const PANEL = panelScratch();
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const xk = x + (<usize>k0 << 2), wk = w + (<usize>k0 * ldw << 2);
    for (let m0 = 0; m0 < M; m0 += MB) {
      const mb = min(MB, M - m0);
      const ym = y + (<usize>m0 * ldy << 2), xm = xk + (<usize>m0 * ldx << 2);
      for (let n = 0; n < N8; n += 8) {
        packPanel(PANEL, wk + (<usize>n << 2), ldw, kc);
        if (k0 == 0) panelTiles(ym, xm, PANEL, b, mb, n, kc, ldx, 8, ldy);
        else panelTiles(ym, xm, PANEL, 0, mb, n, kc, ldx, 8, ldy, true);
      }
    }
  }
}

/** This thread's packing panel (K <= PACK_K rows of 8 columns). */
// @ts-ignore: decorator
@inline export function panelScratch(): usize { return PANELS + slot() * PANEL_BYTES; }

/** y[:, n:n+8] = x · panel (+ b[n:n+8]), or y[:, n:n+8] += x · panel when acc: the panel's K rows
 *  ldp floats apart, 4x8 register tiles. */
// @ts-ignore: decorator
@inline export function panelTiles(y: usize, x: usize, panel: usize, b: usize, M: i32, n: i32, K: i32, ldx: i32, ldp: i32, ldy: i32, acc: bool = false): void {
  let m = 0;
  for (; m + 4 <= M; m += 4) tile4x8(y, x, panel, b, m, n, K, ldx, ldp, ldy, acc);
  for (; m < M; m++) tile1x8(y, x, panel, b, m, n, K, ldx, ldp, ldy, acc);
}

/** y[N] = x[K] · W[K,N] (+ b): four rows of W at a time, each streamed contiguously. */
export function gemv(y: usize, x: usize, w: usize, b: usize, K: i32, N: i32, ldw: i32): void {
  const N4 = N & ~3;
  for (let n = 0; n < N4; n += 4) {
    v128.store(y + (<usize>n << 2), b != 0 ? v128.load(b + (<usize>n << 2)) : f32x4.splat(0));
  }
  for (let n = N4; n < N; n++) store<f32>(y + (<usize>n << 2), b != 0 ? load<f32>(b + (<usize>n << 2)) : 0);
  const rowBytes = <usize>ldw << 2;
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const x0 = v128.load32_splat(x + (<usize>k << 2));
    const x1 = v128.load32_splat(x + (<usize>k << 2), 4);
    const x2 = v128.load32_splat(x + (<usize>k << 2), 8);
    const x3 = v128.load32_splat(x + (<usize>k << 2), 12);
    const w0 = w + <usize>k * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    for (let n = 0; n < N4; n += 4) {
      const o = <usize>n << 2;
      let acc = v128.load(y + o);
      acc = madd(x0, v128.load(w0 + o), acc);
      acc = madd(x1, v128.load(w1 + o), acc);
      acc = madd(x2, v128.load(w2 + o), acc);
      acc = madd(x3, v128.load(w3 + o), acc);
      v128.store(y + o, acc);
    }
    for (let n = N4; n < N; n++) {
      const o = <usize>n << 2;
      store<f32>(y + o, load<f32>(y + o)
        + f32x4.extract_lane(x0, 0) * load<f32>(w0 + o) + f32x4.extract_lane(x1, 0) * load<f32>(w1 + o)
        + f32x4.extract_lane(x2, 0) * load<f32>(w2 + o) + f32x4.extract_lane(x3, 0) * load<f32>(w3 + o));
    }
  }
  for (; k < K; k++) {
    const xs = load<f32>(x + (<usize>k << 2));
    const xv = f32x4.splat(xs);
    const wk = w + <usize>k * rowBytes;
    for (let n = 0; n < N4; n += 4) {
      const o = <usize>n << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(xv, v128.load(wk + o))));
    }
    for (let n = N4; n < N; n++) {
      const o = <usize>n << 2;
      store<f32>(y + o, load<f32>(y + o) + xs * load<f32>(wk + o));
    }
  }
}

/** y = x · W (+ b) for a few rows. W is streamed from memory once, four rows (k..k+3) at a
 *  time; the matching block of y (M rows x NB columns) stays in L1 and is updated two rows at a
 *  time, so each W vector loaded feeds two multiply-adds and each y load/store four. The steps
 *  (fewInit, fewK4, fewK1, fewStore) are shared with the k-means kernel (assembly/kmeans.ts),
 *  which feeds them decoded rows of W. */
function matmulFewRows(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  const wBytes = <usize>ldw << 2;
  const yb = fewY();
  for (let n0 = 0; n0 < N; n0 += NB) {
    const nb = min(NB, N - n0);
    const wb = w + (<usize>n0 << 2);
    fewInit(yb, b, M, n0, nb);
    let k = 0;
    for (; k + 4 <= K; k += 4) fewK4(yb, x, wb + <usize>k * wBytes, wBytes, M, k, ldx, nb);
    for (; k < K; k++) fewK1(yb, x, wb + <usize>k * wBytes, M, k, ldx, nb); // K % 4 leftover rows of W
    fewStore(y, yb, M, n0, nb, ldy);
  }
}

/** This thread's M x NB block of y for the few-rows products. */
// @ts-ignore: decorator
@inline export function fewY(): usize { return FEW_Y + slot() * FEW_Y_BYTES; }

/** The y block (M rows, NB bytes·4 apart) = the bias b[n0:n0+nb] (or 0). */
// @ts-ignore: decorator
@inline export function fewInit(yb: usize, b: usize, M: i32, n0: i32, nb: i32): void {
  const yBytes: usize = NB << 2;
  for (let m = 0; m < M; m++) {
    const ym = yb + <usize>m * yBytes;
    let n = 0;
    for (; n + 4 <= nb; n += 4) {
      v128.store(ym + (<usize>n << 2), b != 0 ? v128.load(b + (<usize>(n0 + n) << 2)) : f32x4.splat(0));
    }
    for (; n < nb; n++) store<f32>(ym + (<usize>n << 2), b != 0 ? load<f32>(b + (<usize>(n0 + n) << 2)) : 0);
  }
}

/** y block += x[:, k:k+4] · W[k:k+4, block], w0 the block's row k (rows wBytes apart). */
// @ts-ignore: decorator
@inline export function fewK4(yb: usize, x: usize, w0: usize, wBytes: usize, M: i32, k: i32, ldx: i32, nb: i32): void {
  const xBytes = <usize>ldx << 2, yBytes: usize = NB << 2;
  let m = 0;
  for (; m + 3 <= M && M - m != 4; m += 3) { // as matmul_nt: M = 5 is 3 + 2, M = 4 is 2 + 2
    const xm = x + ((<usize>m * ldx + k) << 2), ym = yb + <usize>m * yBytes;
    rows3k4(ym, yBytes, xm, xBytes, w0, wBytes, nb);
  }
  for (; m + 2 <= M; m += 2) {
    const xm = x + ((<usize>m * ldx + k) << 2), ym = yb + <usize>m * yBytes;
    rows2k4(ym, ym + yBytes, xm, xm + xBytes, w0, wBytes, nb);
  }
  if (m < M) rows1k4(yb + <usize>m * yBytes, x + ((<usize>m * ldx + k) << 2), w0, wBytes, nb);
}

/** y block += x[:, k] · W[k, block], wk the block's row k. */
// @ts-ignore: decorator
@inline export function fewK1(yb: usize, x: usize, wk: usize, M: i32, k: i32, ldx: i32, nb: i32): void {
  const yBytes: usize = NB << 2;
  for (let m = 0; m < M; m++) {
    const ym = yb + <usize>m * yBytes;
    const xs = load<f32>(x + ((<usize>m * ldx + k) << 2));
    const xv = f32x4.splat(xs);
    let n = 0;
    for (; n + 4 <= nb; n += 4) {
      const o = <usize>n << 2;
      v128.store(ym + o, madd(xv, v128.load(wk + o), v128.load(ym + o)));
    }
    for (; n < nb; n++) {
      const o = <usize>n << 2;
      store<f32>(ym + o, load<f32>(ym + o) + xs * load<f32>(wk + o));
    }
  }
}

/** y[:, n0:n0+nb] = the y block. */
// @ts-ignore: decorator
@inline export function fewStore(y: usize, yb: usize, M: i32, n0: i32, nb: i32, ldy: i32): void {
  for (let m = 0; m < M; m++) memory.copy(y + ((<usize>m * ldy + n0) << 2), yb + (<usize>m * NB << 2), <usize>nb << 2);
}

/** ya[0:nb] += xa[0:4] · W[0:4, 0:nb] and yb likewise: 8 splats of x stay in registers, each of
 *  the four W vectors per column group is loaded once for both rows. */
// @ts-ignore: decorator
@inline function rows2k4(ya: usize, yb: usize, xa: usize, xb: usize, w0: usize, wBytes: usize, nb: i32): void {
  const a0 = v128.load32_splat(xa), a1 = v128.load32_splat(xa, 4), a2 = v128.load32_splat(xa, 8), a3 = v128.load32_splat(xa, 12);
  const b0 = v128.load32_splat(xb), b1 = v128.load32_splat(xb, 4), b2 = v128.load32_splat(xb, 8), b3 = v128.load32_splat(xb, 12);
  const w1 = w0 + wBytes, w2 = w1 + wBytes, w3 = w2 + wBytes;
  const end = <usize>(nb & ~3) << 2;
  for (let o: usize = 0; o < end; o += 16) {
    let p = v128.load(ya + o), q = v128.load(yb + o);
    let v = v128.load(w0 + o);
    p = madd(a0, v, p); q = madd(b0, v, q);
    v = v128.load(w1 + o);
    p = madd(a1, v, p); q = madd(b1, v, q);
    v = v128.load(w2 + o);
    p = madd(a2, v, p); q = madd(b2, v, q);
    v = v128.load(w3 + o);
    p = madd(a3, v, p); q = madd(b3, v, q);
    v128.store(ya + o, p);
    v128.store(yb + o, q);
  }
  for (let o = end; o < (<usize>nb << 2); o += 4) columnK4(ya, xa, w0, wBytes, o);
  for (let o = end; o < (<usize>nb << 2); o += 4) columnK4(yb, xb, w0, wBytes, o);
}

/** The three-row version of rows2k4: each W vector loaded feeds three multiply-adds. */
// @ts-ignore: decorator
@inline function rows3k4(ya: usize, yBytes: usize, xa: usize, xBytes: usize, w0: usize, wBytes: usize, nb: i32): void {
  const xb = xa + xBytes, xc = xb + xBytes, yb = ya + yBytes, yc = yb + yBytes;
  const a0 = v128.load32_splat(xa), a1 = v128.load32_splat(xa, 4), a2 = v128.load32_splat(xa, 8), a3 = v128.load32_splat(xa, 12);
  const b0 = v128.load32_splat(xb), b1 = v128.load32_splat(xb, 4), b2 = v128.load32_splat(xb, 8), b3 = v128.load32_splat(xb, 12);
  const c0 = v128.load32_splat(xc), c1 = v128.load32_splat(xc, 4), c2 = v128.load32_splat(xc, 8), c3 = v128.load32_splat(xc, 12);
  const w1 = w0 + wBytes, w2 = w1 + wBytes, w3 = w2 + wBytes;
  const end = <usize>(nb & ~3) << 2;
  for (let o: usize = 0; o < end; o += 16) {
    let p = v128.load(ya + o), q = v128.load(yb + o), r = v128.load(yc + o);
    let v = v128.load(w0 + o);
    p = madd(a0, v, p); q = madd(b0, v, q); r = madd(c0, v, r);
    v = v128.load(w1 + o);
    p = madd(a1, v, p); q = madd(b1, v, q); r = madd(c1, v, r);
    v = v128.load(w2 + o);
    p = madd(a2, v, p); q = madd(b2, v, q); r = madd(c2, v, r);
    v = v128.load(w3 + o);
    p = madd(a3, v, p); q = madd(b3, v, q); r = madd(c3, v, r);
    v128.store(ya + o, p);
    v128.store(yb + o, q);
    v128.store(yc + o, r);
  }
  for (let o = end; o < (<usize>nb << 2); o += 4) columnK4(ya, xa, w0, wBytes, o);
  for (let o = end; o < (<usize>nb << 2); o += 4) columnK4(yb, xb, w0, wBytes, o);
  for (let o = end; o < (<usize>nb << 2); o += 4) columnK4(yc, xc, w0, wBytes, o);
}

/** The one-row version of rows2k4 (odd M). */
// @ts-ignore: decorator
@inline function rows1k4(ya: usize, xa: usize, w0: usize, wBytes: usize, nb: i32): void {
  const a0 = v128.load32_splat(xa), a1 = v128.load32_splat(xa, 4), a2 = v128.load32_splat(xa, 8), a3 = v128.load32_splat(xa, 12);
  const w1 = w0 + wBytes, w2 = w1 + wBytes, w3 = w2 + wBytes;
  const end = <usize>(nb & ~3) << 2;
  for (let o: usize = 0; o < end; o += 16) {
    let p = v128.load(ya + o);
    p = madd(a0, v128.load(w0 + o), p);
    p = madd(a1, v128.load(w1 + o), p);
    p = madd(a2, v128.load(w2 + o), p);
    p = madd(a3, v128.load(w3 + o), p);
    v128.store(ya + o, p);
  }
  for (let o = end; o < (<usize>nb << 2); o += 4) columnK4(ya, xa, w0, wBytes, o);
}

/** One scalar column (byte offset o) of the above: y[o] += x[0:4] · W[0:4, o]. */
// @ts-ignore: decorator
@inline function columnK4(ya: usize, xa: usize, w0: usize, wBytes: usize, o: usize): void {
  const wo = w0 + o;
  store<f32>(ya + o, load<f32>(ya + o)
    + load<f32>(xa) * load<f32>(wo) + load<f32>(xa, 4) * load<f32>(wo + wBytes)
    + load<f32>(xa, 8) * load<f32>(wo + 2 * wBytes) + load<f32>(xa, 12) * load<f32>(wo + 3 * wBytes));
}

// @ts-ignore: decorator
@inline function tile4x8(y: usize, x: usize, w: usize, b: usize, m: i32, n: i32, K: i32, ldx: i32, ldw: i32, ldy: i32, acc: bool): void {
  const yBytes = <usize>ldy << 2;
  let y0 = y + ((<usize>m * ldy + n) << 2);
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (acc) {
    c00 = v128.load(y0); c01 = v128.load(y0, 16);
    c10 = v128.load(y0 + yBytes); c11 = v128.load(y0 + yBytes, 16);
    c20 = v128.load(y0 + 2 * yBytes); c21 = v128.load(y0 + 2 * yBytes, 16);
    c30 = v128.load(y0 + 3 * yBytes); c31 = v128.load(y0 + 3 * yBytes, 16);
  }
  const xBytes = <usize>ldx << 2;
  let x0 = x + (<usize>m * ldx << 2);
  let wk = w; // panel: column n of W, rows ldw apart
  const wStep = <usize>ldw << 2;
  for (let k = 0; k < K; k++) {
    const w0 = v128.load(wk);
    const w1 = v128.load(wk, 16);
    let a = v128.load32_splat(x0);
    c00 = madd(a, w0, c00);
    c01 = madd(a, w1, c01);
    a = v128.load32_splat(x0 + xBytes);
    c10 = madd(a, w0, c10);
    c11 = madd(a, w1, c11);
    a = v128.load32_splat(x0 + 2 * xBytes);
    c20 = madd(a, w0, c20);
    c21 = madd(a, w1, c21);
    a = v128.load32_splat(x0 + 3 * xBytes);
    c30 = madd(a, w0, c30);
    c31 = madd(a, w1, c31);
    x0 += 4;
    wk += wStep;
  }
  if (b != 0) {
    const b0 = v128.load(b + (<usize>n << 2));
    const b1 = v128.load(b + (<usize>n << 2), 16);
    c00 = f32x4.add(c00, b0); c01 = f32x4.add(c01, b1);
    c10 = f32x4.add(c10, b0); c11 = f32x4.add(c11, b1);
    c20 = f32x4.add(c20, b0); c21 = f32x4.add(c21, b1);
    c30 = f32x4.add(c30, b0); c31 = f32x4.add(c31, b1);
  }
  v128.store(y0, c00); v128.store(y0, c01, 16); y0 += yBytes;
  v128.store(y0, c10); v128.store(y0, c11, 16); y0 += yBytes;
  v128.store(y0, c20); v128.store(y0, c21, 16); y0 += yBytes;
  v128.store(y0, c30); v128.store(y0, c31, 16);
}

// @ts-ignore: decorator
@inline function tile1x8(y: usize, x: usize, w: usize, b: usize, m: i32, n: i32, K: i32, ldx: i32, ldw: i32, ldy: i32, acc: bool): void {
  const y0 = y + ((<usize>m * ldy + n) << 2);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  if (acc) {
    c0 = v128.load(y0);
    c1 = v128.load(y0, 16);
  }
  let x0 = x + (<usize>m * ldx << 2);
  let wk = w; // panel: column n of W, rows ldw apart
  const wStep = <usize>ldw << 2;
  for (let k = 0; k < K; k++) {
    const a = v128.load32_splat(x0);
    c0 = madd(a, v128.load(wk), c0);
    c1 = madd(a, v128.load(wk, 16), c1);
    x0 += 4;
    wk += wStep;
  }
  if (b != 0) {
    c0 = f32x4.add(c0, v128.load(b + (<usize>n << 2)));
    c1 = f32x4.add(c1, v128.load(b + (<usize>n << 2), 16));
  }
  v128.store(y0, c0);
  v128.store(y0, c1, 16);
}

function tailColumns(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, n0: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  for (let m = 0; m < M; m++) {
    for (let n = n0; n < N; n++) {
      let acc: f32 = b != 0 ? load<f32>(b + (<usize>n << 2)) : 0;
      for (let k = 0; k < K; k++) {
        acc += load<f32>(x + ((<usize>m * ldx + k) << 2)) * load<f32>(w + ((<usize>k * ldw + n) << 2));
      }
      store<f32>(y + ((<usize>m * ldy + n) << 2), acc);
    }
  }
}

/** y = x · W^T (+ b), W stored [N, K]: dot products along K.
 *  W rows are taken in blocks of 8 that lie N/8 rows apart (rows n, n+Q, ..., n+7Q): reading 8
 *  distant rows at once keeps 8 hardware-prefetch streams busy (a 64 MiB embedding streamed as
 *  one sequential run gets about half the memory bandwidth). The block (8 x K) stays in L1 while
 *  the rows of x pass over it: an odd row first against all 8 (it streams the block in), then
 *  two rows of x against 4 W rows at a time (each W vector loaded feeds two multiply-adds, 8
 *  independent accumulators). The N % 8 rows left over run one at a time. */
export function matmul_nt(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  const wRow = <usize>ldw << 2, xRow = <usize>ldx << 2, yRow = <usize>ldy << 2;
  const Q = N >> 3;
  const wStep = <usize>Q * wRow, yStep = <usize>Q << 2; // between the 8 rows of a block
  for (let n = 0; n < Q; n++) {
    ntBlock8(y + (<usize>n << 2), yRow, yStep, x, xRow, w + <usize>n * wRow, wStep, K, M, b, b + (<usize>n << 2));
  }
  for (let n = Q << 3; n < N; n++) ntRow(y + (<usize>n << 2), yRow, x, xRow, w + <usize>n * wRow, K, M, b != 0 ? b + (<usize>n << 2) : 0);
}

/** y[m, j·yStep] = x[m] · W_j (+ b) for the 8 rows W_j = w0 + j·wStep of one block and every row
 *  m of x. y points at the block's first column, bn at its bias. Shared with the k-means kernel
 *  (assembly/kmeans.ts), which passes 8 decoded rows. */
// @ts-ignore: decorator
@inline export function ntBlock8(y: usize, yRow: usize, yStep: usize, x: usize, xRow: usize, w0: usize, wStep: usize, K: i32, M: i32, b: usize, bn: usize): void {
  const w4 = w0 + 4 * wStep;
  let m = 0;
  // an odd row first, against all 8 rows of W: 8 streams bring the block in from memory (4 at a
  // time got ~12 GB/s here, 8 ~30); then pairs of rows from L1. Three rows against 4 W rows (12
  // accumulators + 3 x + 1 W = 16 vector registers) spill on x64, where V8 keeps 15: 1 + 2 + 2 ran
  // 1.12x (streamed) to 1.27x (in cache) the 3 + 2 it replaced at M = 5 (docs/runtime.md).
  if (M & 1) {
    dot1x8(y, yStep, x, w0, wStep, K, b, bn);
    m = 1;
  }
  for (; m + 2 <= M; m += 2) {
    const xm = x + <usize>m * xRow, ym = y + <usize>m * yRow;
    dot2x4(ym, ym + yRow, yStep, xm, xm + xRow, w0, wStep, K, b, bn);
    dot2x4(ym + 4 * yStep, ym + yRow + 4 * yStep, yStep, xm, xm + xRow, w4, wStep, K, b, bn + 4 * yStep);
  }
}

/** y[m, 0] = x[m] · wn (+ *bn when bn != 0) for every row m: one of the N % 8 rows left over. */
// @ts-ignore: decorator
@inline export function ntRow(y: usize, yRow: usize, x: usize, xRow: usize, wn: usize, K: i32, M: i32, bn: usize): void {
  for (let m = 0; m < M; m++) {
    const xm = x + <usize>m * xRow;
    let a = f32x4.splat(0);
    let k = 0;
    for (; k + 4 <= K; k += 4) a = madd(v128.load(xm + (<usize>k << 2)), v128.load(wn + (<usize>k << 2)), a);
    let s: f32 = f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
    for (; k < K; k++) s += load<f32>(xm + (<usize>k << 2)) * load<f32>(wn + (<usize>k << 2));
    if (bn != 0) s += load<f32>(bn);
    store<f32>(y + <usize>m * yRow, s);
  }
}

/** Transpose-and-add: lane j of the result is the horizontal sum of a_j. */
// @ts-ignore: decorator
@inline function hsum4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const s01 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
  const s23 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(s01, s23, 0, 1, 4, 5), v128.shuffle<f32>(s01, s23, 2, 3, 6, 7));
}

/** Finish four dot products x · W[j] (W rows wStep bytes apart): add the scalar K % 4 leftover
 *  and the bias (b != 0: bias of lane j at bn + j·yStep), store lane j at y + j·yStep. */
// @ts-ignore: decorator
@inline function finish4(y: usize, yStep: usize, s: v128, x: usize, w0: usize, wStep: usize, K: i32, b: usize, bn: usize): void {
  for (let k = K & ~3; k < K; k++) {
    const o = <usize>k << 2;
    s = f32x4.add(s, f32x4.mul(v128.load32_splat(x + o),
      f32x4(load<f32>(w0 + o), load<f32>(w0 + wStep + o), load<f32>(w0 + 2 * wStep + o), load<f32>(w0 + 3 * wStep + o))));
  }
  if (b != 0) s = f32x4.add(s, f32x4(load<f32>(bn), load<f32>(bn + yStep), load<f32>(bn + 2 * yStep), load<f32>(bn + 3 * yStep)));
  store<f32>(y, f32x4.extract_lane(s, 0));
  store<f32>(y + yStep, f32x4.extract_lane(s, 1));
  store<f32>(y + 2 * yStep, f32x4.extract_lane(s, 2));
  store<f32>(y + 3 * yStep, f32x4.extract_lane(s, 3));
}

/** Two rows of x (xa, xb) against four rows of W (wStep bytes apart): 8 accumulators. */
// @ts-ignore: decorator
@inline function dot2x4(ya: usize, yb: usize, yStep: usize, xa: usize, xb: usize, w0: usize, wStep: usize, K: i32, b: usize, bn: usize): void {
  const w1 = w0 + wStep, w2 = w1 + wStep, w3 = w2 + wStep;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  const end = <usize>(K & ~3) << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const p = v128.load(xa + o), q = v128.load(xb + o);
    let v = v128.load(w0 + o);
    a0 = madd(p, v, a0); c0 = madd(q, v, c0);
    v = v128.load(w1 + o);
    a1 = madd(p, v, a1); c1 = madd(q, v, c1);
    v = v128.load(w2 + o);
    a2 = madd(p, v, a2); c2 = madd(q, v, c2);
    v = v128.load(w3 + o);
    a3 = madd(p, v, a3); c3 = madd(q, v, c3);
  }
  finish4(ya, yStep, hsum4(a0, a1, a2, a3), xa, w0, wStep, K, b, bn);
  finish4(yb, yStep, hsum4(c0, c1, c2, c3), xb, w0, wStep, K, b, bn);
}

/** One row of x against eight rows of W (wStep bytes apart): 8 accumulators, 8 streams. */
// @ts-ignore: decorator
@inline function dot1x8(y: usize, yStep: usize, x: usize, w0: usize, wStep: usize, K: i32, b: usize, bn: usize): void {
  const w1 = w0 + wStep, w2 = w1 + wStep, w3 = w2 + wStep;
  const w4 = w3 + wStep, w5 = w4 + wStep, w6 = w5 + wStep, w7 = w6 + wStep;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  const end = <usize>(K & ~3) << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const p = v128.load(x + o);
    a0 = madd(p, v128.load(w0 + o), a0); c0 = madd(p, v128.load(w4 + o), c0);
    a1 = madd(p, v128.load(w1 + o), a1); c1 = madd(p, v128.load(w5 + o), c1);
    a2 = madd(p, v128.load(w2 + o), a2); c2 = madd(p, v128.load(w6 + o), c2);
    a3 = madd(p, v128.load(w3 + o), a3); c3 = madd(p, v128.load(w7 + o), c3);
  }
  finish4(y, yStep, hsum4(a0, a1, a2, a3), x, w0, wStep, K, b, bn);
  finish4(y + 4 * yStep, yStep, hsum4(c0, c1, c2, c3), x, w4, wStep, K, b, bn + 4 * yStep);
}
