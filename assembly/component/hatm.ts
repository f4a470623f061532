// The `.hatm` model file (runtime/format.ts has the byte diagram; docs/runtime.md, "Model file")
// read inside the component: the same checks in the same order as decodeModel (size, magic,
// version, header length, header JSON and field types, file size, trailer, CRC-32, tensor
// entries, sizing fields), then HatModel's (space and arch valid, the arch's tensors present and
// large enough). Each failure sets `failCode`/`failMessage` (the WIT error-code's index and a
// message naming the field or tensor) and returns null; nothing is used from a file that fails.
//
// f32 tensors are used where they lie in the bytes the host passed in (no copy); quantized ones
// (format version 2: k-means or linear, 4 or 8 bits, runtime/quant.ts) are dequantized to f32
// on load, as the Node host does.

import { JsonParser, JValue, J_ARR, J_NUM, J_OBJ, J_STR, describe, numText } from "./json";
import { Bpe, bpeFromJSON, bpeError } from "./bpe";

// error codes: the WIT enum error-code's cases, in order (wit/hat.wit)
export const E_TRUNCATED = 0;
export const E_BAD_MAGIC = 1;
export const E_BAD_VERSION = 2;
export const E_BAD_HEADER = 3;
export const E_BAD_LENGTH = 4;
export const E_BAD_TRAILER = 5;
export const E_CHECKSUM = 6;
export const E_TENSOR_BOUNDS = 7;
export const E_TENSOR_DUPLICATE = 8;
export const E_TENSOR_SHAPE = 9;
export const E_TENSOR_MISSING = 10;
export const E_TENSOR_QUANT = 11;
export const E_ARCH_MISMATCH = 12;
export const E_BAD_ARCH = 13;
export const E_NO_TOKENIZER = 14;
export const E_BAD_HANDLE = 15;
export const E_BAD_INPUT = 16;
export const E_TOO_LARGE = 17;
export const E_IO = 18;

export let failCode = 0;
export let failMessage = "";

/** Record a failure; returns false so that checks read `if (!ok) return fail(...)`. */
export function fail(code: i32, msg: string): bool {
  failCode = code;
  failMessage = msg;
  return false;
}

const PREAMBLE = 12;
const TRAILER = 8;
const DATA_ALIGN = 64;
/** fairseq's max positions (runtime/wasm-model.ts MAX_POSITIONS); tables have 2 more rows. */
export const MAX_POSITIONS = 1024;
const WASM_MAX_BYTES: f64 = 4294967296;

// runtime/arch.ts SPACE_LIMITS
const LIMIT_EMBED = 4096;
const LIMIT_FFN = 16384;
const LIMIT_QKV = 4096;
const LIMIT_HEADS = 64;
const LIMIT_LAYERS = 24;
const LIMIT_CHOICES = 64;

/**
 * Whether `bytes` more can be allocated in this instance's 4 GiB (counting all memory grown so
 * far as used): a size computed from shapes is checked before anything is allocated.
 */
export function fits(bytes: f64, what: string): bool {
  const used = <f64>memory.size() * 65536;
  if (bytes + used + 16 * 1048576 <= WASM_MAX_BYTES) return true;
  return fail(E_TOO_LARGE, what + " needs " + numText(Math.ceil(bytes / 1048576)) + " MiB of wasm memory beside the " + numText(Math.ceil(used / 1048576)) + " MiB in use, more than the component's 4096 MiB: refused before allocating");
}

/** A block of `bytes` (64-byte aligned start), owned by `owner` until the model is released. */
export function alloc64(bytes: usize, owner: usize[]): usize {
  const raw = heap.alloc(bytes + 64);
  owner.push(raw);
  return (raw + 63) & ~<usize>63;
}

// ---- architectures and spaces ----------------------------------------------------------------

export class Arch {
  De: i32 = 0;
  Dd: i32 = 0;
  Le: i32 = 0;
  Ld: i32 = 0;
  Q: i32 = 0;
  encF: i32[] = [];
  encH: i32[] = [];
  decF: i32[] = [];
  decHS: i32[] = [];
  decHC: i32[] = [];
  decK: i32[] = [];

  toJSON(): string {
    return "{\"encoderEmbedDim\":" + this.De.toString() + ",\"decoderEmbedDim\":" + this.Dd.toString() +
      ",\"encoderLayers\":" + this.Le.toString() + ",\"decoderLayers\":" + this.Ld.toString() +
      ",\"encoderFfnDims\":" + list(this.encF) + ",\"encoderHeads\":" + list(this.encH) +
      ",\"decoderFfnDims\":" + list(this.decF) + ",\"decoderSelfHeads\":" + list(this.decHS) +
      ",\"decoderCrossHeads\":" + list(this.decHC) + ",\"decoderEndeLayers\":" + list(this.decK) +
      ",\"qkvDim\":" + this.Q.toString() + "}";
  }

  /** Parameters, the shared embedding counted once (runtime/weights.ts paramCount of archTensorShapes). */
  params(V: i32): u64 {
    const De = <u64>this.De, Dd = <u64>this.Dd, Q = <u64>this.Q;
    let n: u64 = <u64>V * <u64>max(this.De, this.Dd);
    for (let i = 0; i < this.Le; i++) {
      const F = <u64>this.encF[i];
      n += 3 * (De * Q + Q) + Q * De + De + 2 * De + De * F + F + F * De + De + 2 * De;
    }
    for (let i = 0; i < this.Ld; i++) {
      const F = <u64>this.decF[i];
      n += 3 * (Dd * Q + Q) + Q * Dd + Dd + 2 * Dd;
      n += Dd * Q + Q + 2 * (De * Q + Q) + Q * Dd + Dd + 2 * Dd;
      n += Dd * F + F + F * Dd + Dd + 2 * Dd;
    }
    return n;
  }
}

