// Kernels for decoding and for the teacher-forced loss: per-row log-softmax statistics,
// argmax, the top-k of a beam's candidates, and gathering rows of a cache.

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

/** out[r] = argmax_v x[r, v] (first maximum). */
export function argmax_rows(out: usize, x: usize, rows: i32, V: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * V << 2);
    let best = 0;
    let bv = load<f32>(xr);
    for (let v = 1; v < V; v++) {
      const t = load<f32>(xr + (<usize>v << 2));
      if (t > bv) { bv = t; best = v; }
    }
    store<i32>(out + (<usize>r << 2), best);
  }
}

/** The k best (base[b] + lp[b, v]) over b < B, v < V, best first: flat index b·V + v into idx,
 *  score into val. Ties keep the lower index. Requires k <= B·V. */
export function topk_scores(idx: usize, val: usize, lp: usize, base: usize, B: i32, V: i32, k: i32): void {
  let n = 0; // entries filled, sorted descending
  for (let b = 0; b < B; b++) {
    const bs = load<f32>(base + (<usize>b << 2));
    const row = lp + (<usize>b * V << 2);
    for (let v = 0; v < V; v++) {
      const s = bs + load<f32>(row + (<usize>v << 2));
      if (n == k && !(s > load<f32>(val + (<usize>(k - 1) << 2)))) continue;
      let i = n < k ? n : k - 1; // slot to fill, then bubble up
      while (i > 0 && s > load<f32>(val + (<usize>(i - 1) << 2))) {
        store<f32>(val + (<usize>i << 2), load<f32>(val + (<usize>(i - 1) << 2)));
        store<i32>(idx + (<usize>i << 2), load<i32>(idx + (<usize>(i - 1) << 2)));
        i--;
      }
      store<f32>(val + (<usize>i << 2), s);
      store<i32>(idx + (<usize>i << 2), b * V + v);
      if (n < k) n++;
    }
  }
}

/** dst[i, :] = src[rows[i], :] for i < n, rows of `len` f32 with the given strides. dst must not overlap src. */
export function gather_rows(dst: usize, src: usize, rows: usize, n: i32, len: i32, stride: i32): void {
  for (let i = 0; i < n; i++) {
    const r = load<i32>(rows + (<usize>i << 2));
    memory.copy(dst + (<usize>i * stride << 2), src + (<usize>r * stride << 2), <usize>len << 2);
  }
}
