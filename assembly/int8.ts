// int8 products (issue 14 item 2; docs/runtime.md, "int8 products"): y[M,N] = x[M,K] · W[K,N] (+ b)
// with W a linear 8-bit matrix (per output channel scale s_c and zero point z_c: w = (q - z_c)·s_c),
// packed by the host (runtime/int8.ts) in the layout of assembly/q8-layout.ts, and x quantized on
// the fly, per row, to L + 1 levels over the row's [min, max]:
//
//   sx = (max - min) / L,   xu_k = nearest((x_k - min) · L / (max - min))  in [0, L]
//   Σ_k x_k w_kc ≈ s_c · (sx · (D_mc + r_c · U_m) + min_m · S_c)
//     D_mc = Σ_k xu_k (q_kc - 128)   (the integer SIMD product, i32 accumulation)
//     U_m  = Σ_k xu_k,  r_c = 128 - z_c,  S_c = Σ_k (q_kc - z_c)   (per row / per column terms)
//
// Each x_k is within sx/2 of its quantized value, so an output is within (sx/2)·Σ_k |w_kc| of the
// product with the f32 x (the test's bound, test/assembly/int8.test.ts).
//
// Baseline SIMD build (hat.wasm): xu stored as i16, L = 255, products by i32x4.dot_i16x8_s on the
// weights sign-extended to i16, tiles of 4 rows x 4 columns. Relaxed build (hat-relaxed.wasm):
// xu stored as u8, L = 127 (the second operand of i32x4.relaxed_dot_i8x16_i7x16_add_s is 7-bit: a
// set top bit is read as signed or unsigned depending on the engine), four products of 4 bytes
// summed into each i32 lane (dot4 below), tiles of 4 rows x 8 columns.
//
// Arguments go outputs, inputs, sizes (as assembly/matmul.ts). The activation buffer below is the
// only static memory, one slot per thread (assembly/thread-id.ts).

import { slot, SLOTS } from "./thread-id";
import { Q8_K, Q8_N, Q8_KP, Q8_NP, Q8_SCALES, Q8_R, Q8_SUMS, Q8_HEADER_BYTES, Q8_MAX_K, Q8_ROWS } from "./q8-layout";

/** The activations' top level: xu in [0, L]. */
const L: i32 = ASC_FEATURE_RELAXED_SIMD ? 127 : 255;
/** Bytes per quantized activation (i16 baseline, u8 relaxed). */
const XB: i32 = ASC_FEATURE_RELAXED_SIMD ? 1 : 2;
const XQ_BYTES: usize = Q8_ROWS * Q8_MAX_K * 2;
const XP_BYTES: usize = Q8_ROWS * 16;
/** Per thread: Q8_ROWS rows of quantized x (Q8_MAX_K elements each, XB bytes). */
const XQS: usize = memory.data(<i32>XQ_BYTES * SLOTS, 16);
/** Per thread and row of its XQ: f32 sx, f32 min, i32 U, unused. */
const XPS: usize = memory.data(<i32>XP_BYTES * SLOTS, 16);
// @ts-ignore: decorator
@inline function xq(): usize { return XQS + slot() * XQ_BYTES; }
// @ts-ignore: decorator
@inline function xp(): usize { return XPS + slot() * XP_BYTES; }

/** The activations' top level of this build (255 baseline, 127 relaxed). */
export function q8_levels(): i32 { return L; }

// @ts-ignore: decorator
@inline function hdr(w: usize, i: i32): i32 { return load<i32>(w + (<usize>i << 2)); }

// ---------------------------------------------------------------------------------------------
// Reference kernel

/** The textbook loops over the file's form: q u8 with element (k, n) at q + k·sk + n·sn, zero
 *  points zp u8 [N], scales f32 [N]. Quantizes each row of x with the same arithmetic as
 *  q8_matmul (scalar), accumulates Σ xu·(q - z) and Σ (q - z) in i32. */