function list(xs: i32[]): string {
  let s = "[";
  for (let i = 0; i < xs.length; i++) s += (i > 0 ? "," : "") + xs[i].toString();
  return s + "]";
}

export class Space {
  encE: i32[] = [];
  decE: i32[] = [];
  encF: i32[] = [];
  decF: i32[] = [];
  encL: i32[] = [];
  decL: i32[] = [];
  encH: i32[] = [];
  decHS: i32[] = [];
  decHC: i32[] = [];
  ende: i32[] = [];
  Q: i32 = 0;
}

const ARCH_KEYS: string[] = [
  "encoderEmbedDim", "decoderEmbedDim", "encoderLayers", "decoderLayers", "encoderFfnDims", "encoderHeads",
  "decoderFfnDims", "decoderSelfHeads", "decoderCrossHeads", "decoderEndeLayers", "qkvDim",
];
const SPACE_KEYS: string[] = [
  "encoderEmbedChoices", "decoderEmbedChoices", "encoderFfnChoices", "decoderFfnChoices", "encoderLayerChoices",
  "decoderLayerChoices", "encoderHeadChoices", "decoderSelfHeadChoices", "decoderCrossHeadChoices", "endeLayerChoices", "qkvDim",
];

function archFail(field: string, msg: string): bool { return fail(E_BAD_ARCH, field + ": " + msg); }

function rejectUnknown(o: JValue, keys: string[], what: string): bool {
  for (let i = 0; i < o.keys.length; i++) {
    if (!keys.includes(o.keys[i])) return archFail(o.keys[i], "unknown key in " + what);
  }
  return true;
}

/** A positive integer at most `limit` (0: no limit), as runtime/arch-error.ts posInt reads it. */
function posInt(v: JValue | null, field: string, limit: i32): i32 {
  if (v === null || !v.isInt() || v.num < 1) { archFail(field, "must be a positive integer, got " + describe(v)); return 0; }
  if (limit > 0 && v.num > <f64>limit) { archFail(field, numText(v.num) + " is above the maximum " + limit.toString()); return 0; }
  return <i32>v.num;
}

function posIntList(v: JValue | null, field: string, limit: i32, maxLen: i32): i32[] | null {
  if (v === null || v.kind != J_ARR || v.items.length == 0) { archFail(field, "must be a non-empty list of positive integers, got " + describe(v)); return null; }
  if (v.items.length > maxLen) { archFail(field, "has " + v.items.length.toString() + " entries, above the maximum " + maxLen.toString()); return null; }
  const out: i32[] = [];
  for (let i = 0; i < v.items.length; i++) {
    const x = posInt(v.items[i], field + "[" + i.toString() + "]", limit);
    if (x == 0) return null;
    out.push(x);
  }
  return out;
}

/** runtime/arch.ts validateArch (and, with a space, archInSpace). */
export function readArch(o: JValue, space: Space | null): Arch | null {
  if (o.kind != J_OBJ) { archFail("(arch)", "an architecture must be an object, got " + o.kindName()); return null; }
  if (!rejectUnknown(o, ARCH_KEYS, "an architecture")) return null;
  const a = new Arch();
  a.De = posInt(o.get("encoderEmbedDim"), "encoderEmbedDim", LIMIT_EMBED); if (a.De == 0) return null;
  a.Dd = posInt(o.get("decoderEmbedDim"), "decoderEmbedDim", LIMIT_EMBED); if (a.Dd == 0) return null;
  a.Le = posInt(o.get("encoderLayers"), "encoderLayers", LIMIT_LAYERS); if (a.Le == 0) return null;
  a.Ld = posInt(o.get("decoderLayers"), "decoderLayers", LIMIT_LAYERS); if (a.Ld == 0) return null;
  a.Q = posInt(o.get("qkvDim"), "qkvDim", LIMIT_QKV); if (a.Q == 0) return null;
  const encF = posIntList(o.get("encoderFfnDims"), "encoderFfnDims", LIMIT_FFN, LIMIT_LAYERS); if (encF === null) return null;
  const encH = posIntList(o.get("encoderHeads"), "encoderHeads", LIMIT_HEADS, LIMIT_LAYERS); if (encH === null) return null;
  const decF = posIntList(o.get("decoderFfnDims"), "decoderFfnDims", LIMIT_FFN, LIMIT_LAYERS); if (decF === null) return null;
  const decHS = posIntList(o.get("decoderSelfHeads"), "decoderSelfHeads", LIMIT_HEADS, LIMIT_LAYERS); if (decHS === null) return null;
  const decHC = posIntList(o.get("decoderCrossHeads"), "decoderCrossHeads", LIMIT_HEADS, LIMIT_LAYERS); if (decHC === null) return null;
  const decK = posIntList(o.get("decoderEndeLayers"), "decoderEndeLayers", 0, LIMIT_LAYERS); if (decK === null) return null;
  a.encF = encF; a.encH = encH; a.decF = decF; a.decHS = decHS; a.decHC = decHC; a.decK = decK;
  return checkArch(a, space) ? a : null;
}

