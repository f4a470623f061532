/**
 * A SubTransformer running in the wasm runtime.
 *
 * `WasmWeights` uploads a model's tensors once (a SuperTransformer or a compact SubTransformer);
 * `WasmSubTransformer` is one architecture over those weights: only a descriptor of pointers
 * and leading dimensions (front slices, no copy), so a search can score thousands of
 * architectures on one upload. The descriptor's field offsets are assembly/layout.ts, the table
 * assembly/model.ts reads them from.
 */
import {
  A_KB, A_KW, A_OB, A_OW, A_QB, A_QW, A_VB, A_VW,
  D_CROSS, D_F, D_FC1, D_FC2, D_HC, D_HS, D_K, D_LDD, D_LDF, D_LN1, D_LN2, D_LN3, D_SELF,
  E_ATTN, E_F, E_FC1, E_FC2, E_H, E_LDD, E_LDF, E_LN1, E_LN2,
  M_DD, M_DE, M_EMB, M_EMBKM, M_EMBQ, M_LD, M_LDEMB, M_LDPOSD, M_LDPOSE, M_LE, M_MAXPOS, M_POSD, M_POSE, M_Q, M_QUANT, M_V,
} from "../assembly/layout.js";
import type { ValidArch } from "./types.js";
import { SPECIALS } from "./types.js";
import { checkWasmFits, HatWasm } from "./wasm.js";
import { InputError } from "./errors.js";
import { packQ8, q8Bytes, q8Source, QUANTS, type Quant, type Q8Source } from "./int8.js";
import { channelAxis, kmeansQuantize, quantForm, tensorOfForm, tensorsOfForm, type KmeansTensor, type QuantizedTensor } from "./quant.js";
import { kmBytes, KM_MAX_EMBED_DIM, packKm } from "./kmeans.js";
import type { Tensor, TensorMap } from "./weights.js";

/** What the runtime needs from a model file. */
export interface ModelWeights {
  tensors: TensorMap;
  vocabSize: number;
  /** The SuperTransformer's embed dims: sinusoid tables are built at these and sliced. */
  positionDims: { encoder: number; decoder: number };
}

/** fairseq's default max_source_positions / max_target_positions. */
export const MAX_POSITIONS = 1024;

/** An attention block's tensors and their pointers' offsets in the block (assembly/layout.ts A_*). */
const ATTN_PARTS = [["q.w", A_QW], ["q.b", A_QB], ["k.w", A_KW], ["k.b", A_KB], ["v.w", A_VW], ["v.b", A_VB], ["o.w", A_OW], ["o.b", A_OB]] as const;

/** fairseq's sinusoidal table [n, dim]: half sin, half cos (computed in f64). */
export function sinusoidTable(n: number, dim: number): Float32Array {
  const half = dim >> 1;
  const out = new Float32Array(n * dim);
  const step = Math.log(10000) / (half - 1);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * Math.exp(-i * step);
      out[p * dim + i] = Math.sin(a);
      out[p * dim + half + i] = Math.cos(a);
    }
  }
  return out;
}

/** n bytes rounded up to the 64-byte alignment of HatWasm.alloc. */
const al = (n: number) => Math.ceil(n / 64) * 64;

/**
 * Bytes WasmWeights places in wasm memory for these tensors (each 64-byte aligned) and the
 * sinusoid tables of `rows` positions: computed from shapes alone, before anything is allocated.
 */
export function weightsWasmBytes(tensors: Iterable<{ shape: readonly number[] } | readonly number[]>, rows: number, positionDims: { encoder: number; decoder: number }): number {
  let bytes = 0;
  for (const t of tensors) {
    const shape = "shape" in t ? t.shape : t;
    bytes += al(4 * shape.reduce((a, b) => a * b, 1));
  }
  bytes += al(4 * rows * positionDims.encoder);
  if (positionDims.decoder !== positionDims.encoder) bytes += al(4 * rows * positionDims.decoder);
  return bytes;
}

/**
 * Bytes an int8 upload (WasmWeights with quant "int8") places in wasm memory: 1-D tensors and the
 * embedding (the input lookup) as f32, every matrix packed at its stored shape (an upper bound of
 * the architecture's slices), the position tables. From shapes alone, before anything is allocated.
 */