export function q8_matmul_naive(y: usize, x: usize, q: usize, zp: usize, scales: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, sk: i32, sn: i32, ldy: i32): void {
  for (let m = 0; m < M; m++) {
    const xm = x + (<usize>m * ldx << 2);
    let mn: f32 = Infinity, mx: f32 = -Infinity;
    for (let k = 0; k < K; k++) { const v = load<f32>(xm + (<usize>k << 2)); mn = min(mn, v); mx = max(mx, v); }
    const range = mx - mn;
    const inv: f32 = range > 0 ? <f32>L / range : 0, sx: f32 = range > 0 ? range / <f32>L : 0;
    for (let n = 0; n < N; n++) {
      const z = <i32>load<u8>(zp + n);
      let t: i32 = 0, s: i32 = 0;
      for (let k = 0; k < K; k++) {
        const u = <i32>min<f32>(<f32>L, max<f32>(0, nearest<f32>((load<f32>(xm + (<usize>k << 2)) - mn) * inv)));
        const w = <i32>load<u8>(q + <usize>k * sk + <usize>n * sn) - z;
        t += u * w;
        s += w;
      }
      let v = load<f32>(scales + (<usize>n << 2)) * (sx * <f32>t + mn * <f32>s);
      if (b != 0) v += load<f32>(b + (<usize>n << 2));
      store<f32>(y + ((<usize>m * ldy + n) << 2), v);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Activations

/** Quantize rows x[0:M, 0:K] (M <= Q8_ROWS) into XQ (rows Kp·XB bytes apart, zero beyond K) and
 *  their (sx, min, U) into XP. */
function quantizeRows(x: usize, M: i32, K: i32, Kp: i32, ldx: i32): void {
  const K4 = K & ~3, rowBytes = <usize>(Kp * XB);
  for (let m = 0; m < M; m++) {
    const xm = x + (<usize>m * ldx << 2), dst = xq() + <usize>m * rowBytes;
    let vmn = f32x4.splat(Infinity), vmx = f32x4.splat(-Infinity);
    for (let k = 0; k < K4; k += 4) { const v = v128.load(xm + (<usize>k << 2)); vmn = f32x4.min(vmn, v); vmx = f32x4.max(vmx, v); }
    let mn = min(min(f32x4.extract_lane(vmn, 0), f32x4.extract_lane(vmn, 1)), min(f32x4.extract_lane(vmn, 2), f32x4.extract_lane(vmn, 3)));
    let mx = max(max(f32x4.extract_lane(vmx, 0), f32x4.extract_lane(vmx, 1)), max(f32x4.extract_lane(vmx, 2), f32x4.extract_lane(vmx, 3)));
    for (let k = K4; k < K; k++) { const v = load<f32>(xm + (<usize>k << 2)); mn = min(mn, v); mx = max(mx, v); }
    const range = mx - mn;
    const inv: f32 = range > 0 ? <f32>L / range : 0, sx: f32 = range > 0 ? range / <f32>L : 0;
    const vlo = f32x4.splat(mn), vinv = f32x4.splat(inv), top = i32x4.splat(L), zero = i32x4.splat(0);
    let vu = i32x4.splat(0);
    for (let k = 0; k < K4; k += 4) {
      const f = f32x4.nearest(f32x4.mul(f32x4.sub(v128.load(xm + (<usize>k << 2)), vlo), vinv));
      const u = i32x4.min_s(top, i32x4.max_s(zero, i32x4.trunc_sat_f32x4_s(f)));
      vu = i32x4.add(vu, u);
      const h = i16x8.narrow_i32x4_s(u, u);
      if (ASC_FEATURE_RELAXED_SIMD) v128.store32_lane(dst + <usize>k, i8x16.narrow_i16x8_u(h, h), 0);
      else v128.store64_lane(dst + (<usize>k << 1), h, 0);
    }
    let U = i32x4.extract_lane(vu, 0) + i32x4.extract_lane(vu, 1) + i32x4.extract_lane(vu, 2) + i32x4.extract_lane(vu, 3);
    for (let k = K4; k < Kp; k++) {
      const u = k < K ? <i32>min<f32>(<f32>L, max<f32>(0, nearest<f32>((load<f32>(xm + (<usize>k << 2)) - mn) * inv))) : 0;
      U += u;
      if (ASC_FEATURE_RELAXED_SIMD) store<u8>(dst + <usize>k, <u8>u);
      else store<i16>(dst + (<usize>k << 1), <i16>u);
    }
    const p = xp() + (<usize>m << 4);
    store<f32>(p, sx);
    store<f32>(p, mn, 4);
    store<i32>(p, U, 8);
  }
}

// ---------------------------------------------------------------------------------------------
// SIMD kernel

/**
 * y = x · W (+ b), W a packed int8 matrix (assembly/q8-layout.ts) of K rows and N columns (the
 * arguments must match its header; ldw is not used). Rows of x go Q8_ROWS at a time: quantized
 * into the activation buffer, then each 8-column panel of W (Kp·8 bytes, in L1) meets every row
 * tile of the block.
 */
export function q8_matmul(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  q8_matmul_cols(y, x, w, b, M, K, N, ldx, ldy, 0, N);
}

/** The columns n0..n1-1 of q8_matmul's y (n0 a multiple of 8): one thread's share. */
export function q8_matmul_cols(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldy: i32, n0: i32, n1: i32): void {
  if (K != hdr(w, Q8_K) || N != hdr(w, Q8_N) || K > Q8_MAX_K || (n0 & 7) != 0 || n0 < 0 || n1 > N) unreachable();
  const Kp = hdr(w, Q8_KP), Np = min(hdr(w, Q8_NP), (n1 + 7) & ~7), XQ = xq();
  const data = w + Q8_HEADER_BYTES, panelBytes = <usize>Kp << 3;
  const scales = w + <usize>hdr(w, Q8_SCALES), rs = w + <usize>hdr(w, Q8_R), sums = w + <usize>hdr(w, Q8_SUMS);
  const xRow = <usize>(Kp * XB);
  for (let m0 = 0; m0 < M; m0 += Q8_ROWS) {
    const mb = min(Q8_ROWS, M - m0);
    quantizeRows(x + (<usize>m0 * ldx << 2), mb, K, Kp, ldx);
    const y0 = y + (<usize>m0 * ldy << 2);
    for (let n = n0; n < Np; n += 8) {
      const panel = data + <usize>(n >> 3) * panelBytes;
      if (ASC_FEATURE_RELAXED_SIMD) {
        let m = 0;
        for (; m + 4 <= mb; m += 4) tileR4x8(y0, ldy, m, n, N, panel, Kp, XQ + <usize>m * xRow, xRow, scales, rs, sums, b);
        for (; m < mb; m++) tileR1x8(y0, ldy, m, n, N, panel, Kp, XQ + <usize>m * xRow, scales, rs, sums, b);
      } else {
        for (let h = 0; h < 8 && n + h < N; h += 4) {
          let m = 0;
          for (; m + 4 <= mb; m += 4) tileB4x4(y0, ldy, m, n + h, N, panel + <usize>(h << 2), Kp, XQ + <usize>m * xRow, xRow, scales, rs, sums, b);
          for (; m < mb; m++) tileB1x4(y0, ldy, m, n + h, N, panel + <usize>(h << 2), Kp, XQ + <usize>m * xRow, scales, rs, sums, b);
        }
      }
    }
  }
}

/** Row m's outputs at columns n..n+3 from their integer products D (i32x4). */
// @ts-ignore: decorator
@inline function finish(y0: usize, ldy: i32, m: i32, n: i32, N: i32, D: v128, scales: usize, rs: usize, sums: usize, b: usize): void {
  const p = xp() + (<usize>m << 4), c = <usize>n << 2;
  const T = i32x4.add(D, i32x4.mul(v128.load(rs + c), i32x4.splat(load<i32>(p, 8))));
  let v = f32x4.mul(v128.load(scales + c), f32x4.add(
    f32x4.mul(f32x4.splat(load<f32>(p)), f32x4.convert_i32x4_s(T)),
    f32x4.mul(f32x4.splat(load<f32>(p, 4)), f32x4.convert_i32x4_s(v128.load(sums + c)))));
  const yp = y0 + ((<usize>m * ldy + n) << 2);
  if (n + 4 <= N) {
    if (b != 0) v = f32x4.add(v, v128.load(b + c));
    v128.store(yp, v);
  } else {
    const left = N - n;
    store<f32>(yp, f32x4.extract_lane(v, 0) + (b != 0 ? load<f32>(b + c) : 0));
    if (left > 1) store<f32>(yp, f32x4.extract_lane(v, 1) + (b != 0 ? load<f32>(b + c, 4) : 0), 4);
    if (left > 2) store<f32>(yp, f32x4.extract_lane(v, 2) + (b != 0 ? load<f32>(b + c, 8) : 0), 8);
  }
}

/** Column sums of the baseline accumulators: lanes (c0a, c0b, c1a, c1b), (c2a, c2b, c3a, c3b) -> c0..c3. */
// @ts-ignore: decorator
@inline function pairSums(a: v128, c: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(a, c, 0, 2, 4, 6), v128.shuffle<i32>(a, c, 1, 3, 5, 7));
}

/** Baseline: 4 rows x 4 columns. Per 4 rows of W: 16 bytes (4 columns x 4 k) sign-extended to two
 *  i16x8 (columns 0-1, 2-3), each dotted with the row's 4 activations (i16, repeated). */
// @ts-ignore: decorator
@inline function tileB4x4(y0: usize, ldy: i32, m: i32, n: i32, N: i32, w: usize, Kp: i32, x: usize, xRow: usize, scales: usize, rs: usize, sums: usize, b: usize): void {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
  const end = <usize>Kp << 1;
  let wp = w;
  for (let o: usize = 0; o < end; o += 8) {
    const v = v128.load(wp);
    const lo = i16x8.extend_low_i8x16_s(v), hi = i16x8.extend_high_i8x16_s(v);
    let xv = v128.load64_splat(x + o);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(lo, xv)); c0 = i32x4.add(c0, i32x4.dot_i16x8_s(hi, xv));
    xv = v128.load64_splat(x + xRow + o);
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(lo, xv)); c1 = i32x4.add(c1, i32x4.dot_i16x8_s(hi, xv));
    xv = v128.load64_splat(x + 2 * xRow + o);
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(lo, xv)); c2 = i32x4.add(c2, i32x4.dot_i16x8_s(hi, xv));
    xv = v128.load64_splat(x + 3 * xRow + o);
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(lo, xv)); c3 = i32x4.add(c3, i32x4.dot_i16x8_s(hi, xv));
    wp += 32;
  }
  finish(y0, ldy, m, n, N, pairSums(a0, c0), scales, rs, sums, b);
  finish(y0, ldy, m + 1, n, N, pairSums(a1, c1), scales, rs, sums, b);
  finish(y0, ldy, m + 2, n, N, pairSums(a2, c2), scales, rs, sums, b);
  finish(y0, ldy, m + 3, n, N, pairSums(a3, c3), scales, rs, sums, b);
}