function lengthIs(xs: i32[], n: i32, field: string, countField: string): bool {
  if (xs.length == n) return true;
  return archFail(field, "has " + xs.length.toString() + " entries, but " + countField + " is " + n.toString());
}

function headsDivide(xs: i32[], Q: i32, field: string): bool {
  for (let i = 0; i < xs.length; i++) {
    if (Q % xs[i] != 0) return archFail(field + "[" + i.toString() + "]", "qkvDim " + Q.toString() + " is not divisible by " + xs[i].toString() + " heads");
  }
  return true;
}

function choice(v: i32, choices: i32[], field: string): bool {
  if (choices.includes(v)) return true;
  return archFail(field, v.toString() + " is not one of the space's choices " + list(choices));
}

function choices(xs: i32[], cs: i32[], field: string): bool {
  for (let i = 0; i < xs.length; i++) if (!choice(xs[i], cs, field + "[" + i.toString() + "]")) return false;
  return true;
}

/** runtime/arch.ts checkArchShape and checkArchInSpace: what keeps every kernel call in bounds. */
function checkArch(a: Arch, s: Space | null): bool {
  if (!lengthIs(a.encF, a.Le, "encoderFfnDims", "encoderLayers") || !lengthIs(a.encH, a.Le, "encoderHeads", "encoderLayers")) return false;
  if (!lengthIs(a.decF, a.Ld, "decoderFfnDims", "decoderLayers") || !lengthIs(a.decHS, a.Ld, "decoderSelfHeads", "decoderLayers")) return false;
  if (!lengthIs(a.decHC, a.Ld, "decoderCrossHeads", "decoderLayers") || !lengthIs(a.decK, a.Ld, "decoderEndeLayers", "decoderLayers")) return false;
  if (!headsDivide(a.encH, a.Q, "encoderHeads") || !headsDivide(a.decHS, a.Q, "decoderSelfHeads") || !headsDivide(a.decHC, a.Q, "decoderCrossHeads")) return false;
  for (let i = 0; i < a.Ld; i++) {
    const k = a.decK[i], f = "decoderEndeLayers[" + i.toString() + "]";
    if (k > 3) return archFail(f, k.toString() + " is not in 1..3 (the number of last encoder layers attended)");
    if (k > a.Le) return archFail(f, "attends the last " + k.toString() + " encoder layers, but encoderLayers is " + a.Le.toString());
  }
  if (s === null) return true;
  if (!choice(a.De, s.encE, "encoderEmbedDim") || !choice(a.Dd, s.decE, "decoderEmbedDim")) return false;
  if (!choice(a.Le, s.encL, "encoderLayers") || !choice(a.Ld, s.decL, "decoderLayers")) return false;
  if (!choices(a.encF, s.encF, "encoderFfnDims") || !choices(a.encH, s.encH, "encoderHeads")) return false;
  if (!choices(a.decF, s.decF, "decoderFfnDims") || !choices(a.decHS, s.decHS, "decoderSelfHeads")) return false;
  if (!choices(a.decHC, s.decHC, "decoderCrossHeads") || !choices(a.decK, s.ende, "decoderEndeLayers")) return false;
  if (a.Q != s.Q) return archFail("qkvDim", a.Q.toString() + " does not equal the space's qkvDim " + s.Q.toString());
  return true;
}

/** runtime/arch.ts validateSpace. */
function readSpace(o: JValue): Space | null {
  if (!rejectUnknown(o, SPACE_KEYS, "a design space")) return null;
  const s = new Space();
  const encE = posIntList(o.get("encoderEmbedChoices"), "encoderEmbedChoices", LIMIT_EMBED, LIMIT_CHOICES); if (encE === null) return null;
  const decE = posIntList(o.get("decoderEmbedChoices"), "decoderEmbedChoices", LIMIT_EMBED, LIMIT_CHOICES); if (decE === null) return null;
  const encF = posIntList(o.get("encoderFfnChoices"), "encoderFfnChoices", LIMIT_FFN, LIMIT_CHOICES); if (encF === null) return null;
  const decF = posIntList(o.get("decoderFfnChoices"), "decoderFfnChoices", LIMIT_FFN, LIMIT_CHOICES); if (decF === null) return null;
  const encL = posIntList(o.get("encoderLayerChoices"), "encoderLayerChoices", LIMIT_LAYERS, LIMIT_CHOICES); if (encL === null) return null;
  const decL = posIntList(o.get("decoderLayerChoices"), "decoderLayerChoices", LIMIT_LAYERS, LIMIT_CHOICES); if (decL === null) return null;
  const encH = posIntList(o.get("encoderHeadChoices"), "encoderHeadChoices", LIMIT_HEADS, LIMIT_CHOICES); if (encH === null) return null;
  const decHS = posIntList(o.get("decoderSelfHeadChoices"), "decoderSelfHeadChoices", LIMIT_HEADS, LIMIT_CHOICES); if (decHS === null) return null;
  const decHC = posIntList(o.get("decoderCrossHeadChoices"), "decoderCrossHeadChoices", LIMIT_HEADS, LIMIT_CHOICES); if (decHC === null) return null;
  const ende = posIntList(o.get("endeLayerChoices"), "endeLayerChoices", 0, LIMIT_CHOICES); if (ende === null) return null;
  s.Q = posInt(o.get("qkvDim"), "qkvDim", LIMIT_QKV); if (s.Q == 0) return null;
  s.encE = encE; s.decE = decE; s.encF = encF; s.decF = decF; s.encL = encL; s.decL = decL;
  s.encH = encH; s.decHS = decHS; s.decHC = decHC; s.ende = ende;
  if (!headsDivide(encH, s.Q, "encoderHeadChoices") || !headsDivide(decHS, s.Q, "decoderSelfHeadChoices") || !headsDivide(decHC, s.Q, "decoderCrossHeadChoices")) return null;
  const fewest = minOf(encL);
  for (let i = 0; i < ende.length; i++) {
    const k = ende[i], f = "endeLayerChoices[" + i.toString() + "]";
    if (k > 3) { archFail(f, k.toString() + " is not in 1..3 (the number of last encoder layers attended)"); return null; }
    if (k > fewest) { archFail(f, k.toString() + " exceeds the smallest encoder layer choice " + fewest.toString()); return null; }
  }
  return s;
}

