// K-means products (issue 14 item 1; docs/runtime.md, "k-means products"): the products of a
// k-means model run on its packed indices (assembly/km-layout.ts), 4 or 8 bits a weight in
// memory instead of 32. A few rows of Ŵ at a time are decoded into this thread's L1 scratch and
// fed to the f32 kernels' own steps (assembly/matmul.ts), in the same order, so every result is
// bit for bit the f32 kernel's on the dequantized matrix (the K > PACK_K encoder case excepted,
// which runs the few-rows steps in blocks of rows).
//
//   km_matmul_cols     y[:, n0:n1] = x · Ŵ[:K, n0:n1] (+ b)    weights [in, out]: a thread's share
//   km_matmul_nt_cols  y[:, n0:n1] = x · Ŵ[n0:n1, :K]ᵀ (+ b)   the tied output projection (E [V, D])
//   km_embed           the token lookup from a k-means embedding
//   km_decode          Ŵ[:R, :C] as f32, one element at a time: the reference
//
// 4-bit decode: a byte holds two indices; i8x16.swizzle looks 16 of them up in four 16-byte
// tables, byte j of each of the 16 centroids, and three rounds of shuffles interleave the bytes
// into four f32x4. 8 bits: one scalar lookup per element.

import { slot, SLOTS } from "./thread-id";
import {
  FEW_ROWS, NB, PACK_K, fewY, fewInit, fewK4, fewK1, fewStore, panelScratch, panelTiles, ntBlock8, ntRow,
} from "./matmul";
import { embedRow } from "./embed";
import { KM_BITS, KM_CODEBOOK, KM_COLS, KM_DATA, KM_MAX_NT_K, KM_NT_BLOCK_K, KM_ROWS, KM_STRIDE } from "./km-layout";

/** Per thread: four decoded rows of NB columns (the few-rows steps' W block). */
const ROWS_BYTES: usize = 4 * NB * 4;
const ROWS: usize = memory.data(<i32>ROWS_BYTES * SLOTS, 16);
/** Per thread: eight decoded rows of up to KM_NT_BLOCK_K (the transposed product's block), or one
 *  of up to KM_MAX_NT_K (a lookup's row, a longer product's). */
const NT_BYTES: usize = KM_MAX_NT_K * 4;
const NT: usize = memory.data(<i32>NT_BYTES * SLOTS, 16);
/** Per thread: the 4-bit decode tables (4 x 16 bytes). */
const PLANES: usize = memory.data(64 * SLOTS, 16);

// @ts-ignore: decorator
@inline function hdr(w: usize, i: i32): i32 { return load<i32>(w + (<usize>i << 2)); }

/** Byte address of row r's indices. */
// @ts-ignore: decorator
@inline function rowAt(w: usize, r: i32): usize { return w + KM_DATA + <usize>r * <usize>hdr(w, KM_STRIDE); }

/** Write the 4-bit decode tables of `w` (plane j: byte j of centroids 0..15) to this thread's slot. */
function setPlanes(w: usize): usize {
  const pl = PLANES + slot() * 64, cb = w + KM_CODEBOOK;
  for (let c = 0; c < 16; c++) {
    for (let j = 0; j < 4; j++) store<u8>(pl + <usize>(j * 16 + c), load<u8>(cb + <usize>(c * 4 + j)));
  }
  return pl;
}

/** dst[0:16] = the centroids of the 16 nibbles in v's low 8 bytes (element 2i the low nibble of byte i). */
// @ts-ignore: decorator
@inline function dec16(dst: usize, v: v128, p0: v128, p1: v128, p2: v128, p3: v128): void {
  const lo = v128.and(v, i8x16.splat(15)), hi = i8x16.shr_u(v, 4);
  const idx = i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b0 = i8x16.swizzle(p0, idx), b1 = i8x16.swizzle(p1, idx), b2 = i8x16.swizzle(p2, idx), b3 = i8x16.swizzle(p3, idx);
  // bytes 0,1 and 2,3 of elements 0..7, then of 8..15
  let s = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  let t = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  v128.store(dst, i8x16.shuffle(s, t, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23));
  v128.store(dst, i8x16.shuffle(s, t, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), 16);
  s = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  t = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  v128.store(dst, i8x16.shuffle(s, t, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), 32);
  v128.store(dst, i8x16.shuffle(s, t, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), 48);
}