export function int8WasmBytes(tensors: Iterable<[string, { shape: readonly number[] }]>, rows: number, positionDims: { encoder: number; decoder: number }): number {
  let bytes = weightsWasmBytes([], rows, positionDims);
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length !== 2) { bytes += al(4 * n); continue; }
    const [R, C] = t.shape;
    if (name === "embed.tokens") bytes += al(4 * n) + al(q8Bytes(C, R));
    else bytes += al(q8Bytes(R, C));
  }
  return bytes;
}

/**
 * The k-means form of every matrix of an upload at quant kmeans8 or kmeans4, or undefined when it
 * does not run as k-means products: another quant, or a matrix (other than the embedding) the
 * file stores in another form. A matrix stored as k-means keeps its own centroids and bits; one
 * stored in f32 is quantized at the quant's bits (as `hat quantize` would). The embedding is
 * k-means when stored so or in f32 (and its dim fits the lookup), else left out (f32).
 */
export function kmeansForms(tensors: ReadonlyMap<string, Tensor>, quant: Quant, quantized?: ReadonlyMap<string, QuantizedTensor>): Map<string, KmeansTensor> | undefined {
  const f = quantForm(quant);
  if (!f || f.method !== "kmeans") return undefined;
  // a matrix of another stored form first, before any k-means is computed (seconds for a WMT embedding)
  for (const [name, t] of tensors) {
    if (t.shape.length === 2 && name !== "embed.tokens" && quantized?.get(name) && quantized.get(name)!.method !== "kmeans") return undefined;
  }
  const out = new Map<string, KmeansTensor>();
  for (const [name, t] of tensors) {
    if (t.shape.length !== 2) continue;
    const stored = quantized?.get(name);
    const k = stored ? (stored.method === "kmeans" ? stored : undefined) : kmeansQuantize(t, { bits: f.bits });
    if (name === "embed.tokens") { if (k && t.shape[1] <= KM_MAX_EMBED_DIM) out.set(name, k); continue; }
    if (!k) return undefined;
    out.set(name, k);
  }
  return out;
}

/** Bytes a k-means upload places in wasm memory: the packed matrices, the rest f32, the position tables. */
export function kmWasmBytes(tensors: ReadonlyMap<string, { shape: readonly number[] }>, km: ReadonlyMap<string, KmeansTensor>, rows: number, positionDims: { encoder: number; decoder: number }): number {
  let bytes = weightsWasmBytes([], rows, positionDims);
  for (const [name, t] of tensors) {
    const k = km.get(name);
    bytes += al(k ? kmBytes(t.shape[0], t.shape[1], k.bits) : 4 * t.shape.reduce((a, b) => a * b, 1));
  }
  return bytes;
}

/** How WasmWeights runs the products. */
export interface WeightsOptions {
  /**
   * "f32" (default): every tensor uploaded as f32. "int8": the matrices kept as linear 8-bit
   * (a linear file's own indices and scales; any other matrix quantized linearly at 8 bits,
   * channels as `hat quantize --method linear` takes them), packed for the int8 kernels when an
   * architecture first uses them (docs/runtime.md, "int8 products"). "linear8", "kmeans8",
   * "kmeans4": a quantized file's form; the matrices the file stores in f32 are quantized so at
   * upload, those it stores quantized run as stored. kmeans8 and kmeans4 run on the packed
   * indices (the k-means products, assembly/kmeans.ts: 4 or 8 bits a weight in memory, the same
   * logits as f32 products on the dequantized matrices) when every matrix is k-means (the
   * embedding may be of any form); otherwise, and for linear8, f32 products on the dequantized
   * matrices (runtime/quant.ts tensorsOfForm).
   */
  quant?: Quant;
  /** The tensors are already of the form `quant` (runtime/profile.ts quantizes them a step at a time, passing the k-means ones in `quantized`): not quantized again. */
  formed?: boolean;
  /** The file's quantized forms (DecodedModel.quantized): a linear tensor's indices are kept. */
  quantized?: ReadonlyMap<string, QuantizedTensor>;
}

export class ModelShapeError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = "ModelShapeError";
  }
}

interface Placed {
  ptr: number;
  shape: number[];
}

/** A model's tensors, copied once into a wasm instance. */
export class WasmWeights {
  readonly wasm: HatWasm;
  readonly vocabSize: number;
  readonly maxPositions: number;
  private readonly placed = new Map<string, Placed>();
  readonly posEnc: Placed;
  readonly posDec: Placed;
  /** "int8": the matrices run as int8 products. */
  readonly quant: Quant;
  /** The matrices run as k-means products on their packed indices (kmeans8, kmeans4). */
  readonly kmeans: boolean;
  /** k-means: the packed matrices (the embedding among them when it is k-means). */
  private readonly kmNames = new Set<string>();
  /** int8: each matrix's f32 tensor and stored form, its 8-bit source once made, its packed slices. */
  private readonly q8 = new Map<string, { t: Tensor; stored?: QuantizedTensor; src?: Q8Source; packed: Map<string, number> }>();