function maxOf(xs: i32[]): i32 { let m = xs[0]; for (let i = 1; i < xs.length; i++) m = max(m, xs[i]); return m; }
function minOf(xs: i32[]): i32 { let m = xs[0]; for (let i = 1; i < xs.length; i++) m = min(m, xs[i]); return m; }
function rep(n: i32, v: i32): i32[] { const a: i32[] = []; for (let i = 0; i < n; i++) a.push(v); return a; }

/** runtime/arch-sample.ts largestArch: the largest value of every choice. */
function largestArch(s: Space): Arch {
  const a = new Arch();
  a.De = maxOf(s.encE); a.Dd = maxOf(s.decE); a.Le = maxOf(s.encL); a.Ld = maxOf(s.decL); a.Q = s.Q;
  a.encF = rep(a.Le, maxOf(s.encF)); a.encH = rep(a.Le, maxOf(s.encH));
  a.decF = rep(a.Ld, maxOf(s.decF)); a.decHS = rep(a.Ld, maxOf(s.decHS));
  a.decHC = rep(a.Ld, maxOf(s.decHC)); a.decK = rep(a.Ld, maxOf(s.ende));
  return a;
}

// ---- the file ----------------------------------------------------------------------------------

export class Tensor {
  name: string = "";
  shape: i32[] = [];
  offset: f64 = 0;
  /** 0 f32; 1 kmeans; 2 linear */
  method: i32 = 0;
  bits: i32 = 0;
  codebook: i32 = 0;
  axis: i32 = 0;
  packedBytes: f64 = 0;
  size: f64 = 0;
  /** Where its f32 values are (in the file's bytes, or a dequantized copy). */
  ptr: usize = 0;

  storedBytes(): f64 {
    if (this.method == 0) return 4 * this.size;
    if (this.method == 1) return 4 * <f64>this.codebook + this.packedBytes;
    return 5 * <f64>this.shape[this.axis] + this.packedBytes;
  }

  shapeText(): string { return list(this.shape); }
}

export class Model {
  /** The file's bytes (the block cabi_realloc gave the host) and the blocks allocated for it. */
  bytes: usize = 0;
  length: usize = 0;
  blocks: usize[] = [];
  version: i32 = 0;
  kind: string = "";
  space: Space | null = null;
  arch: Arch = new Arch();
  V: i32 = 0;
  posE: i32 = 0;
  posD: i32 = 0;
  tensors: Map<string, Tensor> = new Map<string, Tensor>();
  bpe: Bpe | null = null;
  /** Why `bpe` is null when the header has a tokenizer. */
  bpeError: string = "";
  posEncPtr: usize = 0;
  posDecPtr: usize = 0;

  tensor(name: string): Tensor | null { return this.tensors.has(name) ? this.tensors.get(name) : null; }

  release(): void {
    for (let i = 0; i < this.blocks.length; i++) heap.free(this.blocks[i]);
    this.blocks = [];
    if (this.bytes != 0) heap.free(this.bytes);
    this.bytes = 0;
  }
}

function ascii(p: usize, s: string): bool {
  for (let i = 0; i < s.length; i++) if (<i32>load<u8>(p + <usize>i) != s.charCodeAt(i)) return false;
  return true;
}

function showBytes(p: usize, n: usize): string {
  let hex = "", printable = n > 0;
  for (let i: usize = 0; i < n; i++) {
    const b = load<u8>(p + i);
    const h = (<u32>b).toString(16);
    hex += (i > 0 ? " " : "") + "0x" + (h.length < 2 ? "0" + h : h);
    if (b < 0x20 || b >= 0x7f) printable = false;
  }
  if (!printable) return hex;
  return hex + " (\"" + String.UTF8.decodeUnsafe(p, n) + "\")";
}

let crcTable: StaticArray<u32> | null = null;

function crc32(p: usize, n: usize): u32 {
  let t = crcTable;
  if (t === null) {
    t = new StaticArray<u32>(256);
    for (let b: u32 = 0; b < 256; b++) {
      let c = b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[b] = c;
    }
    crcTable = t;
  }
  let c: u32 = ~0;
  for (let i: usize = 0; i < n; i++) c = unchecked(t[(c ^ <u32>load<u8>(p + i)) & 0xff]) ^ (c >>> 8);
  return ~c;
}

function badHeader(msg: string): bool { return fail(E_BAD_HEADER, "bad model header: " + msg); }

function needObject(v: JValue | null, field: string): bool {
  if (v !== null && v.kind == J_OBJ) return true;
  return badHeader("field " + field + " must be an object, got " + (v === null ? "undefined" : v.kindName()));
}