// @ts-ignore: decorator
@inline function tileB1x4(y0: usize, ldy: i32, m: i32, n: i32, N: i32, w: usize, Kp: i32, x: usize, scales: usize, rs: usize, sums: usize, b: usize): void {
  let a0 = i32x4.splat(0), c0 = i32x4.splat(0), a1 = i32x4.splat(0), c1 = i32x4.splat(0);
  const end = <usize>Kp << 1;
  let wp = w, o: usize = 0;
  for (; o + 16 <= end; o += 16) { // two groups of 4 rows of W a step: two independent chains
    let v = v128.load(wp);
    let xv = v128.load64_splat(x + o);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(v), xv));
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(v), xv));
    v = v128.load(wp, 32);
    xv = v128.load64_splat(x + o + 8);
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(v), xv));
    c1 = i32x4.add(c1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(v), xv));
    wp += 64;
  }
  if (o < end) {
    const v = v128.load(wp), xv = v128.load64_splat(x + o);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(v), xv));
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(v), xv));
  }
  finish(y0, ldy, m, n, N, pairSums(i32x4.add(a0, a1), i32x4.add(c0, c1)), scales, rs, sums, b);
}

/** c + the relaxed dot of a (i8) and b (7-bit): lane j += Σ_{i<4} a[4j+i]·b[4j+i]. Written as
 *  i16x8.relaxed_dot_i8x16_i7x16_s then a pairwise add, not i32x4.relaxed_dot_i8x16_i7x16_add_s:
 *  Node 20's V8 (11.3) returns twice the dot product from the fused form in its baseline tier
 *  (Liftoff) and the right one once optimized, so a function's results changed as it warmed up
 *  (measured here; the unfused form agrees in both tiers). Both compile to the same x64 code. */