  constructor(wasm: HatWasm, w: ModelWeights, maxPositions = MAX_POSITIONS, o: WeightsOptions = {}) {
    this.wasm = wasm;
    this.vocabSize = w.vocabSize;
    this.maxPositions = maxPositions;
    this.quant = o.quant ?? "f32";
    if (!QUANTS.includes(this.quant)) throw new InputError(`quant must be one of ${QUANTS.join(", ")}, got ${String(o.quant)}`);
    const rows = maxPositions + 2; // positions start at padding_idx + 1 = 2
    const int8 = this.quant === "int8";
    const km = kmeansForms(w.tensors, this.quant, o.quantized);
    this.kmeans = km !== undefined;
    if (km) {
      checkWasmFits(kmWasmBytes(w.tensors, km, rows, w.positionDims), "the model's weights and position tables", wasm);
      for (const [name, t] of w.tensors) {
        const k = km.get(name);
        if (k) this.kmNames.add(name);
        // the rest f32: 1-D tensors, and an embedding of another form (as that form runs)
        const ptr = k ? wasm.putBytes(packKm(k)) : wasm.putF32(o.formed || o.quantized?.has(name) ? t.data : tensorOfForm(name, t, this.quant).data);
        this.placed.set(name, { ptr, shape: t.shape });
      }
    } else checkWasmFits(int8 ? int8WasmBytes(w.tensors, rows, w.positionDims) : weightsWasmBytes(w.tensors.values(), rows, w.positionDims), "the model's weights and position tables", wasm);
    const tensors = km ? new Map<string, Tensor>() : o.formed ? w.tensors : tensorsOfForm(w.tensors, this.quant, o.quantized);
    for (const [name, t] of tensors) {
      const matrix = int8 && t.shape.length === 2;
      if (matrix) this.q8.set(name, { t, stored: o.quantized?.get(name), packed: new Map() });
      // an int8 matrix lives packed (q8Ptr); the embedding is also the f32 input lookup
      const f32 = !matrix || name === "embed.tokens";
      this.placed.set(name, { ptr: f32 ? wasm.putF32(t.data) : 0, shape: t.shape });
    }
    this.posEnc = { ptr: wasm.putF32(sinusoidTable(rows, w.positionDims.encoder)), shape: [rows, w.positionDims.encoder] };
    this.posDec = w.positionDims.decoder === w.positionDims.encoder
      ? this.posEnc
      : { ptr: wasm.putF32(sinusoidTable(rows, w.positionDims.decoder)), shape: [rows, w.positionDims.decoder] };
  }

  /** k-means: whether `name` is placed as a packed k-means matrix. */
  isKmeans(name: string): boolean { return this.kmNames.has(name); }

  /** The tensor `name`, checked to hold at least `need` (front slice). */
  get(name: string, need: number[]): Placed {
    const t = this.placed.get(name);
    if (!t) throw new ModelShapeError(`tensor ${name} is missing from the model`);
    const ok = t.shape.length === need.length && t.shape.every((s, i) => s >= need[i]);
    if (!ok) throw new ModelShapeError(`tensor ${name} has shape [${t.shape}] but the architecture needs at least [${need}]`);
    return t;
  }

  /**
   * int8: the packed K x N product of matrix `name` (its front slice; the embedding read
   * transposed, K = D, N = V), packed into wasm memory on first use. Check with get() first.
   */
  q8Ptr(name: string, K: number, N: number): number {
    const e = this.q8.get(name);
    if (!e) throw new ModelShapeError(`tensor ${name} is not an int8 matrix of this upload`);
    const key = `${K}x${N}`;
    let p = e.packed.get(key);
    if (p === undefined) {
      e.src ??= q8Source(e.t, channelAxis(name), e.stored);
      const bytes = packQ8(e.src, K, N, name);
      checkWasmFits(bytes.length, `the int8 matrix ${name}`, this.wasm);
      p = this.wasm.alloc(bytes.length);
      new Uint8Array(this.wasm.x.memory.buffer, p, bytes.length).set(bytes);
      e.packed.set(key, p);
    }
    return p;
  }
}

