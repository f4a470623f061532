// One SubTransformer over a loaded model's weights, run by the core kernels (assembly/model.ts):
// the model descriptor (runtime/wasm-model.ts buildDescriptor, the same fields of
// assembly/layout.ts and the same shape checks), and over it runtime/decode.ts's beam search and
// teacher-forced scoring for one sentence, and runtime/profile.ts's latency protocol. Every size
// is checked against the 4 GiB before it is allocated; every token id against the vocabulary.

import {
  M_V, M_DE, M_DD, M_LE, M_LD, M_Q, M_EMB, M_LDEMB, M_POSE, M_LDPOSE, M_POSD, M_LDPOSD, M_MAXPOS,
  E_H, E_F, E_LDD, E_LDF, E_ATTN, E_LN1, E_FC1, E_FC2, E_LN2,
  D_HS, D_HC, D_F, D_K, D_LDD, D_LDF, D_SELF, D_LN1, D_CROSS, D_LN2, D_FC1, D_FC2, D_LN3,
  A_QW, A_QB, A_KW, A_KB, A_VW, A_VB, A_OW, A_OB,
} from "../layout";
import {
  model_desc_ints, enc_layer_offset, dec_layer_offset, encode_scratch_bytes, encode, decoder_state_bytes,
  decoder_init, decoder_scratch_bytes, decoder_step, decoder_forward, decoder_reorder, output_logits,
} from "../model";
import { log_softmax_rows, token_nll } from "../decode";
import { Arch, Model, MAX_POSITIONS, fail, fits, E_TENSOR_MISSING, E_TENSOR_SHAPE, E_ARCH_MISMATCH, E_BAD_INPUT } from "./hatm";
import { now } from "./clock";

/** The largest block the allocator gives (AssemblyScript's TLSF: 1 GiB), less room for alignment. */
export const MAX_BLOCK: f64 = 1073741824 - 256;
const BOS = 0;
const PAD = 1;
const EOS = 2;

/** Blocks of one call, freed together. */
class Arena {
  blocks: usize[] = [];
  alloc(bytes: usize): usize {
    const raw = heap.alloc(bytes + 64);
    this.blocks.push(raw);
    return (raw + 63) & ~<usize>63;
  }
  free(): void {
    for (let i = 0; i < this.blocks.length; i++) heap.free(this.blocks[i]);
    this.blocks = [];
  }
}

function shapeText(xs: i32[]): string {
  let s = "[";
  for (let i = 0; i < xs.length; i++) s += (i > 0 ? "," : "") + xs[i].toString();
  return s + "]";
}

export class Net {
  m: Model;
  arch: Arch;
  desc: usize = 0;
  private descBlock: usize = 0;

  constructor(m: Model, arch: Arch) {
    this.m = m;
    this.arch = arch;
  }

  release(): void {
    if (this.descBlock != 0) heap.free(this.descBlock);
    this.descBlock = 0;
  }

  /** The tensor `name`'s pointer, checked to hold at least `need` (front slice); 0 and a failure if not. */
  private get(name: string, need: i32[], ld: i32[]): usize {
    const t = this.m.tensor(name);
    if (t === null) { fail(E_TENSOR_MISSING, "tensor " + name + " is missing from the model but the architecture needs it with shape at least " + shapeText(need)); return 0; }
    let ok = t.shape.length == need.length;
    for (let i = 0; ok && i < need.length; i++) if (t.shape[i] < need[i]) ok = false;
    if (!ok) { fail(E_TENSOR_SHAPE, "tensor " + name + " has shape " + t.shapeText() + " but the architecture needs at least " + shapeText(need)); return 0; }
    ld[0] = t.shape[t.shape.length - 1];
    return t.ptr;
  }