function needInt(o: JValue, key: string, path: string, min: f64): bool {
  const v = o.get(key);
  if (v !== null && v.isInt() && v.num >= min) return true;
  return badHeader("field " + path + key + " must be an integer >= " + numText(min) + ", got " + describe(v));
}

function needIntList(o: JValue, key: string, path: string): bool {
  const v = o.get(key);
  let ok = v !== null && v.kind == J_ARR;
  if (ok) for (let i = 0; i < v!.items.length; i++) if (!v!.items[i].isInt()) ok = false;
  if (ok) return true;
  return badHeader("field " + path + key + " must be a list of integers, got " + describe(v));
}

function intOf(o: JValue, key: string): f64 { return o.get(key)!.num; }

/** runtime/format.ts validateHeader: structure and types. */
function validateHeader(h: JValue, headerEnd: f64, version: i32): bool {
  if (!needObject(h, "(header)")) return false;
  const kind = h.get("kind");
  if (kind === null || kind.kind != J_STR || (kind.str != "supertransformer" && kind.str != "subtransformer")) {
    return badHeader("field kind must be \"supertransformer\" or \"subtransformer\", got " + describe(kind));
  }
  const space = h.get("space");
  if (space !== null || kind.str == "supertransformer") {
    if (!needObject(space, "space")) return false;
    for (let i = 0; i < SPACE_KEYS.length - 1; i++) if (!needIntList(space!, SPACE_KEYS[i], "space.")) return false;
    if (!needInt(space!, "qkvDim", "space.", 1)) return false;
  }
  const arch = h.get("arch");
  if (arch !== null || kind.str == "subtransformer") {
    if (!needObject(arch, "arch")) return false;
    for (let i = 0; i < ARCH_KEYS.length; i++) {
      const k = ARCH_KEYS[i];
      const isInt = k == "encoderEmbedDim" || k == "decoderEmbedDim" || k == "encoderLayers" || k == "decoderLayers" || k == "qkvDim";
      if (isInt ? !needInt(arch!, k, "arch.", 1) : !needIntList(arch!, k, "arch.")) return false;
    }
  }
  const pos = h.get("positionDims");
  if (!needObject(pos, "positionDims") || !needInt(pos!, "encoder", "positionDims.", 1) || !needInt(pos!, "decoder", "positionDims.", 1)) return false;
  const vocab = h.get("vocab");
  if (!needObject(vocab, "vocab") || !needInt(vocab!, "size", "vocab.", 1)) return false;
  const size = intOf(vocab!, "size");
  const specials = ["pad", "bos", "eos", "unk"];
  for (let i = 0; i < 4; i++) {
    if (!needInt(vocab!, specials[i], "vocab.", 0)) return false;
    if (intOf(vocab!, specials[i]) >= size) return badHeader("field vocab." + specials[i] + " = " + numText(intOf(vocab!, specials[i])) + " is outside the vocabulary of " + numText(size));
  }
  const tokens = vocab!.get("tokens");
  if (tokens !== null) {
    let ok = tokens.kind == J_ARR;
    if (ok) for (let i = 0; i < tokens.items.length; i++) if (tokens.items[i].kind != J_STR) ok = false;
    if (!ok) return badHeader("field vocab.tokens must be a list of strings");
    if (<f64>tokens.items.length != size) return badHeader("field vocab.tokens has " + tokens.items.length.toString() + " entries but vocab.size is " + numText(size));
  }
  const meta = h.get("meta");
  if (meta !== null && !needObject(meta, "meta")) return false;
  if (!needInt(h, "dataOffset", "", 0)) return false;
  const dataOffset = intOf(h, "dataOffset");
  if (dataOffset % DATA_ALIGN != 0 || dataOffset < headerEnd) {
    return badHeader("field dataOffset = " + numText(dataOffset) + " must be a multiple of 64 at or after the header's end (" + numText(headerEnd) + ")");
  }
  if (!needInt(h, "dataBytes", "", 0)) return false;
  const ts = h.get("tensors");
  if (ts === null || ts.kind != J_ARR) return badHeader("field tensors must be a list, got " + (ts === null ? "undefined" : ts.kindName()));
  for (let i = 0; i < ts.items.length; i++) {
    const t = ts.items[i], f = "tensors[" + i.toString() + "]";
    if (!needObject(t, f)) return false;
    const name = t.get("name");
    if (name === null || name.kind != J_STR || name.str.length == 0) return badHeader("field " + f + ".name must be a non-empty string");
    const shape = t.get("shape");
    let ok = shape !== null && shape.kind == J_ARR;
    if (ok) for (let j = 0; j < shape!.items.length; j++) if (shape!.items[j].kind != J_NUM) ok = false;
    if (!ok) return badHeader("field " + f + ".shape (" + name.str + ") must be a list of numbers");
    const offset = t.get("offset");
    if (offset === null || offset.kind != J_NUM) return badHeader("field " + f + ".offset (" + name.str + ") must be a number");
    const quant = t.get("quant");
    if (quant !== null && !validateQuant(quant, f + ".quant (" + name.str + ")", version)) return false;
  }
  return true;
}