/** Options for a batch on the decoder side. */
export interface BatchOptions {
  /** Hypotheses per sentence (beam size); the decoder runs Bs·beam rows. */
  beam?: number;
  /** Longest target the decoder will produce (positions 0..maxLen-1). */
  maxLen: number;
}

/** An encoded batch with its decoder state, alive until release(). */
export interface DecoderSession {
  readonly rows: number;
  readonly sentences: number;
  readonly srcLen: number;
  readonly maxLen: number;
  /** Wall time of the encoder and of the cross-attention key/value projections, in ms. */
  readonly timings: { encodeMs: number; crossKvMs: number };
  /** logits [rows, V] for position t given tokens [rows], or log-probabilities when `logProbs`
   *  (a view into wasm memory: copy what you keep before the next call). */
  step(tokens: Int32Array, t: number, logProbs?: boolean): Float32Array;
  /** Row b of the self-attention caches becomes old row parents[b] (positions 0..t). */
  reorder(parents: Int32Array, t: number): void;
  /** Teacher forcing: prev tokens [rows, T] -> final decoder states [rows·T, Dd] pointer. */
  forwardHidden(prev: Int32Array, T: number): number;
  release(): void;
}

/** One architecture over uploaded weights. */
export class WasmSubTransformer {
  readonly arch: ValidArch;
  readonly weights: WasmWeights;
  readonly vocabSize: number;
  private readonly desc: number;

  constructor(weights: WasmWeights, arch: ValidArch) {
    this.arch = arch;
    this.weights = weights;
    this.vocabSize = weights.vocabSize;
    this.desc = this.buildDescriptor();
  }