// @ts-ignore: decorator
@inline function dot4(a: v128, b: v128, c: v128): v128 {
  return i32x4.add(c, i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(a, b)));
}

/** Relaxed: 4 rows x 8 columns; per 4 rows of W two vectors (columns 0-3, 4-7), each lane one
 *  column's 4 weights against the row's 4 activations (u8, splat). */
// @ts-ignore: decorator
@inline function tileR4x8(y0: usize, ldy: i32, m: i32, n: i32, N: i32, w: usize, Kp: i32, x: usize, xRow: usize, scales: usize, rs: usize, sums: usize, b: usize): void {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
  const end = <usize>Kp;
  let wp = w;
  for (let o: usize = 0; o < end; o += 4) {
    const v = v128.load(wp), u = v128.load(wp, 16);
    let xv = v128.load32_splat(x + o);
    a0 = dot4(v, xv, a0); c0 = dot4(u, xv, c0);
    xv = v128.load32_splat(x + xRow + o);
    a1 = dot4(v, xv, a1); c1 = dot4(u, xv, c1);
    xv = v128.load32_splat(x + 2 * xRow + o);
    a2 = dot4(v, xv, a2); c2 = dot4(u, xv, c2);
    xv = v128.load32_splat(x + 3 * xRow + o);
    a3 = dot4(v, xv, a3); c3 = dot4(u, xv, c3);
    wp += 32;
  }
  for (let r = 0; r < 4; r++) {
    const A = r == 0 ? a0 : r == 1 ? a1 : r == 2 ? a2 : a3;
    const C = r == 0 ? c0 : r == 1 ? c1 : r == 2 ? c2 : c3;
    finish(y0, ldy, m + r, n, N, A, scales, rs, sums, b);
    if (n + 4 < N) finish(y0, ldy, m + r, n + 4, N, C, scales, rs, sums, b);
  }
}

