// Layer normalization and the residual add that precedes it in a post-norm layer.
//
//   layernorm     y[M,D] = (x - mean) / sqrt(var + eps) * g + b      (per row)
//   add_layernorm y[M,D] = layernorm(x + r)                          (y may alias x or r)
//
// Rows are contiguous with stride D. g and b are front slices of the SuperTransformer's vectors.

const EPS: f32 = 1e-5; // fairseq / PyTorch LayerNorm default

export function layernorm_naive(y: usize, x: usize, g: usize, b: usize, M: i32, D: i32): void {
  for (let m = 0; m < M; m++) {
    const xr = x + (<usize>m * D << 2);
    const yr = y + (<usize>m * D << 2);
    let mean: f64 = 0;
    for (let d = 0; d < D; d++) mean += <f64>load<f32>(xr + (<usize>d << 2));
    mean /= D;
    let v: f64 = 0;
    for (let d = 0; d < D; d++) { const t = <f64>load<f32>(xr + (<usize>d << 2)) - mean; v += t * t; }
    const inv = 1.0 / Math.sqrt(v / D + <f64>EPS);
    for (let d = 0; d < D; d++) {
      const t = (<f64>load<f32>(xr + (<usize>d << 2)) - mean) * inv;
      store<f32>(yr + (<usize>d << 2), <f32>t * load<f32>(g + (<usize>d << 2)) + load<f32>(b + (<usize>d << 2)));
    }
  }
}

/** y = LN(x + r) row by row; r == 0 means no residual. SIMD over D (D % 4 == 0 fast path). */
export function add_layernorm(y: usize, x: usize, r: usize, g: usize, b: usize, M: i32, D: i32): void {
  const D4 = D & ~3;
  for (let m = 0; m < M; m++) {
    const off = <usize>m * D << 2;
    const xr = x + off, yr = y + off, rr = r + off;
    // pass 1: s = x + r (stored into y), sum
    let sv = f32x4.splat(0);
    let s: f32 = 0;
    for (let d = 0; d < D4; d += 4) {
      const o = <usize>d << 2;
      let v = v128.load(xr + o);
      if (r != 0) v = f32x4.add(v, v128.load(rr + o));
      v128.store(yr + o, v);
      sv = f32x4.add(sv, v);
    }
    for (let d = D4; d < D; d++) {
      const o = <usize>d << 2;
      let v = load<f32>(xr + o);
      if (r != 0) v += load<f32>(rr + o);
      store<f32>(yr + o, v);
      s += v;
    }
    s += f32x4.extract_lane(sv, 0) + f32x4.extract_lane(sv, 1) + f32x4.extract_lane(sv, 2) + f32x4.extract_lane(sv, 3);
    const mean: f32 = s / <f32>D;
    // pass 2: variance about the mean (two-pass: no cancellation)
    const mv = f32x4.splat(mean);
    let qv = f32x4.splat(0);
    let q: f32 = 0;
    for (let d = 0; d < D4; d += 4) {
      const t = f32x4.sub(v128.load(yr + (<usize>d << 2)), mv);
      qv = f32x4.add(qv, f32x4.mul(t, t));
    }
    for (let d = D4; d < D; d++) { const t = load<f32>(yr + (<usize>d << 2)) - mean; q += t * t; }
    q += f32x4.extract_lane(qv, 0) + f32x4.extract_lane(qv, 1) + f32x4.extract_lane(qv, 2) + f32x4.extract_lane(qv, 3);
    const inv: f32 = 1.0 / Mathf.sqrt(q / <f32>D + EPS);
    const iv = f32x4.splat(inv);
    // pass 3: normalize, scale, shift
    for (let d = 0; d < D4; d += 4) {
      const o = <usize>d << 2;
      const t = f32x4.mul(f32x4.sub(v128.load(yr + o), mv), iv);
      v128.store(yr + o, f32x4.add(f32x4.mul(t, v128.load(g + o)), v128.load(b + o)));
    }
    for (let d = D4; d < D; d++) {
      const o = <usize>d << 2;
      store<f32>(yr + o, (load<f32>(yr + o) - mean) * inv * load<f32>(g + o) + load<f32>(b + o));
    }
  }
}
