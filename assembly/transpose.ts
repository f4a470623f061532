// Matrix transpose, f32, row-major: y[C, R] = x[R, C]^T.
//
// The trainer's products with a transposed left operand (every weight gradient dW = X^T · dY, the
// tied embedding's dE = dY^T · X) hand us A as stored, [K, M]; our matmul wants [M, K]
// (train/hat-matmul.ts). transpose_naive is the textbook loop (the tests' reference); transpose
// moves 4x4 blocks through SIMD registers (two rounds of shuffles), 32x32 tiles at a time so that
// the rows read and the rows written both stay in cache.

export function transpose_naive(y: usize, x: usize, R: i32, C: i32): void {
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      store<f32>(y + ((<usize>c * R + r) << 2), load<f32>(x + ((<usize>r * C + c) << 2)));
    }
  }
}

/** Rows and columns of x per cache tile (a 32x32 tile is 4 KiB read, 4 KiB written). */
const TILE: i32 = 32;

/** y[C, R] = x[R, C]^T: 4x4 SIMD blocks inside 32x32 tiles; the edges (R or C not a multiple of 4) scalar. */
export function transpose(y: usize, x: usize, R: i32, C: i32): void {
  const R4 = R & ~3, C4 = C & ~3;
  const xs = <usize>C << 2, ys = <usize>R << 2; // row strides in bytes
  for (let r0 = 0; r0 < R4; r0 += TILE) {
    const r1 = min(r0 + TILE, R4);
    for (let c0 = 0; c0 < C4; c0 += TILE) {
      const c1 = min(c0 + TILE, C4);
      for (let r = r0; r < r1; r += 4) {
        for (let c = c0; c < c1; c += 4) {
          const p = x + <usize>r * xs + (<usize>c << 2);
          const a = v128.load(p), b = v128.load(p + xs), e = v128.load(p + 2 * xs), d = v128.load(p + 3 * xs);
          const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5), t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
          const t2 = v128.shuffle<f32>(e, d, 0, 4, 1, 5), t3 = v128.shuffle<f32>(e, d, 2, 6, 3, 7);
          const q = y + <usize>c * ys + (<usize>r << 2);
          v128.store(q, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
          v128.store(q + ys, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
          v128.store(q + 2 * ys, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
          v128.store(q + 3 * ys, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
        }
      }
    }
  }
  // Edges: the last C - C4 columns of every row, the last R - R4 rows of the first C4 columns.
  for (let r = 0; r < R; r++) {
    for (let c = C4; c < C; c++) store<f32>(y + <usize>c * ys + (<usize>r << 2), load<f32>(x + <usize>r * xs + (<usize>c << 2)));
  }
  for (let r = R4; r < R; r++) {
    for (let c = 0; c < C4; c++) store<f32>(y + <usize>c * ys + (<usize>r << 2), load<f32>(x + <usize>r * xs + (<usize>c << 2)));
  }
}
