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
    let sum: f64 = 0;
    for (let v = 0; v < V; v++) sum += <f64>load<f32>(xr + (<usize>v << 2));
    store<f32>(nll + (<usize>r << 2), <f32>(lse - <f64>load<f32>(xr + (<usize>tgt << 2))));
    store<f32>(smooth + (<usize>r << 2), <f32>(<f64>V * lse - sum));
  }
}

/** In place: x[r, :] = log_softmax(x[r, :]). */
export function log_softmax_rows(x: usize, rows: i32, V: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * V << 2);
    const lse = <f32>logsumexp(xr, V);
    for (let v = 0; v < V; v++) {
      const p = xr + (<usize>v << 2);
      store<f32>(p, load<f32>(p) - lse);
    }
  }
}

function logsumexp(xr: usize, V: i32): f64 {
  let mx: f32 = -Infinity;
  for (let v = 0; v < V; v++) mx = max<f32>(mx, load<f32>(xr + (<usize>v << 2)));
  let s: f64 = 0;
  for (let v = 0; v < V; v++) s += <f64>Mathf.exp(load<f32>(xr + (<usize>v << 2)) - mx);
  return <f64>mx + Math.log(s);
}

/** dst[i, :] = src[rows[i], :] for i < n, rows of `len` f32 with the given strides. dst must not overlap src. */
export function gather_rows(dst: usize, src: usize, rows: usize, n: i32, len: i32, stride: i32): void {
  for (let i = 0; i < n; i++) {
    const r = load<i32>(rows + (<usize>i << 2));
    memory.copy(dst + (<usize>i * stride << 2), src + (<usize>r * stride << 2), <usize>len << 2);
  }
}