  /** runtime/wasm-model.ts buildDescriptor; false with a failure when a tensor is missing or too small. */
  build(): bool {
    const a = this.arch, m = this.m, Q = a.Q, De = a.De, Dd = a.Dd, V = m.V;
    if (De > m.posE || Dd > m.posD) return fail(E_ARCH_MISMATCH, "the model's position tables are [" + m.posE.toString() + ", " + m.posD.toString() + "] wide (encoder, decoder) but the architecture needs at least [" + De.toString() + ", " + Dd.toString() + "]");
    const n = model_desc_ints(a.Le, a.Ld);
    this.descBlock = heap.alloc((<usize>n << 2) + 64);
    const d = (this.descBlock + 63) & ~<usize>63;
    memory.fill(d, 0, <usize>n << 2);
    this.desc = d;
    const ld: i32[] = [0];
    const emb = this.get("embed.tokens", [V, max(De, Dd)], ld); if (emb == 0) return false;
    set(d, M_V, V); set(d, M_DE, De); set(d, M_DD, Dd); set(d, M_LE, a.Le); set(d, M_LD, a.Ld); set(d, M_Q, Q);
    set(d, M_EMB, <i32>emb); set(d, M_LDEMB, ld[0]);
    set(d, M_POSE, <i32>m.posEncPtr); set(d, M_LDPOSE, m.posE);
    set(d, M_POSD, <i32>m.posDecPtr); set(d, M_LDPOSD, m.posD);
    set(d, M_MAXPOS, MAX_POSITIONS);
    for (let i = 0; i < a.Le; i++) {
      const o = enc_layer_offset(i), p = "enc." + i.toString(), F = a.encF[i];
      set(d, o + E_H, a.encH[i]);
      set(d, o + E_F, F);
      const ldO = this.attn(d, o + E_ATTN, p + ".self", De, De, De); if (ldO < 0) return false;
      if (!this.pair(d, o + E_LN1, p + ".self_ln", De)) return false;
      const ldF = this.ffn(d, o + E_FC1, o + E_FC2, p + ".ffn", De, F, ld); if (ldF < 0) return false;
      if (!this.pair(d, o + E_LN2, p + ".ffn_ln", De)) return false;
      if (ldO != ld[0]) return fail(E_TENSOR_SHAPE, p + ": self.o.w and ffn.fc2.w disagree on the stored embed dim (" + ldO.toString() + " vs " + ld[0].toString() + ")");
      set(d, o + E_LDD, ld[0]);
      set(d, o + E_LDF, ldF);
    }
    for (let i = 0; i < a.Ld; i++) {
      const o = dec_layer_offset(a.Le, i), p = "dec." + i.toString(), F = a.decF[i];
      set(d, o + D_HS, a.decHS[i]);
      set(d, o + D_HC, a.decHC[i]);
      set(d, o + D_F, F);
      set(d, o + D_K, a.decK[i]);
      const ldS = this.attn(d, o + D_SELF, p + ".self", Dd, Dd, Dd); if (ldS < 0) return false;
      if (!this.pair(d, o + D_LN1, p + ".self_ln", Dd)) return false;
      const ldC = this.attn(d, o + D_CROSS, p + ".cross", Dd, De, Dd); if (ldC < 0) return false;
      if (!this.pair(d, o + D_LN2, p + ".cross_ln", Dd)) return false;
      const ldF = this.ffn(d, o + D_FC1, o + D_FC2, p + ".ffn", Dd, F, ld); if (ldF < 0) return false;
      if (!this.pair(d, o + D_LN3, p + ".ffn_ln", Dd)) return false;
      if (ldS != ld[0] || ldC != ld[0]) return fail(E_TENSOR_SHAPE, p + ": output projections disagree on the stored embed dim (" + ldS.toString() + ", " + ldC.toString() + ", " + ld[0].toString() + ")");
      set(d, o + D_LDD, ld[0]);
      set(d, o + D_LDF, ldF);
    }
    return true;
  }

