// Scaled dot-product attention over H heads of a fixed projection width Qd (head size Qd / H).
//
//   for each batch row b and head h:
//     S[Tq,Tk] = scale · q_h[Tq,hd] · k_h[Tk,hd]^T      (masked: padding, causality)
//     P        = softmax_rows(S)
//     o_h      = P · v_h[Tk,hd]
//
// Layouts: q [B, Tq, Qd] with batch stride sq, k/v [Bkv, Tk, Qd] with batch stride skv,
// o [B, Tq, Qd] with batch stride so; rows have stride Qd. Batch row b reads keys/values of
// row b / kvDiv (beams of a sentence share its encoder keys). Keys are valid when
// (j % kvBlock) < lens[b / kvDiv] (lens == 0: all valid; kvBlock lets the concatenation of k
// encoder layers share one length), and, if causal, j <= i + (Tk - Tq).

import { matmul, matmul_nt } from "./matmul";

const NEG_INF: f32 = -Infinity;

export function attention(
  o: usize, q: usize, k: usize, v: usize, scores: usize, lens: usize,
  B: i32, Tq: i32, Tk: i32, H: i32, Qd: i32,
  sq: i32, skv: i32, so: i32, kvDiv: i32, kvBlock: i32, causal: bool,
): void {
  const hd = Qd / H;
  const scale: f32 = 1.0 / Mathf.sqrt(<f32>hd);
  for (let b = 0; b < B; b++) {
    const kb = b / kvDiv;
    const len = lens != 0 ? load<i32>(lens + (<usize>kb << 2)) : kvBlock;
    for (let h = 0; h < H; h++) {
      const qh = q + ((<usize>b * sq + h * hd) << 2);
      const kh = k + ((<usize>kb * skv + h * hd) << 2);
      const vh = v + ((<usize>kb * skv + h * hd) << 2);
      const oh = o + ((<usize>b * so + h * hd) << 2);
      matmul_nt(scores, qh, kh, 0, Tq, hd, Tk, Qd, Qd, Tk); // [Tq, Tk]
      for (let i = 0; i < Tq; i++) {
        const last = causal ? i + (Tk - Tq) : Tk - 1;
        softmax_row(scores + (<usize>i * Tk << 2), Tk, last, scale, len, kvBlock);
      }
      matmul(oh, scores, vh, 0, Tq, Tk, hd, Tk, Qd, Qd); // [Tq, hd]
    }
  }
}

/** In place: s[j] = softmax(scale · s)[j] over valid j (j <= last and j % block < len); others 0. */
export function softmax_row(s: usize, n: i32, last: i32, scale: f32, len: i32, block: i32): void {
  let mx: f32 = NEG_INF;
  for (let j = 0; j < n; j++) {
    const p = s + (<usize>j << 2);
    if (j > last || j % block >= len) { store<f32>(p, NEG_INF); continue; }
    const t = load<f32>(p) * scale;
    store<f32>(p, t);
    if (t > mx) mx = t;
  }
  let sum: f32 = 0;
  for (let j = 0; j < n; j++) {
    const p = s + (<usize>j << 2);
    const e: f32 = mx == NEG_INF ? 0 : Mathf.exp(load<f32>(p) - mx);
    store<f32>(p, e);
    sum += e;
  }
  const inv: f32 = sum > 0 ? 1.0 / sum : 0;
  for (let j = 0; j < n; j++) {
    const p = s + (<usize>j << 2);
    store<f32>(p, load<f32>(p) * inv);
  }
}
