// Kernels for decoding and for the teacher-forced loss: per-row log-softmax statistics and
// gathering rows of a cache. (Beam candidates are chosen on the host: runtime/decode.ts.)

/** Per row of logits [rows, V]: lse = log sum exp; nll = lse - x[target]; smooth = sum_v (lse - x[v]).
 *  Rows whose target == pad get nll = smooth = 0. fairseq's label-smoothed loss is
 *  (1 - eps) · nll + eps / V · smooth. */
export function token_nll(nll: usize, smooth: usize, x: usize, targets: usize, rows: i32, V: i32, pad: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * V << 2);
    const tgt = load<i32>(targets + (<usize>r << 2));
    if (tgt == pad) { store<f32>(nll + (<usize>r << 2), 0); store<f32>(smooth + (<usize>r << 2), 0); continue; }
    const lse = logsumexp(xr, V);
    const sum = rowSum(xr, V, 0, false);
    store<f32>(nll + (<usize>r << 2), <f32>(lse - <f64>load<f32>(xr + (<usize>tgt << 2))));
    store<f32>(smooth + (<usize>r << 2), <f32>(<f64>V * lse - sum));
  }
}

/** fairseq's label-smoothed loss and its gradient in one pass per row of logits [rows, V]:
 *  loss[r] = (1 - eps)·nll + eps / V·smooth (token_nll's terms), nll[r] as token_nll, and x[r, :]
 *  overwritten IN PLACE with d loss[r] / d x[r, :] = softmax(x[r, :]) - eps / V - (1 - eps)·[v == target].
 *  Rows whose target == pad get loss = nll = 0 and a zero gradient row. */
export function smoothed_ce_grad(loss: usize, nll: usize, x: usize, targets: usize, rows: i32, V: i32, eps: f32, pad: i32): void {
  const off = eps / <f32>V, off4 = f32x4.splat(off);
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * V << 2);
    const tgt = load<i32>(targets + (<usize>r << 2));
    if (tgt == pad) {
      store<f32>(loss + (<usize>r << 2), 0); store<f32>(nll + (<usize>r << 2), 0);
      memory.fill(xr, 0, <usize>V << 2);
      continue;
    }
    const lse = logsumexp(xr, V);
    const sum = rowSum(xr, V, 0, false);
    const n = lse - <f64>load<f32>(xr + (<usize>tgt << 2));
    store<f32>(nll + (<usize>r << 2), <f32>n);
    store<f32>(loss + (<usize>r << 2), <f32>((1 - <f64>eps) * n + <f64>off * (<f64>V * lse - sum)));
    const l = <f32>lse, l4 = f32x4.splat(l);
    let v = 0;
    for (; v + 4 <= V; v += 4) {
      const p = xr + (<usize>v << 2);
      v128.store(p, f32x4.sub(expf4(f32x4.sub(v128.load(p), l4)), off4));
    }
    for (; v < V; v++) {
      const p = xr + (<usize>v << 2);
      store<f32>(p, Mathf.exp(load<f32>(p) - l) - off);
    }
    const pt = xr + (<usize>tgt << 2);
    store<f32>(pt, load<f32>(pt) - (1 - eps));
  }
}

/** In place: x[r, :] = log_softmax(x[r, :]). */
export function log_softmax_rows(x: usize, rows: i32, V: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * V << 2);
    const lse = <f32>logsumexp(xr, V), l4 = f32x4.splat(lse);
    let v = 0;
    for (; v + 4 <= V; v += 4) {
      const p = xr + (<usize>v << 2);
      v128.store(p, f32x4.sub(v128.load(p), l4));
    }
    for (; v < V; v++) {
      const p = xr + (<usize>v << 2);
      store<f32>(p, load<f32>(p) - lse);
    }
  }
}

/** log sum_v exp(x[v]) of one row: the max, then exp(x - max) four at a time (expf4), summed in
 *  float64 (a 32k-entry vocabulary summed in f32 loses ~1e-5 of the log). */
function logsumexp(xr: usize, V: i32): f64 {
  let m4 = f32x4.splat(-Infinity);
  let v = 0;
  for (; v + 4 <= V; v += 4) m4 = f32x4.max(m4, v128.load(xr + (<usize>v << 2)));
  let mx: f32 = max<f32>(max<f32>(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max<f32>(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
  for (; v < V; v++) mx = max<f32>(mx, load<f32>(xr + (<usize>v << 2)));
  return <f64>mx + Math.log(rowSum(xr, V, mx, true));
}

/** Σ_v x[v] of one row in float64 (lanes 0-1 and 2-3 of each four in two f64x2 sums), or with
 *  `exp` Σ_v exp(x[v] - shift) (expf4; the V % 4 tail by Mathf.exp). `exp` is a constant at each
 *  call, so the branch folds away. */
// @ts-ignore: decorator
@inline function rowSum(xr: usize, V: i32, shift: f32, exp: bool): f64 {
  const sv = f32x4.splat(shift);
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let v = 0;
  for (; v + 4 <= V; v += 4) {
    const x = v128.load(xr + (<usize>v << 2));
    const e = exp ? expf4(f32x4.sub(x, sv)) : x;
    s0 = f64x2.add(s0, f64x2.promote_low_f32x4(e));
    s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<f32>(e, e, 2, 3, 0, 1)));
  }
  let s: f64 = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1) + f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1);
  for (; v < V; v++) {
    const x = load<f32>(xr + (<usize>v << 2));
    s += exp ? <f64>Mathf.exp(x - shift) : <f64>x;
  }
  return s;
}

/** exp of four floats: Cephes' expf (x = n·ln 2 + r, |r| <= ln 2 / 2, a degree-6 polynomial in r,
 *  times 2^n built in the exponent bits): within 1 ulp of exp over [-87.3, 88.3] (0.98 at worst
 *  over 3 M points against float64, measured 2026-12-03); inputs below
 *  are taken at -87.3 (exp ~1e-38 instead of smaller: nothing next to the row's max term, 1),
 *  above at 88.3; NaN stays NaN. test/assembly/kernels.test.ts checks log_softmax against float64. */
// @ts-ignore: decorator
@inline export function expf4(x: v128): v128 {
  const nan = f32x4.ne(x, x);
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return v128.or(f32x4.mul(p, scale), nan);
}

/** dst[i, :] = src[rows[i], :] for i < n, rows of `len` f32 with the given strides. dst must not overlap src. */
export function gather_rows(dst: usize, src: usize, rows: usize, n: i32, len: i32, stride: i32): void {
  for (let i = 0; i < n; i++) {
    const r = load<i32>(rows + (<usize>i << 2));
    memory.copy(dst + (<usize>i * stride << 2), src + (<usize>r * stride << 2), <usize>len << 2);
  }
}