  /** q/k/v/o of one attention block; returns o.w's stored width, or -1. */
  private attn(d: usize, base: i32, prefix: string, Din: i32, kvDin: i32, Dout: i32): i32 {
    const Q = this.arch.Q, ld: i32[] = [0];
    const names = ["q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "o.w", "o.b"];
    const slots = [A_QW, A_QB, A_KW, A_KB, A_VW, A_VB, A_OW, A_OB];
    let ldO = 0;
    for (let j = 0; j < 8; j++) {
      const part = names[j];
      let need: i32[];
      if (part == "q.w") need = [Din, Q];
      else if (part == "k.w" || part == "v.w") need = [kvDin, Q];
      else if (part == "o.w") need = [Q, Dout];
      else if (part == "o.b") need = [Dout];
      else need = [Q];
      const ptr = this.get(prefix + "." + part, need, ld);
      if (ptr == 0) return -1;
      if (part.endsWith(".w") && part != "o.w" && ld[0] != Q) { fail(E_TENSOR_SHAPE, "tensor " + prefix + "." + part + " has width " + ld[0].toString() + " but qkv-dim is " + Q.toString()); return -1; }
      if (part == "o.w") ldO = ld[0];
      set(d, base + slots[j], <i32>ptr);
    }
    return ldO;
  }

  private pair(d: usize, i: i32, prefix: string, len: i32): bool {
    const ld: i32[] = [0];
    const g = this.get(prefix + ".g", [len], ld); if (g == 0) return false;
    const b = this.get(prefix + ".b", [len], ld); if (b == 0) return false;
    set(d, i, <i32>g);
    set(d, i + 1, <i32>b);
    return true;
  }

  /** fc1 [D,F] then fc2 [F,D]; returns fc1's stored width (fc2's in ldOut[0]), or -1. */
  private ffn(d: usize, i1: i32, i2: i32, prefix: string, Dm: i32, F: i32, ldOut: i32[]): i32 {
    const ld: i32[] = [0];
    const fc1 = this.get(prefix + ".fc1.w", [Dm, F], ld); if (fc1 == 0) return -1;
    const ldF = ld[0];
    const fc2 = this.get(prefix + ".fc2.w", [F, Dm], ld); if (fc2 == 0) return -1;
    ldOut[0] = ld[0];
    const b1 = this.get(prefix + ".fc1.b", [F], ld); if (b1 == 0) return -1;
    const b2 = this.get(prefix + ".fc2.b", [Dm], ld); if (b2 == 0) return -1;
    set(d, i1, <i32>fc1); set(d, i1 + 1, <i32>b1);
    set(d, i2, <i32>fc2); set(d, i2 + 1, <i32>b2);
    return ldF;
  }

  // ---- sessions ---------------------------------------------------------------------------------

  private maxF(enc: bool): f64 {
    const xs = enc ? this.arch.encF : this.arch.decF;
    let f = 0;
    for (let i = 0; i < xs.length; i++) f = max(f, xs[i]);
    return <f64>f;
  }

  /** An upper bound of a session's bytes (one sentence of S tokens, B rows, Tm positions), in f64:
   *  checked before the kernels' own u32 sizes are asked for. */
  private sessionBytes(S: i32, B: i32, Tm: i32, T: i32): f64 {
    const a = this.arch, s = <f64>S, b = <f64>B, tm = <f64>Tm, t = <f64>T, Q = <f64>a.Q, De = <f64>a.De, Dd = <f64>a.Dd, V = <f64>this.m.V;
    const enc = <f64>a.Le * s * De + 2 * s * De + 4 * s * Q + s * this.maxF(true) + s * s;
    const state = <f64>a.Ld * (2 * b * tm * Q + 6 * s * Q) + 64;
    const R = b * t, Tk = Math.max(tm, 3 * s);
    const work = Math.max(2 * R * Dd + 4 * R * Q + R * this.maxF(false) + t * Tk, b * tm * Q);
    // TLSF's largest block is 1 GiB: a session whose state or scratch needs more is refused too
    if (4 * Math.max(Math.max(<f64>a.Le * s * De, state), Math.max(work, b * V)) > MAX_BLOCK) return Infinity;
    return 4 * (enc + state + work + R * Dd + b * V + 4 * b + s) + 64 * 64;
  }

  private checkIds(ids: i32[], what: string): bool {
    const V = this.m.V;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= V) return fail(E_BAD_INPUT, what + "[" + i.toString() + "] = " + ids[i].toString() + " is not a token id (vocabulary " + V.toString() + ")");
    }
    return true;
  }

  /** Encode one sentence and prepare the decoder for `beam` rows and Tm positions. */
  private begin(ar: Arena, src: i32[], beam: i32, Tm: i32): Session {
    const m = this.desc, S = src.length, a = this.arch;
    const tokens = ar.alloc(<usize>S << 2);
    for (let i = 0; i < S; i++) store<i32>(tokens + (<usize>i << 2), src[i]);
    const lens = ar.alloc(4);
    store<i32>(lens, S);
    const enc = ar.alloc(<usize>a.Le * S * a.De << 2);
    const encWork = ar.alloc(encode_scratch_bytes(m, 1, S));
    const t0 = now();
    encode(m, encWork, tokens, lens, 1, S, enc);
    const t1 = now();
    const st = ar.alloc(decoder_state_bytes(m, 1, beam, S, Tm));
    decoder_init(m, st, enc, lens, 1, beam, S, Tm);
    const s = new Session();
    s.encodeNs = t1 - t0;
    s.crossKvNs = now() - t1;
    const B = beam;
    s.st = st;
    s.B = B;
    s.S = S;
    s.Tm = Tm;
    s.work = ar.alloc(max<usize>(decoder_scratch_bytes(m, B, 1, S, Tm), <usize>B * Tm * a.Q << 2));
    s.tokens = ar.alloc(<usize>B << 2);
    s.parents = ar.alloc(<usize>B << 2);
    s.logits = ar.alloc(<usize>B * this.m.V << 2);
    return s;
  }

  private step(s: Session, t: i32, logProbs: bool): void {
    decoder_step(this.desc, s.st, s.work, s.tokens, t, s.logits);
    if (logProbs) log_softmax_rows(s.logits, s.B, this.m.V);
  }

  /**
   * runtime/decode.ts beamSearch for one sentence: src (eos included) -> the best finished
   * hypothesis's tokens (without eos). null with a failure on bad input or too little memory.
   */
  beamSearch(src: i32[], beam: i32, lenpen: f64, maxLenOpt: i32): i32[] | null {
    const V = this.m.V;
    if (beam < 1 || beam > 64) { fail(E_BAD_INPUT, "beam must be in 1..64, got " + beam.toString()); return null; }
    if (2 * beam > V) { fail(E_BAD_INPUT, "beam " + beam.toString() + " too large for a vocabulary of " + V.toString()); return null; }
    if (src.length == 0) { fail(E_BAD_INPUT, "empty source sentence (it needs at least an eos)"); return null; }
    if (src.length > MAX_POSITIONS) { fail(E_BAD_INPUT, "src[0] has " + src.length.toString() + " tokens; at most " + MAX_POSITIONS.toString()); return null; }
    if (!this.checkIds(src, "src[0]")) return null;
    if (!isFinite(lenpen)) { fail(E_BAD_INPUT, "lenpen must be a finite number"); return null; }
    const S = src.length;
    let maxLen = maxLenOpt >= 0 ? maxLenOpt : <i32>Math.round(1.2 * <f64>S + 10);
    maxLen = max(1, min(maxLen, MAX_POSITIONS));
    if (!fits(this.sessionBytes(S, beam, maxLen, 1), "beam search of " + S.toString() + " source tokens, beam " + beam.toString() + ", " + maxLen.toString() + " positions")) return null;
    const ar = new Arena();
    const s = this.begin(ar, src, beam, maxLen);
    const B = beam;
    const scores = new StaticArray<f64>(B);
    let hist: i32[][] = [];
    for (let b = 0; b < B; b++) { hist.push([]); store<i32>(s.tokens + (<usize>b << 2), EOS); }
    const finTokens: i32[][] = [];
    const finScore: f64[] = [];
    let active = true;
    const k = 2 * beam;
    const cb = new StaticArray<i32>(k), ct = new StaticArray<i32>(k), cs = new StaticArray<f64>(k);
    for (let t = 0; t < maxLen && active; t++) {
      this.step(s, t, true);
      const nextHist: i32[][] = [];
      for (let b = 0; b < B; b++) nextHist.push(hist[b]);
      const rows = t == 0 ? 1 : beam;
      const nc = topCandidates(s.logits, scores, rows, V, k, t == maxLen - 1, cb, ct, cs);
      let filled = 0;
      for (let r = 0; r < nc; r++) {
        const row = cb[r], tok = ct[r], sc = cs[r];
        if (tok == EOS) {
          if (r < beam && finTokens.length < beam) {
            const len = hist[row].length + 1;
            finTokens.push(hist[row].slice());
            finScore.push(sc / Math.pow(<f64>len, lenpen));
          }
        } else if (filled < beam) {
          const dst = filled++;
          store<i32>(s.parents + (<usize>dst << 2), row);
          const h = hist[row].slice();
          h.push(tok);
          nextHist[dst] = h;
          store<i32>(s.tokens + (<usize>dst << 2), tok);
          scores[dst] = sc;
        }
        if (finTokens.length >= beam) break;
      }
      if (finTokens.length >= beam || filled == 0) {
        active = false;
        for (let j = 0; j < beam; j++) { store<i32>(s.parents + (<usize>j << 2), j); nextHist[j] = hist[j]; store<i32>(s.tokens + (<usize>j << 2), PAD); }
      }
      hist = nextHist;
      if (t + 1 < maxLen && active) decoder_reorder(this.desc, s.st, s.work, s.parents, t);
      if (!active) for (let b = 0; b < B; b++) scores[b] = 0;
    }
    ar.free();
    // the best finished hypothesis (the first of equal scores, as a stable sort keeps it)
    let best = 0;
    for (let i = 1; i < finScore.length; i++) if (finScore[i] > finScore[best]) best = i;
    return finTokens.length > 0 ? finTokens[best] : [];
  }

  /**
   * runtime/decode.ts score for one pair: per-token log-probabilities of tgt (then eos) given src
   * (eos included). null with a failure.
   */
  score(src: i32[], tgt: i32[], out: f32[]): bool {
    const V = this.m.V, Dd = this.arch.Dd;
    if (src.length == 0) return fail(E_BAD_INPUT, "empty source sentence (it needs at least an eos)");
    if (src.length > MAX_POSITIONS) return fail(E_BAD_INPUT, "src[0] has " + src.length.toString() + " tokens; at most " + MAX_POSITIONS.toString());
    const T = tgt.length + 1;
    if (T > MAX_POSITIONS) return fail(E_BAD_INPUT, "the target has " + tgt.length.toString() + " tokens; at most " + (MAX_POSITIONS - 1).toString() + " (with its eos, " + MAX_POSITIONS.toString() + ")");
    if (!this.checkIds(src, "src[0]") || !this.checkIds(tgt, "tgt[0]")) return false;
    const S = src.length;
    if (!fits(this.sessionBytes(S, 1, T, T) + 8 * <f64>T * <f64>V, "scoring " + S.toString() + " source and " + T.toString() + " target tokens")) return false;
    const ar = new Arena();
    const s = this.begin(ar, src, 1, T);
    const prev = ar.alloc(<usize>T << 2), target = ar.alloc(<usize>T << 2);
    store<i32>(prev, EOS);
    for (let t = 0; t < tgt.length; t++) { store<i32>(prev + (<usize>(t + 1) << 2), tgt[t]); store<i32>(target + (<usize>t << 2), tgt[t]); }
    store<i32>(target + (<usize>tgt.length << 2), EOS);
    const work = ar.alloc(decoder_scratch_bytes(this.desc, 1, T, S, T));
    const hidden = ar.alloc(<usize>T * Dd << 2);
    decoder_forward(this.desc, s.st, work, prev, T, hidden);
    const nll = ar.alloc(<usize>T << 2), sm = ar.alloc(<usize>T << 2);
    const chunk = max(1, min(T, <i32>Math.floor(<f64>(64 << 20) / (4 * <f64>V))));
    for (let r0 = 0; r0 < T; r0 += chunk) {
      const n = min(chunk, T - r0);
      const logits = heap.alloc(<usize>n * V << 2);
      output_logits(this.desc, logits, hidden + (<usize>r0 * Dd << 2), n);
      token_nll(nll + (<usize>r0 << 2), sm + (<usize>r0 << 2), logits, target + (<usize>r0 << 2), n, V, PAD);
      heap.free(logits);
    }
    for (let t = 0; t < T; t++) out.push(-load<f32>(nll + (<usize>t << 2)));
    ar.free();
    return true;
  }

  /**
   * runtime/profile.ts's protocol over these weights: `warmup` untimed then `runs` timed runs of
   * one sentence of srcLen tokens encoded and tgtLen decoder steps with `beam` rows; ms of the
   * encoder and the decoder (cross keys/values included), each the trimmed mean.
   */
  profile(runs: i32, warmup: i32, srcLen: i32, tgtLen: i32, beam: i32, trim: f64, out: f64[]): bool {
    if (runs < 1 || runs > 10000) return fail(E_BAD_INPUT, "runs must be in 1..10000, got " + runs.toString());
    if (warmup < 0 || warmup > 1000) return fail(E_BAD_INPUT, "warmup must be in 0..1000, got " + warmup.toString());
    if (srcLen < 1 || srcLen > MAX_POSITIONS) return fail(E_BAD_INPUT, "src-len must be in 1..1024, got " + srcLen.toString());
    if (tgtLen < 1 || tgtLen > MAX_POSITIONS) return fail(E_BAD_INPUT, "tgt-len must be in 1..1024, got " + tgtLen.toString());
    if (beam < 1 || beam > 64) return fail(E_BAD_INPUT, "beam must be in 1..64, got " + beam.toString());
    if (!(trim >= 0 && trim <= 0.45)) return fail(E_BAD_INPUT, "trim must be in 0..0.45, got " + trim.toString());
    const V = this.m.V;
    if (V < 5) return fail(E_BAD_INPUT, "the vocabulary of " + V.toString() + " tokens is too small to draw tokens from");
    if (!fits(this.sessionBytes(srcLen, beam, tgtLen, 1), "profiling")) return false;
    let seed: u32 = 7919;
    const src: i32[] = [];
    for (let i = 0; i < srcLen; i++) { seed = seed * 1103515245 + 12345; src.push(4 + <i32>(seed % <u32>(V - 4))); }
    const enc: f64[] = [], dec: f64[] = [];
    for (let r = 0; r < warmup + runs; r++) {
      const ar = new Arena();
      const s = this.begin(ar, src, beam, tgtLen);
      const t0 = now();
      for (let b = 0; b < beam; b++) store<i32>(s.tokens + (<usize>b << 2), EOS);
      for (let t = 0; t < tgtLen; t++) {
        this.step(s, t, false);
        for (let b = 0; b < beam; b++) { seed = seed * 1103515245 + 12345; store<i32>(s.tokens + (<usize>b << 2), 4 + <i32>(seed % <u32>(V - 4))); }
      }
      const steps = now() - t0;
      ar.free();
      if (r >= warmup) {
        enc.push(<f64>s.encodeNs / 1e6);
        dec.push(<f64>(s.crossKvNs + steps) / 1e6);
      }
    }
    const e = trimmedMean(enc, trim), d = trimmedMean(dec, trim);
    out.push(e);
    out.push(d);
    out.push(e + d);
    return true;
  }
}

