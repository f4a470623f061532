/**
 * The float64 reference of the SubTransformer forward pass, in plain TypeScript loops.
 * Same weights and same semantics as assembly/model.ts (docs/runtime.md), nothing optimised:
 * the tests compare the wasm runtime against it. Sentences are processed one at a time.
 */
import type { Arch } from "./types.js";
import type { TensorMap } from "./weights.js";

type Mat = Float64Array; // row-major [rows, cols]

export interface RefModel {
  tensors: TensorMap;
  arch: Arch;
  vocabSize: number;
  positionDims: { encoder: number; decoder: number };
}

function tensor(m: RefModel, name: string) {
  const t = m.tensors.get(name);
  if (!t) throw new Error(`reference: tensor ${name} missing`);
  return t;
}

/** y[R,out] = x[R,in] · W[:in,:out] + b[:out]. */
function linear(m: RefModel, x: Mat, R: number, name: string, In: number, Out: number): Mat {
  const w = tensor(m, `${name}.w`), b = tensor(m, `${name}.b`), ld = w.shape[1];
  const y = new Float64Array(R * Out);
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < Out; o++) {
      let s = b.data[o];
      for (let i = 0; i < In; i++) s += x[r * In + i] * w.data[i * ld + o];
      y[r * Out + o] = s;
    }
  }
  return y;
}

/** LN(x + r) per row with the front D entries of gain/bias `name`. */
function addNorm(m: RefModel, x: Mat, r: Mat, R: number, D: number, name: string): Mat {
  const g = tensor(m, `${name}.g`).data, b = tensor(m, `${name}.b`).data;
  const y = new Float64Array(R * D);
  for (let i = 0; i < R; i++) {
    let mean = 0;
    for (let d = 0; d < D; d++) mean += x[i * D + d] + r[i * D + d];
    mean /= D;
    let v = 0;
    for (let d = 0; d < D; d++) { const t = x[i * D + d] + r[i * D + d] - mean; v += t * t; }
    const inv = 1 / Math.sqrt(v / D + 1e-5);
    for (let d = 0; d < D; d++) y[i * D + d] = (x[i * D + d] + r[i * D + d] - mean) * inv * g[d] + b[d];
  }
  return y;
}

/** Multi-head attention of q rows [Tq,Q] over k/v rows [Tk,Q]; keys j > i + offset are masked when causal. */
function attend(q: Mat, k: Mat, v: Mat, Tq: number, Tk: number, H: number, Q: number, causal: boolean): Mat {
  const hd = Q / H, scale = 1 / Math.sqrt(hd), out = new Float64Array(Tq * Q);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < Tq; i++) {
      const last = causal ? i + (Tk - Tq) : Tk - 1;
      const s = new Float64Array(last + 1);
      let mx = -Infinity;
      for (let j = 0; j <= last; j++) {
        let d = 0;
        for (let c = 0; c < hd; c++) d += q[i * Q + h * hd + c] * k[j * Q + h * hd + c];
        s[j] = d * scale;
        mx = Math.max(mx, s[j]);
      }
      let sum = 0;
      for (let j = 0; j <= last; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
      for (let c = 0; c < hd; c++) {
        let o = 0;
        for (let j = 0; j <= last; j++) o += s[j] * v[j * Q + h * hd + c];
        out[i * Q + h * hd + c] = o / sum;
      }
    }
  }
  return out;
}

function ffn(m: RefModel, x: Mat, R: number, D: number, F: number, p: string): Mat {
  const h = linear(m, x, R, `${p}.ffn.fc1`, D, F);
  for (let i = 0; i < h.length; i++) h[i] = Math.max(0, h[i]);
  return addNorm(m, x, linear(m, h, R, `${p}.ffn.fc2`, F, D), R, D, `${p}.ffn_ln`);
}

