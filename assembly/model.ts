// The SubTransformer forward pass: HAT's encoder-decoder with heterogeneous layers, run on the
// front slices of whatever weights the model descriptor points at (a SuperTransformer, or a
// compact exported SubTransformer: the leading dimensions tell them apart).
//
// Shapes: B batch rows, S source length, T target length, De/Dd embed dims, Q qkv width,
// F a layer's FFN dim, V vocabulary, Tm the decoder's maximum length, k encoder layers attended.
//
//   encoder:  x = embed(src)                                   [B,S,De]
//             for each layer:  x = LN(x + SelfAttn(x))          [B,S,De]
//                              x = LN(x + FFN(x))               [B,S,De]   -> enc[i]
//   decoder:  y = embed(prev tokens)                            [B,T,Dd]
//             for each layer:  y = LN(y + SelfAttn(y, causal))
//                              y = LN(y + CrossAttn(y, concat(enc[-1], .., enc[-k])))
//                              y = LN(y + FFN(y))
//             logits = y · E[:, :Dd]^T                          [B,T,V]
//
// The model descriptor (i32 fields, written by runtime/wasm-model.ts) and the decoder state are
// plain memory; this file keeps no state of its own.

import { product_op, OP_MATMUL, OP_MATMUL_NT, OP_Q8, OP_KM, OP_KM_NT } from "./threads";
import { add_layernorm } from "./norm";
import { relu } from "./activation";
import { attention } from "./attention";
import { embed } from "./embed";
import { km_embed } from "./kmeans";
import { gather_rows } from "./decode";
// Field offsets of the model descriptor (M_* header, E_* encoder layer, D_* decoder layer, A_*
// attention block) and of the decoder state (S_*): the one table the host also writes from.
import {
  M_V, M_DE, M_DD, M_LE, M_LD, M_Q, M_EMB, M_LDEMB, M_POSE, M_LDPOSE, M_POSD, M_LDPOSD, M_HEADER, M_QUANT, M_EMBQ, M_EMBKM,
  E_H, E_F, E_LDD, E_LDF, E_ATTN, E_LN1, E_FC1, E_FC2, E_LN2, E_STRIDE,
  D_HS, D_HC, D_F, D_K, D_LDD, D_LDF, D_SELF, D_LN1, D_CROSS, D_LN2, D_FC1, D_FC2, D_LN3, D_STRIDE,
  A_QW, A_QB, A_KW, A_KB, A_VW, A_VB, A_OW, A_OB,
  S_BS, S_BEAM, S_S, S_TM, S_B, S_LENS, S_LAYERS, S_PER_LAYER,
} from "./layout";

// ---- model descriptor ---------------------------------------------------------------------