function validateQuant(q: JValue, field: string, version: i32): bool {
  if (version < 2) return badHeader("field " + field + ": quantized tensors need format version 2, the file says version " + version.toString());
  if (!needObject(q, field)) return false;
  const m = q.get("method");
  if (m === null || m.kind != J_STR || (m.str != "kmeans" && m.str != "linear")) return badHeader("field " + field + ".method must be \"kmeans\" or \"linear\", got " + describe(m));
  const bits = q.get("bits");
  if (bits === null || bits.kind != J_NUM || (bits.num != 4 && bits.num != 8)) return badHeader("field " + field + ".bits must be one of 4, 8, got " + describe(bits));
  if (!needInt(q, "packedBytes", field + ".", 0)) return false;
  if (m.str == "kmeans") return needInt(q, "codebook", field + ".", 1);
  const axis = q.get("axis");
  if (axis === null || axis.kind != J_NUM || (axis.num != 0 && axis.num != 1)) return badHeader("field " + field + ".axis must be 0 or 1, got " + describe(axis));
  return true;
}

function entryOf(t: JValue): Tensor {
  const e = new Tensor();
  e.name = t.get("name")!.str;
  e.offset = t.get("offset")!.num;
  const shape = t.get("shape")!.items;
  let size: f64 = 1;
  let ok = shape.length > 0;
  for (let j = 0; j < shape.length; j++) {
    const d = shape[j];
    if (!d.isInt() || d.num < 1 || d.num > 2147483647) ok = false;
    else size *= d.num;
    e.shape.push(ok ? <i32>d.num : 0);
  }
  e.size = ok ? size : 0;
  if (!ok) e.shape = []; // refused by checkEntries
  const q = t.get("quant");
  if (q !== null) {
    e.method = q.get("method")!.str == "kmeans" ? 1 : 2;
    e.bits = <i32>q.get("bits")!.num;
    e.packedBytes = q.get("packedBytes")!.num;
    if (e.method == 1) e.codebook = q.get("codebook")!.num > 65536 ? 65537 : <i32>q.get("codebook")!.num;
    else e.axis = <i32>q.get("axis")!.num;
  }
  return e;
}

function shapeOf(t: JValue): string {
  const shape = t.get("shape")!.items;
  let s = "[";
  for (let j = 0; j < shape.length; j++) s += (j > 0 ? ", " : "") + numText(shape[j].num);
  return s + "]";
}

function packedFor(n: f64, bits: i32): f64 { return bits == 8 ? n : Math.ceil(n / 2); }

/** runtime/format.ts checkEntries (with checkQuant). */
function checkEntries(raw: JValue[], es: Tensor[], dataBytes: f64): bool {
  const seen = new Set<string>();
  for (let i = 0; i < es.length; i++) {
    const e = es[i];
    if (e.shape.length == 0) return fail(E_TENSOR_SHAPE, "tensor " + e.name + " has shape " + shapeOf(raw[i]) + ": dims must be positive integers");
    if (seen.has(e.name)) return fail(E_TENSOR_DUPLICATE, "tensor " + e.name + " appears twice in the header");
    seen.add(e.name);
    if (!(isFinite(e.offset) && Math.floor(e.offset) == e.offset && e.offset >= 0 && e.offset % DATA_ALIGN == 0)) {
      return fail(E_TENSOR_BOUNDS, "tensor " + e.name + " is at offset " + numText(e.offset) + ": offsets must be non-negative multiples of 64");
    }
    if (e.method != 0) {
      const what = "tensor " + e.name + " of shape " + e.shapeText() + " (" + (e.method == 1 ? "kmeans" : "linear") + ", " + e.bits.toString() + " bits)";
      if (e.method == 1 && e.codebook != (1 << e.bits)) return fail(E_TENSOR_QUANT, what + " has a codebook of " + e.codebook.toString() + " entries: " + e.bits.toString() + " bits need " + (1 << e.bits).toString());
      if (e.method == 2 && e.shape.length != 2) return fail(E_TENSOR_QUANT, what + ": linear quantization is of 2-D tensors, one scale per output channel");
      if (e.packedBytes != packedFor(e.size, e.bits)) return fail(E_TENSOR_QUANT, what + " has " + numText(e.packedBytes) + " bytes of packed indices: " + numText(e.size) + " elements at " + e.bits.toString() + " bits take " + numText(packedFor(e.size, e.bits)));
    }
    const bytes = e.storedBytes();
    if (e.offset + bytes > dataBytes) {
      return fail(E_TENSOR_BOUNDS, "tensor " + e.name + " of shape " + e.shapeText() + " spans bytes " + numText(e.offset) + ".." + numText(e.offset + bytes) + " but the data holds " + numText(dataBytes) + " bytes");
    }
  }
  const sorted = es.slice();
  sorted.sort((a: Tensor, b: Tensor): i32 => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1], prevEnd = p.offset + p.storedBytes();
    if (sorted[i].offset < prevEnd) {
      return fail(E_TENSOR_BOUNDS, "tensor " + sorted[i].name + " at offset " + numText(sorted[i].offset) + " overlaps tensor " + p.name + " (bytes " + numText(p.offset) + ".." + numText(prevEnd) + ")");
    }
  }
  return true;
}