  private buildDescriptor(): number {
    const a = this.arch, w = this.weights, wasm = w.wasm, Q = a.qkvDim;
    const De = a.encoderEmbedDim, Dd = a.decoderEmbedDim, V = this.vocabSize;
    if (De > w.posEnc.shape[1]) throw new ModelShapeError(`encoder embed dim ${De} exceeds the position table's ${w.posEnc.shape[1]}`);
    if (Dd > w.posDec.shape[1]) throw new ModelShapeError(`decoder embed dim ${Dd} exceeds the position table's ${w.posDec.shape[1]}`);
    const n = wasm.x.model_desc_ints(a.encoderLayers, a.decoderLayers);
    const d = new Int32Array(n);
    const emb = w.get("embed.tokens", [V, Math.max(De, Dd)]);
    d[M_V] = V; d[M_DE] = De; d[M_DD] = Dd; d[M_LE] = a.encoderLayers; d[M_LD] = a.decoderLayers; d[M_Q] = Q;
    d[M_EMB] = emb.ptr; d[M_LDEMB] = emb.shape[1];
    d[M_POSE] = w.posEnc.ptr; d[M_LDPOSE] = w.posEnc.shape[1];
    d[M_POSD] = w.posDec.ptr; d[M_LDPOSD] = w.posDec.shape[1];
    d[M_MAXPOS] = w.maxPositions;
    const int8 = w.quant === "int8";
    /** A matrix's pointer: the f32 tensor's, or its packed int8 K x N product. */
    const mat = (name: string, t: Placed, K: number, N: number) => (int8 ? w.q8Ptr(name, K, N) : t.ptr);
    if (int8) { d[M_QUANT] = 1; d[M_EMBQ] = w.q8Ptr("embed.tokens", Dd, V); }
    if (w.kmeans) {
      d[M_QUANT] = 2;
      if (w.isKmeans("embed.tokens")) { d[M_EMB] = 0; d[M_EMBKM] = emb.ptr; }
    }

    /** q/k/v/o of one attention block: [Din, Q] projections (kvDin for k, v) and [Q, Dout] out. */
    const attn = (base: number, prefix: string, Din: number, kvDin: number, Dout: number): number => {
      const shapes: Record<string, number[]> = {
        "q.w": [Din, Q], "q.b": [Q], "k.w": [kvDin, Q], "k.b": [Q], "v.w": [kvDin, Q], "v.b": [Q], "o.w": [Q, Dout], "o.b": [Dout],
      };
      let ldD = 0;
      ATTN_PARTS.forEach(([part, j]) => {
        const t = w.get(`${prefix}.${part}`, shapes[part]);
        if (part.endsWith(".w") && part !== "o.w" && t.shape[1] !== Q) {
          throw new ModelShapeError(`tensor ${prefix}.${part} has width ${t.shape[1]} but qkv-dim is ${Q}`);
        }
        if (part === "o.w") ldD = t.shape[1];
        d[base + j] = part.endsWith(".w") ? mat(`${prefix}.${part}`, t, shapes[part][0], shapes[part][1]) : t.ptr;
      });
      return ldD;
    };
    const vec = (i: number, name: string, len: number) => { d[i] = w.get(name, [len]).ptr; };
    const pair = (i: number, prefix: string, len: number) => { vec(i, `${prefix}.g`, len); vec(i + 1, `${prefix}.b`, len); };
    /** fc1 [D,F] then fc2 [F,D]; returns the leading dims (stored F of fc1, stored D of fc2). */
    const ffn = (i1: number, i2: number, prefix: string, Dm: number, F: number): [number, number] => {
      const fc1 = w.get(`${prefix}.fc1.w`, [Dm, F]);
      const fc2 = w.get(`${prefix}.fc2.w`, [F, Dm]);
      d[i1] = mat(`${prefix}.fc1.w`, fc1, Dm, F); vec(i1 + 1, `${prefix}.fc1.b`, F);
      d[i2] = mat(`${prefix}.fc2.w`, fc2, F, Dm); vec(i2 + 1, `${prefix}.fc2.b`, Dm);
      return [fc1.shape[1], fc2.shape[1]];
    };

    for (let i = 0; i < a.encoderLayers; i++) {
      const o = wasm.x.enc_layer_offset(i), p = `enc.${i}`, F = a.encoderFfnDims[i];
      d[o + E_H] = a.encoderHeads[i];
      d[o + E_F] = F;
      const ldO = attn(o + E_ATTN, `${p}.self`, De, De, De);
      pair(o + E_LN1, `${p}.self_ln`, De);
      const [ldF, ldD] = ffn(o + E_FC1, o + E_FC2, `${p}.ffn`, De, F);
      pair(o + E_LN2, `${p}.ffn_ln`, De);
      if (ldO !== ldD) throw new ModelShapeError(`${p}: self.o.w and ffn.fc2.w disagree on the stored embed dim (${ldO} vs ${ldD})`);
      d[o + E_LDD] = ldD;
      d[o + E_LDF] = ldF;
    }
    for (let i = 0; i < a.decoderLayers; i++) {
      const o = wasm.x.dec_layer_offset(a.encoderLayers, i), p = `dec.${i}`, F = a.decoderFfnDims[i];
      const k = a.decoderEndeLayers[i];
      d[o + D_HS] = a.decoderSelfHeads[i];
      d[o + D_HC] = a.decoderCrossHeads[i];
      d[o + D_F] = F;
      d[o + D_K] = k;
      const ldS = attn(o + D_SELF, `${p}.self`, Dd, Dd, Dd);
      pair(o + D_LN1, `${p}.self_ln`, Dd);
      const ldC = attn(o + D_CROSS, `${p}.cross`, Dd, De, Dd);
      pair(o + D_LN2, `${p}.cross_ln`, Dd);
      const [ldF, ldD] = ffn(o + D_FC1, o + D_FC2, `${p}.ffn`, Dd, F);
      pair(o + D_LN3, `${p}.ffn_ln`, Dd);
      if (ldS !== ldD || ldC !== ldD) throw new ModelShapeError(`${p}: output projections disagree on the stored embed dim (${ldS}, ${ldC}, ${ldD})`);
      d[o + D_LDD] = ldD;
      d[o + D_LDF] = ldF;
    }
    // heads dividing qkv-dim and 1 <= k <= min(3, encoderLayers): a ValidArch's, not checked again
    return wasm.putI32(d);
  }

