// Matrix products, f32, row-major with leading dimensions (in elements), so that a
// SubTransformer runs directly on the front slice W[:K, :N] of a SuperTransformer weight.
//
//   matmul    y[M,N] = x[M,K] · W[K,N] (+ b[N])       weights stored [in, out]
//   matmul_nt y[M,N] = x[M,K] · W[N,K]^T (+ b[N])     tied output projection, attention scores
//
// Arguments go outputs, inputs, sizes (llm.c). `b == 0` means no bias. Every kernel keeps its
// state in locals: no module state, so a threaded build can split N across workers.
// The *_naive versions are the textbook loops: the reference for the tests and the scalar
// baseline of the benchmark.

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

/** Largest K for which a column panel is packed (96 KiB). Larger K runs unpacked. */
const PACK_K: i32 = 3072;
/** One packed panel W[:, n:n+8], contiguous. The only static memory of the module: a threaded
 *  build gives each worker its own panel (index by worker id). */
const PANEL: usize = memory.data(PACK_K * 8 * 4, 16);

/** y = x · W (+ b). Few rows (a decoder step): stream W once, row by row. Many rows: copy each
 *  8-column panel of W contiguous (a strided panel costs a TLB miss per row), then 4x8 tiles. */
export function matmul(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  if (M <= 2) {
    for (let m = 0; m < M; m++) gemv(y + (<usize>m * ldy << 2), x + (<usize>m * ldx << 2), w, b, K, N, ldw);
    return;
  }
  const N8 = N & ~7;
  const pack = K <= PACK_K;
  for (let n = 0; n < N8; n += 8) {
    let panel = w + (<usize>n << 2), ldp = ldw;
    if (pack) {
      for (let k = 0; k < K; k++) {
        const src = panel + (<usize>k * ldw << 2), dst = PANEL + (<usize>k << 5);
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
      }
      panel = PANEL;
      ldp = 8;
    }
    let m = 0;
    for (; m + 4 <= M; m += 4) tile4x8(y, x, panel, b, m, n, K, ldx, ldp, ldy);
    for (; m < M; m++) tile1x8(y, x, panel, b, m, n, K, ldx, ldp, ldy);
  }
  if (N8 < N) tailColumns(y, x, w, b, M, K, N8, N, ldx, ldw, ldy);
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

// @ts-ignore: decorator
@inline function tile4x8(y: usize, x: usize, w: usize, b: usize, m: i32, n: i32, K: i32, ldx: i32, ldw: i32, ldy: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
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
  const yBytes = <usize>ldy << 2;
  let y0 = y + ((<usize>m * ldy + n) << 2);
  v128.store(y0, c00); v128.store(y0, c01, 16); y0 += yBytes;
  v128.store(y0, c10); v128.store(y0, c11, 16); y0 += yBytes;
  v128.store(y0, c20); v128.store(y0, c21, 16); y0 += yBytes;
  v128.store(y0, c30); v128.store(y0, c31, 16);
}

// @ts-ignore: decorator
@inline function tile1x8(y: usize, x: usize, w: usize, b: usize, m: i32, n: i32, K: i32, ldx: i32, ldw: i32, ldy: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
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
  const y0 = y + ((<usize>m * ldy + n) << 2);
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

/** y = x · W^T (+ b), W stored [N, K]: dot products along K, four rows of W at a time. */
export function matmul_nt(y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  const K4 = K & ~3;
  const wRow = <usize>ldw << 2;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + <usize>n * wRow;
    const w1 = w0 + wRow;
    const w2 = w1 + wRow;
    const w3 = w2 + wRow;
    for (let m = 0; m < M; m++) {
      const xm = x + (<usize>m * ldx << 2);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const o = <usize>k << 2;
        const xv = v128.load(xm + o);
        a0 = madd(xv, v128.load(w0 + o), a0);
        a1 = madd(xv, v128.load(w1 + o), a1);
        a2 = madd(xv, v128.load(w2 + o), a2);
        a3 = madd(xv, v128.load(w3 + o), a3);
      }
      // transpose-and-add: lane j of the result is the horizontal sum of a_j
      const s01 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7)); // a0 a1 interleaved
      const s23 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
      let s = f32x4.add(v128.shuffle<f32>(s01, s23, 0, 1, 4, 5), v128.shuffle<f32>(s01, s23, 2, 3, 6, 7));
      for (let k = K4; k < K; k++) {
        const o = <usize>k << 2;
        const xs = load<f32>(xm + o);
        s = f32x4.add(s, f32x4.mul(f32x4.splat(xs), f32x4(load<f32>(w0 + o), load<f32>(w1 + o), load<f32>(w2 + o), load<f32>(w3 + o))));
      }
      if (b != 0) s = f32x4.add(s, v128.load(b + (<usize>n << 2)));
      v128.store(y + ((<usize>m * ldy + n) << 2), s);
    }
  }
  for (; n < N; n++) {
    const wn = w + <usize>n * wRow;
    for (let m = 0; m < M; m++) {
      const xm = x + (<usize>m * ldx << 2);
      let a = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const o = <usize>k << 2;
        a = f32x4.add(a, f32x4.mul(v128.load(xm + o), v128.load(wn + o)));
      }
      let s: f32 = f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
      for (let k = K4; k < K; k++) s += load<f32>(xm + (<usize>k << 2)) * load<f32>(wn + (<usize>k << 2));
      if (b != 0) s += load<f32>(b + (<usize>n << 2));
      store<f32>(y + ((<usize>m * ldy + n) << 2), s);
    }
  }
}