// @ts-ignore: decorator
@inline function tileR1x8(y0: usize, ldy: i32, m: i32, n: i32, N: i32, w: usize, Kp: i32, x: usize, scales: usize, rs: usize, sums: usize, b: usize): void {
  let a0 = i32x4.splat(0), c0 = i32x4.splat(0), a1 = i32x4.splat(0), c1 = i32x4.splat(0);
  const end = <usize>Kp;
  let wp = w, o: usize = 0;
  for (; o + 8 <= end; o += 8) { // two groups of 4 rows of W a step: two independent chains
    let xv = v128.load32_splat(x + o);
    a0 = dot4(v128.load(wp), xv, a0);
    c0 = dot4(v128.load(wp, 16), xv, c0);
    xv = v128.load32_splat(x + o + 4);
    a1 = dot4(v128.load(wp, 32), xv, a1);
    c1 = dot4(v128.load(wp, 48), xv, c1);
    wp += 64;
  }
  if (o < end) {
    const xv = v128.load32_splat(x + o);
    a0 = dot4(v128.load(wp), xv, a0);
    c0 = dot4(v128.load(wp, 16), xv, c0);
  }
  finish(y0, ldy, m, n, N, i32x4.add(a0, a1), scales, rs, sums, b);
  if (n + 4 < N) finish(y0, ldy, m, n + 4, N, i32x4.add(c0, c1), scales, rs, sums, b);
}