/** runtime/format.ts checkSizingFields. */
function checkSizingFields(m: Model, spaceJ: JValue | null): bool {
  const embed = m.tensor("embed.tokens");
  if (embed !== null && embed.shape.length == 2 && embed.shape[0] != m.V) {
    return fail(E_ARCH_MISMATCH, "field vocab.size = " + m.V.toString() + " but tensor embed.tokens has " + embed.shape[0].toString() + " rows (shape " + embed.shapeText() + ")");
  }
  for (let side = 0; side < 2; side++) {
    const v = side == 0 ? m.posE : m.posD, name = side == 0 ? "encoder" : "decoder";
    const field = "field positionDims." + name + " = " + v.toString();
    if (v > LIMIT_EMBED) return badHeader(field + " is above the maximum embedding width 4096");
    if (spaceJ !== null) {
      const cs = spaceJ.get(side == 0 ? "encoderEmbedChoices" : "decoderEmbedChoices")!.items;
      if (cs.length > 0) {
        let mx: f64 = -Infinity;
        for (let i = 0; i < cs.length; i++) mx = Math.max(mx, cs[i].num);
        if (<f64>v > mx) return badHeader(field + " is wider than the space's largest " + name + " embedding " + numText(mx));
      }
    }
    if (m.kind == "supertransformer" && embed !== null && embed.shape.length == 2 && v > embed.shape[1]) {
      return badHeader(field + " is wider than the embedding tensor embed.tokens " + embed.shapeText());
    }
  }
  return true;
}

/** Dequantize a checked quantized entry at byte p of the file into a new f32 block. */
function dequantize(m: Model, e: Tensor, p: usize): bool {
  const what = "tensor " + e.name + " of shape " + e.shapeText() + " (" + (e.method == 1 ? "kmeans" : "linear") + ", " + e.bits.toString() + " bits)";
  const n = <usize>e.size;
  let head: usize;
  if (e.method == 1) {
    for (let i = 0; i < e.codebook; i++) {
      const x = load<f32>(p + (<usize>i << 2));
      if (!isFinite(x)) return fail(E_TENSOR_QUANT, what + ": codebook entry " + i.toString() + " is " + x.toString() + ", not a finite number");
    }
    head = <usize>e.codebook << 2;
  } else {
    const C = e.shape[e.axis];
    for (let i = 0; i < C; i++) {
      const x = load<f32>(p + (<usize>i << 2));
      if (!(isFinite(x) && x > 0)) return fail(E_TENSOR_QUANT, what + ": scale " + i.toString() + " of " + C.toString() + " (axis " + e.axis.toString() + ") is " + x.toString() + ", not a finite number > 0");
    }
    for (let i = 0; i < C; i++) {
      const z = <i32>load<u8>(p + (<usize>C << 2) + <usize>i);
      if (z >= (1 << e.bits)) return fail(E_TENSOR_QUANT, what + ": zero point " + i.toString() + " of " + C.toString() + " is " + z.toString() + ", outside [0, " + ((1 << e.bits) - 1).toString() + "]");
    }
    head = <usize>C * 5;
  }
  const packed = p + head;
  if (e.bits == 4 && (n & 1) == 1 && (load<u8>(packed + <usize>e.packedBytes - 1) >> 4) != 0) {
    return fail(E_TENSOR_QUANT, what + ": the unused high nibble of the last packed byte is " + (load<u8>(packed + <usize>e.packedBytes - 1) >> 4).toString() + ", not 0: the packed indices do not hold " + n.toString() + " elements");
  }
  if (<f64>n * 4 > 1073741824 - 256) return fail(E_TOO_LARGE, what + " dequantized takes " + numText(<f64>n * 4) + " bytes, more than the component's largest block (1 GiB)");
  if (!fits(<f64>n * 4, "dequantizing " + what)) return false;
  const out = alloc64(n << 2, m.blocks);
  const cols = e.shape.length == 2 ? <usize>e.shape[1] : n;
  for (let i: usize = 0; i < n; i++) {
    let idx: i32;
    if (e.bits == 8) idx = <i32>load<u8>(packed + i);
    else { const b = <i32>load<u8>(packed + (i >> 1)); idx = (i & 1) == 0 ? b & 15 : b >> 4; }
    let v: f32;
    if (e.method == 1) v = load<f32>(p + (<usize>idx << 2));
    else {
      const ch = e.axis == 0 ? i / cols : i % cols;
      const zp = <i32>load<u8>(p + (<usize>e.shape[e.axis] << 2) + ch);
      v = <f32>(<f64>(idx - zp) * <f64>load<f32>(p + (ch << 2)));
    }
    store<f32>(out + (i << 2), v);
  }
  e.ptr = out;
  return true;
}

/** fairseq's sinusoid table [rows, dim] (runtime/wasm-model.ts sinusoidTable), in a new block. */
function sinusoidTable(m: Model, rows: i32, dim: i32): usize {
  const out = alloc64(<usize>rows * dim << 2, m.blocks);
  const half = dim >> 1;
  const step = Math.log(10000) / <f64>(half - 1);
  memory.fill(out, 0, <usize>rows * dim << 2);
  for (let p = 0; p < rows; p++) {
    for (let i = 0; i < half; i++) {
      const a = <f64>p * Math.exp(-<f64>i * step);
      store<f32>(out + ((<usize>p * dim + i) << 2), <f32>Math.sin(a));
      store<f32>(out + ((<usize>p * dim + half + i) << 2), <f32>Math.cos(a));
    }
  }
  return out;
}

/**
 * Decode and check a model file of `n` bytes at `p` (a heap block that the model owns from now on,
 * freed with it or on failure). Returns null with failCode/failMessage set.
 */
export function loadModel(p: usize, n: usize): Model | null {
  const m = new Model();
  m.bytes = p;
  m.length = n;
  if (!readModel(m, p, n)) { m.release(); return null; }
  return m;
}