/** sqrt(D) · E[tok, :D] + sinusoid(t + 2)[:D] (table dim P, half sin then half cos). */
function embed(m: RefModel, tokens: ArrayLike<number>, D: number, P: number): Mat {
  const E = tensor(m, "embed.tokens"), ld = E.shape[1], T = tokens.length, half = P >> 1;
  const x = new Float64Array(T * D), scale = Math.sqrt(D), step = Math.log(10000) / (half - 1);
  for (let t = 0; t < T; t++) {
    for (let d = 0; d < D; d++) {
      const i = d < half ? d : d - half, a = (t + 2) * Math.exp(-i * step);
      x[t * D + d] = scale * E.data[tokens[t] * ld + d] + (d < half ? Math.sin(a) : Math.cos(a));
    }
  }
  return x;
}

/** Every encoder layer's output [S, De] for one sentence. */
export function refEncode(m: RefModel, src: ArrayLike<number>): Mat[] {
  const a = m.arch, De = a.encoderEmbedDim, Q = a.qkvDim, S = src.length;
  let x = embed(m, src, De, m.positionDims.encoder);
  const outs: Mat[] = [];
  for (let i = 0; i < a.encoderLayers; i++) {
    const p = `enc.${i}`;
    const q = linear(m, x, S, `${p}.self.q`, De, Q), k = linear(m, x, S, `${p}.self.k`, De, Q), v = linear(m, x, S, `${p}.self.v`, De, Q);
    const att = linear(m, attend(q, k, v, S, S, a.encoderHeads[i], Q, false), S, `${p}.self.o`, Q, De);
    x = addNorm(m, x, att, S, De, `${p}.self_ln`);
    x = ffn(m, x, S, De, a.encoderFfnDims[i], p);
    outs.push(x);
  }
  return outs;
}

/** Decoder logits [T, V] for one sentence given all previous tokens (teacher forcing, causal). */
export function refDecode(m: RefModel, enc: Mat[], prev: ArrayLike<number>): Mat {
  const a = m.arch, Dd = a.decoderEmbedDim, De = a.encoderEmbedDim, Q = a.qkvDim, T = prev.length, V = m.vocabSize;
  const S = enc[0].length / De;
  let y = embed(m, prev, Dd, m.positionDims.decoder);
  for (let i = 0; i < a.decoderLayers; i++) {
    const p = `dec.${i}`;
    const q = linear(m, y, T, `${p}.self.q`, Dd, Q), k = linear(m, y, T, `${p}.self.k`, Dd, Q), v = linear(m, y, T, `${p}.self.v`, Dd, Q);
    y = addNorm(m, y, linear(m, attend(q, k, v, T, T, a.decoderSelfHeads[i], Q, true), T, `${p}.self.o`, Q, Dd), T, Dd, `${p}.self_ln`);
    // keys/values: concat(enc[-1], enc[-2], ...) along the sequence axis
    const K = a.decoderEndeLayers[i];
    const mem = new Float64Array(K * S * De);
    for (let j = 0; j < K; j++) mem.set(enc[enc.length - 1 - j], j * S * De);
    const cq = linear(m, y, T, `${p}.cross.q`, Dd, Q);
    const ck = linear(m, mem, K * S, `${p}.cross.k`, De, Q), cv = linear(m, mem, K * S, `${p}.cross.v`, De, Q);
    y = addNorm(m, y, linear(m, attend(cq, ck, cv, T, K * S, a.decoderCrossHeads[i], Q, false), T, `${p}.cross.o`, Q, Dd), T, Dd, `${p}.cross_ln`);
    y = ffn(m, y, T, Dd, a.decoderFfnDims[i], p);
  }
  const E = tensor(m, "embed.tokens"), ld = E.shape[1];
  const logits = new Float64Array(T * V);
  for (let t = 0; t < T; t++) {
    for (let w = 0; w < V; w++) {
      let s = 0;
      for (let d = 0; d < Dd; d++) s += y[t * Dd + d] * E.data[w * ld + d];
      logits[t * V + w] = s;
    }
  }
  return logits;
}
