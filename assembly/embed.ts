// Token embedding (scaled, front slice of the shared table) plus sinusoidal positions
// (front slice of the SuperTransformer's table, as HAT does).
//
//   y[b,t,:D] = sqrt(D) · E[tok[b,t], :D] + P[t0 + t + 2, :D]

export function embed(
  y: usize, tokens: usize, E: usize, ldE: i32, P: usize, ldP: i32,
  B: i32, T: i32, t0: i32, D: i32,
): void {
  const scale = f32x4.splat(Mathf.sqrt(<f32>D));
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = <usize>b * T + t;
      const tok = load<i32>(tokens + (row << 2));
      const e = E + (<usize>tok * ldE << 2);
      const p = P + (<usize>(t0 + t + 2) * ldP << 2);
      embedRow(y + (row * D << 2), e, p, scale, D);
    }
  }
}

/** yr[:D] = scale · e[:D] + p[:D]: one row (shared with the k-means lookup, assembly/kmeans.ts). */
// @ts-ignore: decorator
@inline export function embedRow(yr: usize, e: usize, p: usize, scale: v128, D: i32): void {
  const D4 = D & ~3;
  for (let d = 0; d < D4; d += 4) {
    const o = <usize>d << 2;
    v128.store(yr + o, f32x4.add(f32x4.mul(scale, v128.load(e + o)), v128.load(p + o)));
  }
  for (let d = D4; d < D; d++) {
    const o = <usize>d << 2;
    store<f32>(yr + o, f32x4.extract_lane(scale, 0) * load<f32>(e + o) + load<f32>(p + o));
  }
}