function readModel(m: Model, p: usize, n: usize): bool {
  const headN = n < 4 ? n : 4;
  if (!ascii(p, "HATM".substring(0, <i32>headN))) {
    return fail(E_BAD_MAGIC, "not a hat-edge model: the file starts with " + showBytes(p, headN) + ", a .hatm model starts with \"HATM\"");
  }
  if (n < <usize>PREAMBLE) return fail(E_TRUNCATED, "file is truncated: " + n.toString() + " bytes, a model needs at least 20 (preamble and trailer)");
  const version = load<u32>(p + 4);
  if (version != 1 && version != 2) {
    return fail(E_BAD_VERSION, "model format version " + version.toString() + " is not supported: this hat-edge reads version 1, 2" + (version > 2 ? " (written by a newer hat-edge? upgrade to read it)" : ""));
  }
  m.version = <i32>version;
  const H = <u64>load<u32>(p + 8);
  if (<u64>PREAMBLE + H + <u64>TRAILER > <u64>n) {
    return fail(E_TRUNCATED, "file is truncated: " + n.toString() + " bytes, but its " + H.toString() + "-byte header alone needs " + (<u64>PREAMBLE + H + <u64>TRAILER).toString() + " with preamble and trailer");
  }
  const parser = new JsonParser(p + PREAMBLE, <usize>H);
  const h = parser.parse();
  if (h === null) return badHeader("not UTF-8 JSON (" + parser.error + ")");
  if (!validateHeader(h, <f64>(PREAMBLE + <i32>H), m.version)) return false;
  const dataOffset = intOf(h, "dataOffset"), dataBytes = intOf(h, "dataBytes");
  const expected = dataOffset + dataBytes + TRAILER;
  if (<f64>n < expected) return fail(E_TRUNCATED, "file is truncated: expected " + numText(expected) + " bytes (data at " + numText(dataOffset) + ", " + numText(dataBytes) + " bytes, then 8 of trailer), got " + n.toString());
  if (<f64>n > expected) return fail(E_BAD_LENGTH, "file has " + n.toString() + " bytes but its header describes " + numText(expected) + ": " + numText(<f64>n - expected) + " unexpected bytes at the end");
  if (!ascii(p + n - 4, "MTAH")) return fail(E_BAD_TRAILER, "file does not end with \"MTAH\" but " + showBytes(p + n - 4, 4) + ": it is corrupt or was not completely written");
  const stored = load<u32>(p + n - 8), actual = crc32(p, n - 8);
  if (stored != actual) return fail(E_CHECKSUM, "corrupt: checksum mismatch (stored 0x" + hex8(stored) + ", computed 0x" + hex8(actual) + "): the file was damaged after it was written");

  const raw = h.get("tensors")!.items;
  const es: Tensor[] = [];
  for (let i = 0; i < raw.length; i++) es.push(entryOf(raw[i]));
  if (!checkEntries(raw, es, dataBytes)) return false;
  m.kind = h.get("kind")!.str;
  const vocab = h.get("vocab")!;
  m.V = <i32>Math.min(intOf(vocab, "size"), 2147483647);
  const pos = h.get("positionDims")!;
  m.posE = <i32>Math.min(intOf(pos, "encoder"), 2147483647);
  m.posD = <i32>Math.min(intOf(pos, "decoder"), 2147483647);
  for (let i = 0; i < es.length; i++) m.tensors.set(es[i].name, es[i]);
  const spaceJ = h.get("space");
  if (!checkSizingFields(m, spaceJ)) return false;
  // HatModel: the space and the arch valid, the default arch's tensors present
  if (spaceJ !== null) {
    const s = readSpace(spaceJ);
    if (s === null) { failMessage = "the model's space: " + failMessage; return false; }
    m.space = s;
  }
  const archJ = h.get("arch");
  if (archJ !== null) {
    const a = readArch(archJ, m.space);
    if (a === null) { failMessage = "the model's arch: " + failMessage; return false; }
    m.arch = a;
  } else m.arch = largestArch(m.space!);
  if (m.posE < m.arch.De || m.posD < m.arch.Dd) {
    return fail(E_ARCH_MISMATCH, "the model's position tables are [" + m.posE.toString() + ", " + m.posD.toString() + "] wide (encoder, decoder) but the architecture needs at least [" + m.arch.De.toString() + ", " + m.arch.Dd.toString() + "]");
  }
  const tok = h.get("tokenizer");
  if (tok !== null && tok.kind != 0) {
    // as the Node host: a tokenizer that fails Bpe.fromJSON's checks fails the calls that need it, not the load
    const b = bpeFromJSON(tok);
    if (b === null) m.bpeError = "the model's tokenizer is unusable: " + bpeError;
    m.bpe = b;
  }

  // tensors: f32 ones in place, quantized ones dequantized
  const data = p + <usize>dataOffset;
  let need: f64 = 0;
  for (let i = 0; i < es.length; i++) if (es[i].method != 0) need += 4 * es[i].size;
  const rows = MAX_POSITIONS + 2;
  need += 4 * <f64>rows * <f64>(m.posE + m.posD);
  if (!fits(need, "the model's dequantized tensors and position tables")) return false;
  for (let i = 0; i < es.length; i++) {
    const e = es[i], at = data + <usize>e.offset;
    if (e.method == 0) e.ptr = at;
    else if (!dequantize(m, e, at)) return false;
  }
  m.posEncPtr = sinusoidTable(m, rows, m.posE);
  m.posDecPtr = m.posD == m.posE ? m.posEncPtr : sinusoidTable(m, rows, m.posD);
  return true;
}

function hex8(x: u32): string {
  let s = x.toString(16);
  while (s.length < 8) s = "0" + s;
  return s;
}

export { JValue, JsonParser };