// @ts-ignore: decorator
@inline function fld(p: usize, i: i32): i32 { return load<i32>(p + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline function ptr(p: usize, i: i32): usize { return <usize>load<i32>(p + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline function f32s(n: i32): usize { return (<usize>n << 2) + 15 & ~15; } // bytes, 16-aligned

export function model_desc_ints(encLayers: i32, decLayers: i32): i32 { return M_HEADER + encLayers * E_STRIDE + decLayers * D_STRIDE; }
export function enc_layer_offset(i: i32): i32 { return M_HEADER + i * E_STRIDE; }
export function dec_layer_offset(encLayers: i32, i: i32): i32 { return M_HEADER + encLayers * E_STRIDE + i * D_STRIDE; }

function encLayer(m: usize, i: i32): usize { return m + (<usize>(M_HEADER + i * E_STRIDE) << 2); }
function decLayer(m: usize, i: i32): usize { return m + (<usize>(M_HEADER + fld(m, M_LE) * E_STRIDE + i * D_STRIDE) << 2); }

function maxEncF(m: usize): i32 { let f = 0; for (let i = 0; i < fld(m, M_LE); i++) f = max(f, fld(encLayer(m, i), E_F)); return f; }
function maxDecF(m: usize): i32 { let f = 0; for (let i = 0; i < fld(m, M_LD); i++) f = max(f, fld(decLayer(m, i), D_F)); return f; }
function maxDecK(m: usize): i32 { let k = 1; for (let i = 0; i < fld(m, M_LD); i++) k = max(k, fld(decLayer(m, i), D_K)); return k; }

// ---- blocks ---------------------------------------------------------------------------------

/** A weight product y = x · W (+ b): f32 (W stored with leading dimension ldw), or, in an int8
 *  model (M_QUANT 1), W a packed int8 matrix of exactly K x N (assembly/int8.ts), or, in a
 *  k-means model (M_QUANT 2), a packed k-means matrix holding W[:K, :N] (assembly/kmeans.ts).
 *  Split across the threads of a threaded build (assembly/threads.ts). */
// @ts-ignore: decorator
@inline function product(m: usize, y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  const q = fld(m, M_QUANT);
  product_op(q == 1 ? OP_Q8 : q == 2 ? OP_KM : OP_MATMUL, y, x, w, b, M, K, N, ldx, ldw, ldy);
}

/** The token embedding of rows [B, T] at positions t0.. (assembly/embed.ts), from the f32 table or
 *  a k-means one (M_EMBKM). */
function embedTokens(m: usize, y: usize, tokens: usize, P: usize, ldP: i32, B: i32, T: i32, t0: i32, D: i32): void {
  const km = ptr(m, M_EMBKM);
  if (km != 0) km_embed(y, tokens, km, P, ldP, B, T, t0, D);
  else embed(y, tokens, ptr(m, M_EMB), fld(m, M_LDEMB), P, ldP, B, T, t0, D);
}

/** y[R,D] = x[R,Dx] · W[:Dx,:D] + b, W stored with leading dimension ldw. */
// @ts-ignore: decorator
@inline function linear(m: usize, y: usize, x: usize, w: usize, b: usize, R: i32, Din: i32, Dout: i32, ldw: i32): void {
  product(m, y, x, w, b, R, Din, Dout, Din, ldw, Dout);
}

/** x = LN(x + FFN(x)), FFN(x) = relu(x · W1 + b1) · W2 + b2. h [R,F], t [R,D] scratch. */
function ffnBlock(m: usize, x: usize, h: usize, t: usize, L: usize, fc1: i32, fc2: i32, ln: i32, R: i32, D: i32, F: i32, ldD: i32, ldF: i32): void {
  linear(m, h, x, ptr(L, fc1), ptr(L, fc1 + 1), R, D, F, ldF); // [R,F]
  relu(h, R * F);
  linear(m, t, h, ptr(L, fc2), ptr(L, fc2 + 1), R, F, D, ldD); // [R,D]
  add_layernorm(x, x, t, ptr(L, ln), ptr(L, ln + 1), R, D);
}

// ---- encoder --------------------------------------------------------------------------------

export function encode_scratch_bytes(m: usize, B: i32, S: i32): usize {
  const R = B * S, De = fld(m, M_DE), Q = fld(m, M_Q);
  return f32s(R * De) * 2 + f32s(R * Q) * 4 + f32s(R * maxEncF(m)) + f32s(S * S);
}

/** enc[i] [B,S,De] = output of encoder layer i, for every layer. tokens i32 [B,S], lens i32 [B]. */
export function encode(m: usize, work: usize, tokens: usize, lens: usize, B: i32, S: i32, enc: usize): void {
  const De = fld(m, M_DE), Q = fld(m, M_Q), R = B * S;
  const x0 = work;                          // [R,De] embeddings
  const t = x0 + f32s(R * De);              // [R,De]
  const q = t + f32s(R * De);               // [R,Q]
  const k = q + f32s(R * Q);                // [R,Q]
  const v = k + f32s(R * Q);                // [R,Q]
  const a = v + f32s(R * Q);                // [R,Q]
  const h = a + f32s(R * Q);                // [R,F]
  const sc = h + f32s(R * maxEncF(m));      // [S,S]

  embedTokens(m, x0, tokens, ptr(m, M_POSE), fld(m, M_LDPOSE), B, S, 0, De);
  let x = x0;
  for (let i = 0; i < fld(m, M_LE); i++) {
    const L = encLayer(m, i);
    const ldD = fld(L, E_LDD), F = fld(L, E_F);
    const y = enc + (<usize>i * R * De << 2);
    // self-attention
    linear(m, q, x, ptr(L, E_ATTN + A_QW), ptr(L, E_ATTN + A_QB), R, De, Q, Q);
    linear(m, k, x, ptr(L, E_ATTN + A_KW), ptr(L, E_ATTN + A_KB), R, De, Q, Q);
    linear(m, v, x, ptr(L, E_ATTN + A_VW), ptr(L, E_ATTN + A_VB), R, De, Q, Q);
    attention(a, q, k, v, sc, lens, B, S, S, fld(L, E_H), Q, S * Q, S * Q, S * Q, 1, S, false);
    linear(m, t, a, ptr(L, E_ATTN + A_OW), ptr(L, E_ATTN + A_OB), R, Q, De, ldD);
    add_layernorm(y, x, t, ptr(L, E_LN1), ptr(L, E_LN1 + 1), R, De);
    // feed-forward
    ffnBlock(m, y, h, t, L, E_FC1, E_FC2, E_LN2, R, De, F, ldD, fld(L, E_LDF));
    x = y;
  }
}

// ---- decoder state --------------------------------------------------------------------------
// i32 header: Bs, beam, S, Tm, B = Bs·beam, lens ptr, then per layer: selfK, selfV, crossK, crossV
// (offsets S_* in layout.ts).

function stateHeaderBytes(Ld: i32): usize { return f32s(S_LAYERS + Ld * S_PER_LAYER); }

export function decoder_state_bytes(m: usize, Bs: i32, beam: i32, S: i32, Tm: i32): usize {
  const Q = fld(m, M_Q), Ld = fld(m, M_LD), B = Bs * beam;
  let n = stateHeaderBytes(Ld) + f32s(Bs);
  for (let i = 0; i < Ld; i++) n += f32s(B * Tm * Q) * 2 + f32s(Bs * fld(decLayer(m, i), D_K) * S * Q) * 2;
  return n;
}

/** Lay out the state and compute every layer's cross-attention keys/values from the encoder
 *  outputs enc [Le, Bs, S, De] (the last k layers, concatenated along the sequence axis). */
export function decoder_init(m: usize, st: usize, enc: usize, lens: usize, Bs: i32, beam: i32, S: i32, Tm: i32): void {
  const Q = fld(m, M_Q), Ld = fld(m, M_LD), Le = fld(m, M_LE), De = fld(m, M_DE), B = Bs * beam;
  store<i32>(st + (S_BS << 2), Bs);
  store<i32>(st + (S_BEAM << 2), beam);
  store<i32>(st + (S_S << 2), S);
  store<i32>(st + (S_TM << 2), Tm);
  store<i32>(st + (S_B << 2), B);
  let p = st + stateHeaderBytes(Ld);
  store<i32>(st + (S_LENS << 2), <i32>p);
  memory.copy(p, lens, <usize>Bs << 2);
  p += f32s(Bs);
  for (let i = 0; i < Ld; i++) {
    const L = decLayer(m, i), K = fld(L, D_K);
    const hdr = st + (<usize>(S_LAYERS + i * S_PER_LAYER) << 2);
    const selfK = p; p += f32s(B * Tm * Q);
    const selfV = p; p += f32s(B * Tm * Q);
    const crossK = p; p += f32s(Bs * K * S * Q);
    const crossV = p; p += f32s(Bs * K * S * Q);
    store<i32>(hdr, <i32>selfK);
    store<i32>(hdr + 4, <i32>selfV);
    store<i32>(hdr + 8, <i32>crossK);
    store<i32>(hdr + 12, <i32>crossV);
    for (let b = 0; b < Bs; b++) {
      for (let j = 0; j < K; j++) {
        const src = enc + ((<usize>(Le - 1 - j) * Bs * S + <usize>b * S) * De << 2); // [S,De]
        const dst = (<usize>b * K * S + <usize>j * S) * Q << 2;                       // [S,Q]
        linear(m, crossK + dst, src, ptr(L, D_CROSS + A_KW), ptr(L, D_CROSS + A_KB), S, De, Q, Q);
        linear(m, crossV + dst, src, ptr(L, D_CROSS + A_VW), ptr(L, D_CROSS + A_VB), S, De, Q, Q);
      }
    }
  }
}

function stLayer(st: usize, i: i32, j: i32): usize { return ptr(st, S_LAYERS + i * S_PER_LAYER + j); }

/** Scratch for T new rows of B batch rows, keys up to Tm self positions and k·S cross positions. */
export function decoder_scratch_bytes(m: usize, B: i32, T: i32, S: i32, Tm: i32): usize {
  const R = B * T, Dd = fld(m, M_DD), Q = fld(m, M_Q);
  const Tk = max(Tm, maxDecK(m) * S);
  return f32s(R * Dd) * 2 + f32s(R * Q) * 4 + f32s(R * maxDecF(m)) + f32s(T * Tk);
}

/** One decoder layer over R = B·T rows y [B,T,Dd], in place. Self keys/values kc/vc hold the
 *  rows 0..Tk-1 of each batch row (batch stride sk); the new rows are written at t0. */
function decoderLayer(m: usize, st: usize, i: i32, y: usize, work: usize, B: i32, T: i32, t0: i32, kc: usize, vc: usize, sk: i32, causal: bool): void {
  const L = decLayer(m, i);
  const Dd = fld(m, M_DD), Q = fld(m, M_Q), R = B * T, F = fld(L, D_F), ldD = fld(L, D_LDD);
  const S = fld(st, S_S), K = fld(L, D_K), beam = fld(st, S_BEAM), Tk = t0 + T;
  const t = work + f32s(R * Dd);
  const q = t + f32s(R * Dd);
  const a = q + f32s(R * Q) * 3;
  const h = a + f32s(R * Q);
  const sc = h + f32s(R * maxDecF(m));
  // self-attention: project the new rows straight into the key/value cache
  linear(m, q, y, ptr(L, D_SELF + A_QW), ptr(L, D_SELF + A_QB), R, Dd, Q, Q);
  if (T == 1) {
    // one step: row b of the new keys goes to cache row (b, t0), sk apart: one product for all rows
    const row = <usize>t0 * Q << 2;
    product(m, kc + row, y, ptr(L, D_SELF + A_KW), ptr(L, D_SELF + A_KB), B, Dd, Q, Dd, Q, sk);
    product(m, vc + row, y, ptr(L, D_SELF + A_VW), ptr(L, D_SELF + A_VB), B, Dd, Q, Dd, Q, sk);
  } else {
    for (let b = 0; b < B; b++) {
      const yb = y + (<usize>b * T * Dd << 2), row = (<usize>b * sk + <usize>t0 * Q) << 2;
      linear(m, kc + row, yb, ptr(L, D_SELF + A_KW), ptr(L, D_SELF + A_KB), T, Dd, Q, Q);
      linear(m, vc + row, yb, ptr(L, D_SELF + A_VW), ptr(L, D_SELF + A_VB), T, Dd, Q, Q);
    }
  }
  attention(a, q, kc, vc, sc, 0, B, T, Tk, fld(L, D_HS), Q, T * Q, sk, T * Q, 1, Tk, causal);
  linear(m, t, a, ptr(L, D_SELF + A_OW), ptr(L, D_SELF + A_OB), R, Q, Dd, ldD);
  add_layernorm(y, y, t, ptr(L, D_LN1), ptr(L, D_LN1 + 1), R, Dd);
  // encoder-decoder attention over the last K encoder layers
  linear(m, q, y, ptr(L, D_CROSS + A_QW), ptr(L, D_CROSS + A_QB), R, Dd, Q, Q);
  attention(a, q, stLayer(st, i, 2), stLayer(st, i, 3), sc, ptr(st, S_LENS), B, T, K * S, fld(L, D_HC), Q, T * Q, K * S * Q, T * Q, beam, S, false);
  linear(m, t, a, ptr(L, D_CROSS + A_OW), ptr(L, D_CROSS + A_OB), R, Q, Dd, ldD);
  add_layernorm(y, y, t, ptr(L, D_LN2), ptr(L, D_LN2 + 1), R, Dd);
  // feed-forward
  ffnBlock(m, y, h, t, L, D_FC1, D_FC2, D_LN3, R, Dd, F, ldD, fld(L, D_LDF));
}

/** One incremental step at position t: tokens i32 [B] -> logits [B,V]. Uses and extends the
 *  self-attention cache. work: decoder_scratch_bytes(m, B, 1, S, Tm). */
export function decoder_step(m: usize, st: usize, work: usize, tokens: usize, t: i32, logits: usize): void {
  const B = fld(st, S_B), Tm = fld(st, S_TM), Q = fld(m, M_Q), Dd = fld(m, M_DD);
  const y = work; // [B,Dd]
  embedTokens(m, y, tokens, ptr(m, M_POSD), fld(m, M_LDPOSD), B, 1, t, Dd);
  for (let i = 0; i < fld(m, M_LD); i++) {
    decoderLayer(m, st, i, y, work, B, 1, t, stLayer(st, i, 0), stLayer(st, i, 1), Tm * Q, false);
  }
  output_logits(m, logits, y, B);
}

/** Teacher forcing: tokens i32 [B,T] (previous tokens, starting with eos) -> hidden [B,T,Dd],
 *  with causal self-attention. Needs B·T <= the state's B·Tm (it uses the cache as key storage). */
export function decoder_forward(m: usize, st: usize, work: usize, tokens: usize, T: i32, hidden: usize): void {
  const B = fld(st, S_B), Tm = fld(st, S_TM), Q = fld(m, M_Q), Dd = fld(m, M_DD);
  embedTokens(m, hidden, tokens, ptr(m, M_POSD), fld(m, M_LDPOSD), B, T, 0, Dd);
  for (let i = 0; i < fld(m, M_LD); i++) {
    decoderLayer(m, st, i, hidden, work, B, T, 0, stLayer(st, i, 0), stLayer(st, i, 1), Tm * Q, true);
  }
}

/** logits [R,V] = y [R,Dd] · E[:, :Dd]^T (the output projection tied to the embedding). */
export function output_logits(m: usize, logits: usize, y: usize, R: i32): void {
  const Dd = fld(m, M_DD), V = fld(m, M_V);
  if (fld(m, M_QUANT) == 1) product_op(OP_Q8, logits, y, ptr(m, M_EMBQ), 0, R, Dd, V, Dd, 0, V);
  else if (ptr(m, M_EMBKM) != 0) product_op(OP_KM_NT, logits, y, ptr(m, M_EMBKM), 0, R, Dd, V, Dd, 0, V);
  else product_op(OP_MATMUL_NT, logits, y, ptr(m, M_EMB), 0, R, Dd, V, Dd, fld(m, M_LDEMB), V);
}

/** Beam search bookkeeping: row b of every self-attention cache (positions 0..t) becomes the old
 *  row parents[b]. work: at least B·(t+1)·Q f32. */
export function decoder_reorder(m: usize, st: usize, work: usize, parents: usize, t: i32): void {
  const B = fld(st, S_B), Tm = fld(st, S_TM), Q = fld(m, M_Q);
  for (let i = 0; i < fld(m, M_LD); i++) {
    for (let j = 0; j < 2; j++) {
      const c = stLayer(st, i, j);
      gather_rows(work, c, parents, B, (t + 1) * Q, Tm * Q);
      // back only the t + 1 positions written (the whole Tm-row cache was copied before: 6 % of
      // a translation's time at 32 sentences a batch)
      for (let b = 0; b < B; b++) {
        const o = <usize>b * Tm * Q << 2;
        memory.copy(c + o, work + o, <usize>(t + 1) * Q << 2);
      }
    }
  }
}