/** dst[0:n] = Ŵ[r, c0:c0+n] (c0 even for 4 bits). */
// @ts-ignore: decorator
@inline function decodeSeg(dst: usize, w: usize, r: i32, c0: i32, n: i32, pl: usize): void {
  const cb = w + KM_CODEBOOK;
  if (hdr(w, KM_BITS) == 8) {
    const src = rowAt(w, r) + <usize>c0;
    for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(cb + (<usize>load<u8>(src + <usize>i) << 2)));
    return;
  }
  const src = rowAt(w, r) + <usize>(c0 >> 1);
  const p0 = v128.load(pl), p1 = v128.load(pl, 16), p2 = v128.load(pl, 32), p3 = v128.load(pl, 48);
  let i = 0;
  for (; i + 16 <= n; i += 16) dec16(dst + (<usize>i << 2), v128.load64_zero(src + <usize>(i >> 1)), p0, p1, p2, p3);
  for (; i < n; i++) {
    const byte = <u32>load<u8>(src + <usize>(i >> 1));
    const q = (i & 1) != 0 ? byte >> 4 : byte & 15;
    store<f32>(dst + (<usize>i << 2), load<f32>(cb + (<usize>q << 2)));
  }
}

/** Ŵ[r, c] by the definition (the reference path and the tails). */
// @ts-ignore: decorator
@inline function element(w: usize, r: i32, c: i32): f32 {
  const at = rowAt(w, r);
  let q: u32;
  if (hdr(w, KM_BITS) == 8) q = load<u8>(at + <usize>c);
  else {
    const byte = <u32>load<u8>(at + <usize>(c >> 1));
    q = (c & 1) != 0 ? byte >> 4 : byte & 15;
  }
  return load<f32>(w + KM_CODEBOOK + (<usize>q << 2));
}

/** A packed matrix the kernels can read: 4 or 8 bits, and a slice inside it. */
// @ts-ignore: decorator
@inline function check(w: usize, rows: i32, cols: i32): void {
  const bits = hdr(w, KM_BITS);
  if ((bits != 4 && bits != 8) || rows < 0 || cols < 0 || rows > hdr(w, KM_ROWS) || cols > hdr(w, KM_COLS)) unreachable();
}

// ---------------------------------------------------------------------------------------------
// Reference

/** dst[R, C] (row-major) = Ŵ[:R, :C]. */
export function km_decode(dst: usize, w: usize, R: i32, C: i32): void {
  check(w, R, C);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) store<f32>(dst + ((<usize>r * C + c) << 2), element(w, r, c));
  }
}

// ---------------------------------------------------------------------------------------------
// y = x · Ŵ (+ b), Ŵ stored [in, out]

/** y = x · Ŵ[:K, :N] (+ b), Ŵ a packed k-means matrix (ldw is not used). */
export function km_matmul(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  km_matmul_cols(y, x, w, b, M, K, N, ldx, ldy, 0, N);
}

/** The columns n0..n1-1 of km_matmul's y (n0 a multiple of 8): one thread's share. */
export function km_matmul_cols(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldy: i32, n0: i32, n1: i32): void {
  check(w, K, N);
  if ((n0 & 7) != 0 || n0 < 0 || n1 > N) unreachable();
  if (n1 <= n0 || M <= 0) return;
  const pl = setPlanes(w);
  const yc = y + (<usize>n0 << 2), bc = b != 0 ? b + (<usize>n0 << 2) : 0;
  if (M <= FEW_ROWS || K > PACK_K) kmFewRows(yc, x, w, bc, M, K, n1 - n0, ldx, ldy, n0, pl);
  else kmPanels(yc, x, w, bc, M, K, n1 - n0, ldx, ldy, n0, pl);
}

/** matmulFewRows on decoded rows: four rows of a column block at a time (M > FEW_ROWS only when
 *  K > PACK_K: then FEW_ROWS rows of x at a time). Columns col0.. of Ŵ. */
function kmFewRows(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldy: i32, col0: i32, pl: usize): void {
  const yb = fewY(), W4 = ROWS + slot() * ROWS_BYTES, wBytes: usize = NB << 2;
  for (let m0 = 0; m0 < M; m0 += FEW_ROWS) {
    const mb = min(FEW_ROWS, M - m0);
    const xm = x + (<usize>m0 * ldx << 2), ym = y + (<usize>m0 * ldy << 2);
    for (let n0 = 0; n0 < N; n0 += NB) {
      const nb = min(NB, N - n0);
      fewInit(yb, b, mb, n0, nb);
      let k = 0;
      for (; k + 4 <= K; k += 4) {
        for (let j = 0; j < 4; j++) decodeSeg(W4 + <usize>j * wBytes, w, k + j, col0 + n0, nb, pl);
        fewK4(yb, xm, W4, wBytes, mb, k, ldx, nb);
      }
      for (; k < K; k++) {
        decodeSeg(W4, w, k, col0 + n0, nb, pl);
        fewK1(yb, xm, W4, mb, k, ldx, nb);
      }
      fewStore(ym, yb, mb, n0, nb, ldy);
    }
  }
}