class Session {
  st: usize = 0;
  work: usize = 0;
  tokens: usize = 0;
  parents: usize = 0;
  logits: usize = 0;
  B: i32 = 0;
  S: i32 = 0;
  Tm: i32 = 0;
  encodeNs: u64 = 0;
  crossKvNs: u64 = 0;
}

// @ts-ignore: decorator
@inline function set(d: usize, i: i32, v: i32): void { store<i32>(d + (<usize>i << 2), v); }

/** runtime/profile.ts trimmedMean. */
function trimmedMean(xs: f64[], trim: f64): f64 {
  const s = xs.slice();
  s.sort((a: f64, b: f64): i32 => (a < b ? -1 : a > b ? 1 : 0));
  const k = <i32>Math.floor(<f64>s.length * trim);
  let sum: f64 = 0;
  for (let i = k; i < s.length - k; i++) sum += s[i];
  return sum / <f64>(s.length - 2 * k);
}

/**
 * runtime/decode.ts topCandidates for one sentence's `rows` rows of log-probs lp [rows, V]: the k
 * best (scores[row] + lp[row, v]) into (cb, ct, cs), best first; with `forceEos` only eos.
 * Returns how many.
 */
function topCandidates(lp: usize, scores: StaticArray<f64>, rows: i32, V: i32, k: i32, forceEos: bool,
  cb: StaticArray<i32>, ct: StaticArray<i32>, cs: StaticArray<f64>): i32 {
  let n = 0;
  if (forceEos) {
    // stable insertion sort by score, descending
    for (let j = 0; j < rows; j++) {
      const x = scores[j] + <f64>load<f32>(lp + ((<usize>j * V + EOS) << 2));
      let i = n++;
      while (i > 0 && cs[i - 1] < x) { cb[i] = cb[i - 1]; ct[i] = ct[i - 1]; cs[i] = cs[i - 1]; i--; }
      cb[i] = j; ct[i] = EOS; cs[i] = x;
    }
    return n;
  }
  let worst: f64 = -Infinity;
  for (let j = 0; j < rows; j++) {
    const off = lp + (<usize>j * V << 2), sc = scores[j];
    for (let v = 0; v < V; v++) {
      if (v == PAD || v == BOS) continue;
      const x = sc + <f64>load<f32>(off + (<usize>v << 2));
      if (n == k && x <= worst) continue;
      let i = n < k ? n : k - 1;
      if (n < k) n++;
      while (i > 0 && cs[i - 1] < x) { cb[i] = cb[i - 1]; ct[i] = ct[i - 1]; cs[i] = cs[i - 1]; i--; }
      cb[i] = j; ct[i] = v; cs[i] = x;
      worst = cs[n - 1];
    }
  }
  return n;
}