  /** Check token ids are in [0, V) and, when `maxLen` is given, sequence lengths. */
  private checkTokens(seqs: ArrayLike<number>[], what: string, maxLen = Infinity): void {
    const V = this.vocabSize;
    seqs.forEach((s, b) => {
      if (s.length > maxLen) throw new RangeError(`${what}[${b}] has ${s.length} tokens; at most ${maxLen}`);
      for (let t = 0; t < s.length; t++) {
        const id = s[t];
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`${what}[${b}][${t}] = ${id} is not a token id (vocabulary ${V})`);
      }
    });
  }

  /**
   * Encode sentences (right-padded with pad) and prepare the decoder: cross-attention keys and
   * values of every layer, self-attention caches for `beam` rows per sentence.
   * Allocates in the arena until release().
   */
  begin(src: ArrayLike<number>[], opts: BatchOptions): DecoderSession {
    const wasm = this.weights.wasm, x = wasm.x, m = this.desc, a = this.arch;
    this.checkTokens(src, "src", this.weights.maxPositions);
    const beam = opts.beam ?? 1;
    const Bs = src.length, S = Math.max(1, ...src.map((s) => s.length)), Tm = opts.maxLen;
    if (Bs < 1) throw new RangeError("empty batch");
    if (src.some((s) => s.length === 0)) throw new RangeError("empty source sentence (it needs at least an eos)");
    if (Tm < 1 || Tm > this.weights.maxPositions) throw new RangeError(`maxLen ${Tm} outside 1..${this.weights.maxPositions}`);
    const mark = wasm.mark();
    return wasm.call("encode", () => {
      const tok = new Int32Array(Bs * S).fill(SPECIALS.pad);
      src.forEach((s, b) => tok.set(Array.from(s), b * S));
      const tokens = wasm.putI32(tok);
      const lens = wasm.putI32(src.map((s) => s.length));
      const enc = wasm.alloc(a.encoderLayers * Bs * S * a.encoderEmbedDim * 4);
      const encWork = wasm.alloc(x.encode_scratch_bytes(m, Bs, S));
      const t0 = performance.now();
      x.encode(m, encWork, tokens, lens, Bs, S, enc);
      const t1 = performance.now();
      const st = wasm.alloc(x.decoder_state_bytes(m, Bs, beam, S, Tm));
      x.decoder_init(m, st, enc, lens, Bs, beam, S, Tm);
      const timings = { encodeMs: t1 - t0, crossKvMs: performance.now() - t1 };
      const B = Bs * beam, V = this.vocabSize, Q = a.qkvDim;
      const stepWork = wasm.alloc(Math.max(x.decoder_scratch_bytes(m, B, 1, S, Tm), B * Tm * Q * 4));
      const stepTokens = wasm.alloc(B * 4);
      const parents = wasm.alloc(B * 4);
      const logits = wasm.alloc(B * V * 4);
      let released = false;
      const live = () => { if (released) throw new Error("decoder session already released"); };
      return {
        rows: B, sentences: Bs, srcLen: S, maxLen: Tm, timings,
        step: (tokens: Int32Array, t: number, logProbs = false) => {
          live();
          if (tokens.length !== B) throw new RangeError(`step needs ${B} tokens, got ${tokens.length}`);
          if (t < 0 || t >= Tm) throw new RangeError(`step position ${t} outside 0..${Tm - 1}`);
          this.checkTokens([tokens], "tokens");
          wasm.i32(stepTokens, B).set(tokens);
          wasm.call("decoder_step", () => x.decoder_step(m, st, stepWork, stepTokens, t, logits));
          if (logProbs) x.log_softmax_rows(logits, B, V);
          return wasm.f32(logits, B * V);
        },
        reorder: (par: Int32Array, t: number) => {
          live();
          for (const p of par) if (!(p >= 0 && p < B)) throw new RangeError(`reorder parent ${p} outside 0..${B - 1}`);
          wasm.i32(parents, B).set(par);
          wasm.call("decoder_reorder", () => x.decoder_reorder(m, st, stepWork, parents, t));
        },
        forwardHidden: (prev: Int32Array, T: number) => {
          live();
          if (T < 1 || T > Tm || prev.length !== B * T) throw new RangeError(`forward needs ${B}x${T} tokens with T <= ${Tm}`);
          this.checkTokens([prev], "prev");
          const tokP = wasm.putI32(prev);
          const work = wasm.alloc(x.decoder_scratch_bytes(m, B, T, S, Tm));
          const hidden = wasm.alloc(B * T * a.decoderEmbedDim * 4);
          wasm.call("decoder_forward", () => x.decoder_forward(m, st, work, tokP, T, hidden));
          return hidden;
        },
        release: () => {
          if (!released) wasm.release(mark);
          released = true;
        },
      };
    });
  }

  /** logits [R, V] of hidden rows [R, Dd] at pointer `hidden` (allocates; caller releases). */
  logitsOf(hidden: number, R: number): number {
    const wasm = this.weights.wasm;
    const out = wasm.alloc(R * this.vocabSize * 4);
    wasm.call("output_logits", () => wasm.x.output_logits(this.desc, out, hidden, R));
    return out;
  }
}