/** matmul's packed path on decoded panels: each 8-column panel decoded straight into the packing
 *  panel (two rows of 8 per 16 indices), then the 4x8 tiles; the N % 8 columns one element at a time. */
function kmPanels(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldy: i32, col0: i32, pl: usize): void {
  const P = panelScratch(), N8 = N & ~7, four = hdr(w, KM_BITS) == 4;
  const p0 = v128.load(pl), p1 = v128.load(pl, 16), p2 = v128.load(pl, 32), p3 = v128.load(pl, 48);
  for (let n = 0; n < N8; n += 8) {
    let k = 0;
    if (four) {
      const c = <usize>((col0 + n) >> 1);
      for (; k + 2 <= K; k += 2) {
        const v = i32x4.replace_lane(v128.load32_zero(rowAt(w, k) + c), 1, load<i32>(rowAt(w, k + 1) + c));
        dec16(P + (<usize>k << 5), v, p0, p1, p2, p3);
      }
    }
    for (; k < K; k++) decodeSeg(P + (<usize>k << 5), w, k, col0 + n, 8, pl);
    panelTiles(y, x, P, b, M, n, K, ldx, 8, ldy);
  }
  for (let m = 0; m < M; m++) { // as matmul's tailColumns
    for (let n = N8; n < N; n++) {
      let acc: f32 = b != 0 ? load<f32>(b + (<usize>n << 2)) : 0;
      for (let k = 0; k < K; k++) acc += load<f32>(x + ((<usize>m * ldx + k) << 2)) * element(w, k, col0 + n);
      store<f32>(y + ((<usize>m * ldy + n) << 2), acc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// y = x · Ŵᵀ (+ b), Ŵ stored [N, K]: the output projection tied to a k-means embedding

/** y = x · Ŵ[:N, :K]ᵀ (+ b) (ldw is not used). */
export function km_matmul_nt(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  km_matmul_nt_cols(y, x, w, b, M, K, N, ldx, ldy, 0, N);
}

/** Columns n0..n1-1 of km_matmul_nt's y: matmul_nt's blocks of 8 rows N/8 apart, each decoded
 *  into this thread's scratch (8 x K floats: in L1 or L2) before the dot products; for
 *  K > KM_NT_BLOCK_K every row alone. */
export function km_matmul_nt_cols(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldy: i32, n0: i32, n1: i32): void {
  check(w, N, K);
  if (K > KM_MAX_NT_K || n0 < 0 || n1 > N) unreachable();
  if (n1 <= n0 || M <= 0) return;
  const pl = setPlanes(w), S = NT + slot() * NT_BYTES;
  const yc = y + (<usize>n0 << 2), bc = b != 0 ? b + (<usize>n0 << 2) : 0;
  const Nc = n1 - n0, Q = K <= KM_NT_BLOCK_K ? Nc >> 3 : 0;
  const xRow = <usize>ldx << 2, yRow = <usize>ldy << 2, yStep = <usize>Q << 2, wStep = <usize>K << 2;
  for (let n = 0; n < Q; n++) {
    for (let j = 0; j < 8; j++) decodeSeg(S + <usize>j * wStep, w, n0 + n + j * Q, 0, K, pl);
    ntBlock8(yc + (<usize>n << 2), yRow, yStep, x, xRow, S, wStep, K, M, bc, bc + (<usize>n << 2));
  }
  for (let n = Q << 3; n < Nc; n++) {
    decodeSeg(S, w, n0 + n, 0, K, pl);
    ntRow(yc + (<usize>n << 2), yRow, x, xRow, S, K, M, bc != 0 ? bc + (<usize>n << 2) : 0);
  }
}

// ---------------------------------------------------------------------------------------------
// The lookup

/** embed (assembly/embed.ts) from a k-means embedding: each token's row decoded, then scaled and
 *  the positions added. */
export function km_embed(y: usize, tokens: usize, w: usize, P: usize, ldP: i32, B: i32, T: i32, t0: i32, D: i32): void {
  check(w, 0, D);
  if (D > KM_MAX_NT_K) unreachable();
  const pl = setPlanes(w), S = NT + slot() * NT_BYTES, V = hdr(w, KM_ROWS);
  const scale = f32x4.splat(Mathf.sqrt(<f32>D));
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = <usize>b * T + t;
      const tok = load<i32>(tokens + (row << 2));
      if (tok < 0 || tok >= V) unreachable();
      decodeSeg(S, w, tok, 0, D, pl);
      embedRow(y + (row * D << 2), S, P + (<usize>(t0 + t + 2) * ldP << 2), scale, D);
    }
  }
}
