/**
 * The `.hatm` model file (docs/runtime.md, "Model file"): one SuperTransformer or compact
 * SubTransformer, its tensors and what is needed to run it.
 *
 * ```
 * 0      4  magic "HATM"
 * 4      4  u32 LE format version (1: f32 tensors only; 2: quantized tensors too)
 * 8      4  u32 LE header byte length H
 * 12     H  header: UTF-8 JSON (ModelHeader)
 * ..        zero padding to a multiple of 64 -> dataOffset
 * ..        tensor data, each tensor at a 64-byte aligned offset relative to dataOffset:
 *             f32 LE values, or (version 2, the entry's `quant`, runtime/quant.ts):
 *             kmeans  f32 codebook[2^bits], packed indices[packedBytes]
 *             linear  f32 scales[C], u8 zeroPoints[C], packed indices[packedBytes]  (C = shape[axis])
 *             packed: row-major, 8 bits one a byte; 4 bits two a byte, the even element low
 * end-8  4  u32 LE CRC-32 (IEEE) of every byte before it
 * end-4  4  magic "MTAH"
 * ```
 *
 * A model without quantized tensors is written as version 1, so every reader since version 1 loads it.
 *
 * `decodeModel` checks everything it can before any tensor is used, each failure a
 * `ModelFormatError` with a `code` and a message that says what was found and what was expected.
 * `checkTensorsFor` then checks the tensors against the architecture to run. Bytes in, bytes out:
 * reading and writing the files is runtime/model-files.ts (Node).
 */
import { crc32 } from "./crc32.js";
import type { Arch, Space } from "./types.js";
import { archTensorShapes, formatShape, shapeSize, type Tensor, type TensorMap } from "./weights.js";
import { InputError } from "./errors.js";
import { SPACE_LIMITS } from "./arch.js";
import { dequantize, isQuantized, packedBytes, QUANT_BITS, type QuantBits, type QuantizedTensor } from "./quant.js";

/** Magic at byte 0. */
export const MODEL_MAGIC = "HATM";
/** Magic in the last 4 bytes: a file cut short (or with junk appended) loses it. */
export const MODEL_TRAILER = "MTAH";
/** The newest format version, written when a model holds quantized tensors (else version 1). */
export const MODEL_FORMAT_VERSION = 2;
/** The format versions this code reads. */
export const SUPPORTED_VERSIONS: readonly number[] = [1, 2];
/** Alignment of dataOffset and of every tensor inside the data, in bytes. */
export const DATA_ALIGN = 64;
/** magic + version + header length. */
const PREAMBLE = 12;
/** CRC + trailer magic. */
const TRAILER = 8;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** What went wrong with a model file. */
export type ModelFormatErrorCode =
  | "truncated" // shorter than its own header says (or than any model)
  | "bad-magic" // does not start with "HATM": not a hat-edge model
  | "bad-version" // a format version this code does not read
  | "bad-header" // header is not UTF-8 JSON, or a field is missing or of the wrong type
  | "bad-length" // longer than its header says (junk appended)
  | "bad-trailer" // does not end with "MTAH"
  | "checksum" // CRC-32 mismatch: damaged after it was written
  | "tensor-bounds" // a tensor misaligned, outside the data, or overlapping another
  | "tensor-duplicate" // two tensors with one name
  | "tensor-shape" // a shape not of positive integers, or smaller than the architecture needs
  | "tensor-missing" // a tensor the architecture needs is absent
  | "tensor-quant" // a quantized tensor's codebook, scales, zero points or packed indices do not fit its shape and bits
  | "arch-mismatch"; // vocabulary or position tables do not fit the architecture

/** A model file that cannot be used, with a machine-readable `code`. */
export class ModelFormatError extends InputError {
  readonly code: ModelFormatErrorCode;
  constructor(code: ModelFormatErrorCode, message: string) {
    super(message);
    this.name = "ModelFormatError";
    this.code = code;
  }
}

/** How a quantized tensor is stored (format version 2): the sizes of its parts, checked on load. */
export type TensorQuant =
  | { method: "kmeans"; bits: QuantBits; /** codebook entries: 2^bits */ codebook: number; packedBytes: number }
  | { method: "linear"; bits: QuantBits; /** the channel axis */ axis: 0 | 1; packedBytes: number };

/** One tensor's entry in the header: `offset` in bytes from dataOffset, a multiple of 64. */
export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  /** Absent: f32 values. */
  quant?: TensorQuant;
}

/** The header JSON of a `.hatm` file. */
export interface ModelHeader {
  kind: "supertransformer" | "subtransformer";
  /** The design space: always for a supertransformer; for a subtransformer, the one it came from. */
  space?: Space;
  /** The SubTransformer (kind "subtransformer"). */
  arch?: Arch;
  /** Width of the sinusoid tables (the SuperTransformer's embed dims); sub-models use front entries. */
  positionDims: { encoder: number; decoder: number };
  vocab: { size: number; pad: number; bos: number; eos: number; unk: number; tokens?: string[] };
  tokenizer?: unknown;
  /** Byte offset of the tensor data: 12 + H rounded up to 64. */
  dataOffset: number;
  /** Bytes of tensor data (alignment gaps included); the file is dataOffset + dataBytes + 8 bytes. */
  dataBytes: number;
  /** In file order. */
  tensors: TensorEntry[];
  meta?: Record<string, unknown>;
}

/** What the caller of encodeModel provides; the layout fields are computed. */
export type ModelHeaderInput = Omit<ModelHeader, "dataOffset" | "dataBytes" | "tensors">;

/** A decoded model. */
export interface DecodedModel {
  header: ModelHeader;
  /**
   * Views onto `bytes` where aligned (writing to them changes `bytes`), copies otherwise; a
   * quantized tensor dequantized to f32 (its stored form in `quantized`).
   */
  tensors: TensorMap;
  /** The quantized tensors as stored (codebooks, scales: copies; packed indices: views onto `bytes`). */
  quantized: Map<string, QuantizedTensor>;
  dataOffset: number;
  bytes: Uint8Array;
}

const align = (n: number) => Math.ceil(n / DATA_ALIGN) * DATA_ALIGN;

function writeAscii(out: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1;
}

// ---- encode ---------------------------------------------------------------------------------

/** The header entry's `quant` of a quantized tensor; throws a RangeError if its parts do not fit its shape. */
function quantEntry(name: string, q: QuantizedTensor): TensorQuant {
  const n = shapeSize(q.shape), what = `tensor ${name} of shape ${formatShape(q.shape)} (${q.method}, ${q.bits} bits)`;
  if (q.packed.length !== packedBytes(n, q.bits)) throw new RangeError(`${what}: ${q.packed.length} packed bytes, not ${packedBytes(n, q.bits)}`);
  if (q.method === "kmeans") {
    if (q.codebook.length !== 2 ** q.bits) throw new RangeError(`${what}: codebook of ${q.codebook.length} entries, not ${2 ** q.bits}`);
    return { method: "kmeans", bits: q.bits, codebook: q.codebook.length, packedBytes: q.packed.length };
  }
  const C = q.shape[q.axis];
  if (q.shape.length !== 2 || q.scales.length !== C || q.zeroPoints.length !== C) throw new RangeError(`${what}: needs ${C} scales and zero points (axis ${q.axis})`);
  return { method: "linear", bits: q.bits, axis: q.axis, packedBytes: q.packed.length };
}

/** Bytes a tensor of `shape` stored as `quant` (or f32) takes in the data region. */
function storedBytes(shape: readonly number[], quant?: TensorQuant): number {
  if (!quant) return 4 * shapeSize(shape);
  return quant.method === "kmeans" ? 4 * quant.codebook + quant.packedBytes : 5 * shape[quant.axis] + quant.packedBytes;
}

/**
 * Serialise a model. Tensors are written in the map's (insertion) order, each 64-byte aligned;
 * quantized ones (runtime/quant.ts) as codebook or scales and packed indices, which makes the file
 * version 2 (else version 1). Throws a RangeError if a tensor's data length differs from its shape's size.
 */
export function encodeModel(h: ModelHeaderInput, tensors: ReadonlyMap<string, Tensor | QuantizedTensor>): Uint8Array {
  // Tensor layout first: it does not depend on where the data starts.
  const entries: TensorEntry[] = [];
  let end = 0, version = 1;
  for (const [name, t] of tensors) {
    if (!t.shape.every(isPositiveInt)) throw new RangeError(`tensor ${name}: shape ${formatShape(t.shape)} must be positive integers`);
    const offset = align(end);
    if (isQuantized(t)) {
      const quant = quantEntry(name, t);
      entries.push({ name, shape: [...t.shape], offset, quant });
      end = offset + storedBytes(t.shape, quant);
      version = 2;
      continue;
    }
    if (t.data.length !== shapeSize(t.shape)) {
      throw new RangeError(`tensor ${name} of shape ${formatShape(t.shape)} holds ${t.data.length} values, not ${shapeSize(t.shape)}`);
    }
    entries.push({ name, shape: [...t.shape], offset });
    end = offset + 4 * t.data.length;
  }
  const dataBytes = end;

  // dataOffset is inside the header it follows: iterate to the fixed point. The header length
  // never decreases as dataOffset grows, so the sequence is monotone and stops within a few steps.
  const enc = new TextEncoder();
  let dataOffset = 0;
  let json: Uint8Array;
  for (;;) {
    json = enc.encode(JSON.stringify({ ...h, dataOffset, dataBytes, tensors: entries }));
    const next = align(PREAMBLE + json.length);
    if (next === dataOffset) break;
    dataOffset = next;
  }

  const total = dataOffset + dataBytes + TRAILER;
  const out = new Uint8Array(total); // zero-filled: padding and alignment gaps are zeros
  const view = new DataView(out.buffer);
  writeAscii(out, 0, MODEL_MAGIC);
  view.setUint32(4, version, true);
  view.setUint32(8, json.length, true);
  out.set(json, PREAMBLE);
  const putF32 = (at: number, a: Float32Array) => {
    for (let i = 0; i < a.length; i++) view.setFloat32(at + 4 * i, a[i], true);
  };
  let k = 0;
  for (const t of tensors.values()) {
    const at = dataOffset + entries[k++].offset;
    if (isQuantized(t)) {
      const head = t.method === "kmeans" ? t.codebook : t.scales;
      putF32(at, head);
      if (t.method === "linear") out.set(t.zeroPoints, at + 4 * head.length);
      out.set(t.packed, at + (t.method === "kmeans" ? 4 : 5) * head.length);
    } else if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    else for (let i = 0; i < t.data.length; i++) view.setFloat32(at + 4 * i, t.data[i], true);
  }
  view.setUint32(total - 8, crc32(out.subarray(0, total - 8)), true);
  writeAscii(out, total - 4, MODEL_TRAILER);
  return out;
}

// ---- decode ---------------------------------------------------------------------------------

/** `0x7b 0x22 0x6b 0x69 ("{"ki")`: bytes as an error message shows them. */
function showBytes(b: Uint8Array): string {
  const hex = Array.from(b, (x) => `0x${x.toString(16).padStart(2, "0")}`).join(" ");
  const printable = b.length > 0 && b.every((x) => x >= 0x20 && x < 0x7f);
  return printable ? `${hex} ("${String.fromCharCode(...b)}")` : hex;
}

function badHeader(msg: string): never {
  throw new ModelFormatError("bad-header", `bad model header: ${msg}`);
}

const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
const isObject = (v: unknown): v is Record<string, unknown> => typeOf(v) === "object";

function needObject(v: unknown, field: string): Record<string, unknown> {
  if (!isObject(v)) badHeader(`field ${field} must be an object, got ${typeOf(v)}`);
  return v;
}

function needInt(o: Record<string, unknown>, key: string, path: string, min: number): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    badHeader(`field ${path}${key} must be an integer >= ${min}, got ${JSON.stringify(v) ?? "nothing"}`);
  }
  return v;
}

function needIntList(o: Record<string, unknown>, key: string, path: string): void {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isInteger(x))) {
    badHeader(`field ${path}${key} must be a list of integers, got ${JSON.stringify(v) ?? "nothing"}`);
  }
}

const SPACE_LISTS = [
  "encoderEmbedChoices", "decoderEmbedChoices", "encoderFfnChoices", "decoderFfnChoices",
  "encoderLayerChoices", "decoderLayerChoices", "encoderHeadChoices", "decoderSelfHeadChoices",
  "decoderCrossHeadChoices", "endeLayerChoices",
] as const satisfies readonly (keyof Space)[];
const ARCH_INTS = ["encoderEmbedDim", "decoderEmbedDim", "encoderLayers", "decoderLayers", "qkvDim"] as const satisfies readonly (keyof Arch)[];
const ARCH_LISTS = [
  "encoderFfnDims", "encoderHeads", "decoderFfnDims", "decoderSelfHeads", "decoderCrossHeads", "decoderEndeLayers",
] as const satisfies readonly (keyof Arch)[];

/** Structure and types of the header; the meaning of space/arch is runtime/arch.ts's to check. */
function validateHeader(raw: unknown, headerEnd: number, version: number): ModelHeader {
  const h = needObject(raw, "(header)");
  if (h.kind !== "supertransformer" && h.kind !== "subtransformer") {
    badHeader(`field kind must be "supertransformer" or "subtransformer", got ${JSON.stringify(h.kind) ?? "nothing"}`);
  }
  if (h.space !== undefined || h.kind === "supertransformer") {
    const s = needObject(h.space, "space");
    for (const k of SPACE_LISTS) needIntList(s, k, "space.");
    needInt(s, "qkvDim", "space.", 1);
  }
  if (h.arch !== undefined || h.kind === "subtransformer") {
    const a = needObject(h.arch, "arch");
    for (const k of ARCH_INTS) needInt(a, k, "arch.", 1);
    for (const k of ARCH_LISTS) needIntList(a, k, "arch.");
  }
  const pos = needObject(h.positionDims, "positionDims");
  needInt(pos, "encoder", "positionDims.", 1);
  needInt(pos, "decoder", "positionDims.", 1);
  const vocab = needObject(h.vocab, "vocab");
  const size = needInt(vocab, "size", "vocab.", 1);
  for (const k of ["pad", "bos", "eos", "unk"]) {
    if (needInt(vocab, k, "vocab.", 0) >= size) badHeader(`field vocab.${k} = ${vocab[k]} is outside the vocabulary of ${size}`);
  }
  if (vocab.tokens !== undefined) {
    const t = vocab.tokens;
    if (!Array.isArray(t) || !t.every((x) => typeof x === "string")) badHeader("field vocab.tokens must be a list of strings");
    if (t.length !== size) badHeader(`field vocab.tokens has ${t.length} entries but vocab.size is ${size}`);
  }
  if (h.meta !== undefined) needObject(h.meta, "meta");
  const dataOffset = needInt(h, "dataOffset", "", 0);
  if (dataOffset % DATA_ALIGN !== 0 || dataOffset < headerEnd) {
    badHeader(`field dataOffset = ${dataOffset} must be a multiple of ${DATA_ALIGN} at or after the header's end (${headerEnd})`);
  }
  needInt(h, "dataBytes", "", 0);
  if (!Array.isArray(h.tensors)) badHeader(`field tensors must be a list, got ${typeOf(h.tensors)}`);
  h.tensors.forEach((e: unknown, i: number) => {
    const t = needObject(e, `tensors[${i}]`);
    if (typeof t.name !== "string" || t.name === "") badHeader(`field tensors[${i}].name must be a non-empty string`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => typeof d === "number")) {
      badHeader(`field tensors[${i}].shape (${t.name}) must be a list of numbers`);
    }
    if (typeof t.offset !== "number") badHeader(`field tensors[${i}].offset (${t.name}) must be a number`);
    if (t.quant !== undefined) validateQuant(t.quant, `tensors[${i}].quant (${t.name})`, version);
  });
  return h as unknown as ModelHeader;
}

/** The types of an entry's `quant` (its sizes against the shape: checkQuant). */
function validateQuant(v: unknown, field: string, version: number): void {
  if (version < 2) badHeader(`field ${field}: quantized tensors need format version 2, the file says version ${version}`);
  const q = needObject(v, field);
  if (q.method !== "kmeans" && q.method !== "linear") badHeader(`field ${field}.method must be "kmeans" or "linear", got ${JSON.stringify(q.method) ?? "nothing"}`);
  if (!QUANT_BITS.includes(q.bits as QuantBits)) badHeader(`field ${field}.bits must be one of ${QUANT_BITS.join(", ")}, got ${JSON.stringify(q.bits) ?? "nothing"}`);
  needInt(q, "packedBytes", `${field}.`, 0);
  if (q.method === "kmeans") needInt(q, "codebook", `${field}.`, 1);
  else if (q.axis !== 0 && q.axis !== 1) badHeader(`field ${field}.axis must be 0 or 1, got ${JSON.stringify(q.axis) ?? "nothing"}`);
}

/** A quantized entry's sizes against its shape and bits. */
function checkQuant(e: TensorEntry & { quant: TensorQuant }): void {
  const q = e.quant, n = shapeSize(e.shape), what = `tensor ${e.name} of shape ${formatShape(e.shape)} (${q.method}, ${q.bits} bits)`;
  if (q.method === "kmeans" && q.codebook !== 2 ** q.bits) {
    throw new ModelFormatError("tensor-quant", `${what} has a codebook of ${q.codebook} entries: ${q.bits} bits need ${2 ** q.bits}`);
  }
  if (q.method === "linear" && e.shape.length !== 2) {
    throw new ModelFormatError("tensor-quant", `${what}: linear quantization is of 2-D tensors, one scale per output channel`);
  }
  if (q.packedBytes !== packedBytes(n, q.bits)) {
    throw new ModelFormatError("tensor-quant", `${what} has ${q.packedBytes} bytes of packed indices: ${n} elements at ${q.bits} bits take ${packedBytes(n, q.bits)}`);
  }
}

/** Tensor entries against the data region: shapes, names, alignment, bounds, overlaps. */
function checkEntries(entries: TensorEntry[], dataBytes: number): void {
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.shape.length === 0 || !e.shape.every(isPositiveInt)) {
      throw new ModelFormatError("tensor-shape", `tensor ${e.name} has shape ${formatShape(e.shape)}: dims must be positive integers`);
    }
    if (seen.has(e.name)) throw new ModelFormatError("tensor-duplicate", `tensor ${e.name} appears twice in the header`);
    seen.add(e.name);
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset % DATA_ALIGN !== 0) {
      throw new ModelFormatError("tensor-bounds", `tensor ${e.name} is at offset ${e.offset}: offsets must be non-negative multiples of ${DATA_ALIGN}`);
    }
    if (e.quant) checkQuant(e as TensorEntry & { quant: TensorQuant });
    const bytes = storedBytes(e.shape, e.quant);
    if (e.offset + bytes > dataBytes) {
      throw new ModelFormatError(
        "tensor-bounds",
        `tensor ${e.name} of shape ${formatShape(e.shape)} spans bytes ${e.offset}..${e.offset + bytes} but the data holds ${dataBytes} bytes`,
      );
    }
  }
  const sorted = [...entries].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1], prevEnd = p.offset + storedBytes(p.shape, p.quant);
    if (sorted[i].offset < prevEnd) {
      throw new ModelFormatError("tensor-bounds", `tensor ${sorted[i].name} at offset ${sorted[i].offset} overlaps tensor ${p.name} (bytes ${p.offset}..${prevEnd})`);
    }
  }
}

/**
 * The header fields that size an allocation when the model is loaded, bounded by what the file
 * holds: the position tables (`positionDims`, [1026, dim] floats each) by the embedding width
 * limit, by the space's largest embed choice and by the embedding tensor a SuperTransformer
 * carries; the vocabulary by the embedding tensor's rows. (Tensor shapes are bounded by the data
 * itself, checkEntries; the space and arch by runtime/arch.ts's SPACE_LIMITS when they are validated.)
 */
function checkSizingFields(h: ModelHeader): void {
  const embed = h.tensors.find((t) => t.name === "embed.tokens");
  if (embed && embed.shape.length === 2 && embed.shape[0] !== h.vocab.size) {
    throw new ModelFormatError("arch-mismatch", `field vocab.size = ${h.vocab.size} but tensor embed.tokens has ${embed.shape[0]} rows (shape ${formatShape(embed.shape)})`);
  }
  for (const side of ["encoder", "decoder"] as const) {
    const v = h.positionDims[side], field = `field positionDims.${side} = ${v}`;
    if (v > SPACE_LIMITS.embedDim) badHeader(`${field} is above the maximum embedding width ${SPACE_LIMITS.embedDim}`);
    const choices = h.space?.[side === "encoder" ? "encoderEmbedChoices" : "decoderEmbedChoices"];
    if (choices && choices.length > 0 && v > Math.max(...choices)) {
      badHeader(`${field} is wider than the space's largest ${side} embedding ${Math.max(...choices)}`);
    }
    if (h.kind === "supertransformer" && embed && embed.shape.length === 2 && v > embed.shape[1]) {
      badHeader(`${field} is wider than the embedding tensor embed.tokens ${formatShape(embed.shape)}`);
    }
  }
}

/**
 * Parse and check a `.hatm` file, in this order: size, magic, version, header length, header
 * JSON and field types, file size against the header, trailer magic, CRC-32, tensor entries.
 * Throws ModelFormatError; nothing is returned from a file that fails any check.
 */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const n = bytes.length;
  const minSize = PREAMBLE + TRAILER;
  // Magic first on whatever bytes there are, so a short foreign file is not called "truncated".
  const head = bytes.subarray(0, Math.min(4, n));
  if (!head.every((b, i) => b === MODEL_MAGIC.charCodeAt(i))) {
    throw new ModelFormatError(
      "bad-magic",
      `not a hat-edge model: the file starts with ${showBytes(head)}, a .hatm model starts with "${MODEL_MAGIC}"`,
    );
  }
  if (n < PREAMBLE) {
    throw new ModelFormatError("truncated", `file is truncated: ${n} bytes, a model needs at least ${minSize} (preamble and trailer)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (!SUPPORTED_VERSIONS.includes(version)) {
    const hint = version > MODEL_FORMAT_VERSION ? " (written by a newer hat-edge? upgrade to read it)" : "";
    throw new ModelFormatError("bad-version", `model format version ${version} is not supported: this hat-edge reads version ${SUPPORTED_VERSIONS.join(", ")}${hint}`);
  }
  const H = view.getUint32(8, true);
  if (PREAMBLE + H + TRAILER > n) {
    throw new ModelFormatError(
      "truncated",
      `file is truncated: ${n} bytes, but its ${H}-byte header alone needs ${PREAMBLE + H + TRAILER} with preamble and trailer`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(PREAMBLE, PREAMBLE + H)));
  } catch (e) {
    badHeader(`not UTF-8 JSON (${(e as Error).message})`);
  }
  const header = validateHeader(raw, PREAMBLE + H, version);
  const { dataOffset, dataBytes } = header;
  const expected = dataOffset + dataBytes + TRAILER;
  if (n < expected) {
    throw new ModelFormatError(
      "truncated",
      `file is truncated: expected ${expected} bytes (data at ${dataOffset}, ${dataBytes} bytes, then ${TRAILER} of trailer), got ${n}`,
    );
  }
  if (n > expected) {
    throw new ModelFormatError("bad-length", `file has ${n} bytes but its header describes ${expected}: ${n - expected} unexpected bytes at the end`);
  }
  const tail = bytes.subarray(n - 4);
  if (!tail.every((b, i) => b === MODEL_TRAILER.charCodeAt(i))) {
    throw new ModelFormatError(
      "bad-trailer",
      `file does not end with "${MODEL_TRAILER}" but ${showBytes(tail)}: it is corrupt or was not completely written`,
    );
  }
  const stored = view.getUint32(n - 8, true), actual = crc32(bytes.subarray(0, n - 8));
  if (stored !== actual) {
    throw new ModelFormatError(
      "checksum",
      `corrupt: checksum mismatch (stored 0x${stored.toString(16).padStart(8, "0")}, computed 0x${actual.toString(16).padStart(8, "0")}): the file was damaged after it was written`,
    );
  }
  checkEntries(header.tensors, dataBytes);
  checkSizingFields(header);

  const tensors: TensorMap = new Map();
  const quantized = new Map<string, QuantizedTensor>();
  for (const e of header.tensors) {
    if (e.quant) {
      const q = readQuantized(bytes, view, dataOffset + e.offset, e as TensorEntry & { quant: TensorQuant });
      quantized.set(e.name, q);
      tensors.set(e.name, dequantize(q));
      continue;
    }
    const size = shapeSize(e.shape), at = dataOffset + e.offset;
    let data: Float32Array;
    if (LITTLE_ENDIAN && (bytes.byteOffset + at) % 4 === 0) {
      data = new Float32Array(bytes.buffer, bytes.byteOffset + at, size);
    } else {
      data = new Float32Array(size);
      if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(at, at + 4 * size));
      else for (let i = 0; i < size; i++) data[i] = view.getFloat32(at + 4 * i, true);
    }
    tensors.set(e.name, { shape: [...e.shape], data });
  }
  return { header, tensors, quantized, dataOffset, bytes };
}

/**
 * A quantized tensor's parts at byte `at` (sizes already checked against the data by checkEntries),
 * refused if they lie: a codebook entry or scale not finite (or a scale <= 0), a zero point outside
 * [0, 2^bits), or a 4-bit odd count whose unused last nibble is not zero. (With exactly 2^bits
 * codebook entries, checkQuant, every packed index is in range.)
 */
function readQuantized(bytes: Uint8Array, view: DataView, at: number, e: TensorEntry & { quant: TensorQuant }): QuantizedTensor {
  const q = e.quant, n = shapeSize(e.shape), what = `tensor ${e.name} of shape ${formatShape(e.shape)} (${q.method}, ${q.bits} bits)`;
  const f32 = (from: number, count: number) => {
    const a = new Float32Array(count);
    for (let i = 0; i < count; i++) a[i] = view.getFloat32(from + 4 * i, true);
    return a;
  };
  const bad = (msg: string): never => { throw new ModelFormatError("tensor-quant", `${what}: ${msg}`); };
  let head: number;
  let out: QuantizedTensor;
  if (q.method === "kmeans") {
    const codebook = f32(at, q.codebook);
    const i = codebook.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) bad(`codebook entry ${i} is ${codebook[i]}, not a finite number`);
    head = 4 * q.codebook;
    out = { method: "kmeans", bits: q.bits, shape: [...e.shape], codebook, packed: bytes.subarray(at + head, at + head + q.packedBytes) };
  } else {
    const C = e.shape[q.axis], scales = f32(at, C), zeroPoints = bytes.slice(at + 4 * C, at + 5 * C);
    const i = scales.findIndex((x) => !(Number.isFinite(x) && x > 0));
    if (i >= 0) bad(`scale ${i} of ${C} (axis ${q.axis}) is ${scales[i]}, not a finite number > 0`);
    const z = zeroPoints.findIndex((x) => x >= 2 ** q.bits);
    if (z >= 0) bad(`zero point ${z} of ${C} is ${zeroPoints[z]}, outside [0, ${2 ** q.bits - 1}]`);
    head = 5 * C;
    out = { method: "linear", bits: q.bits, shape: [...e.shape], axis: q.axis, scales, zeroPoints, packed: bytes.subarray(at + head, at + head + q.packedBytes) };
  }
  if (q.bits === 4 && n % 2 === 1 && out.packed[out.packed.length - 1] >> 4 !== 0) {
    bad(`the unused high nibble of the last packed byte is ${out.packed[out.packed.length - 1] >> 4}, not 0: the packed indices do not hold ${n} elements`);
  }
  return out;
}

// ---- against an architecture ----------------------------------------------------------------

/**
 * Check that a decoded model can run `arch`: the vocabulary size matches, the position tables are
 * wide enough, and every tensor `arch` needs is present with a shape at least the need in every
 * dim (front slices). Throws ModelFormatError naming the tensor and both shapes.
 */
export function checkTensorsFor(header: ModelHeader, tensors: TensorMap, arch: Arch, vocabSize: number): void {
  if (header.vocab.size !== vocabSize) {
    throw new ModelFormatError("arch-mismatch", `the model's vocabulary has ${header.vocab.size} tokens, expected ${vocabSize}`);
  }
  const { encoder, decoder } = header.positionDims;
  if (encoder < arch.encoderEmbedDim || decoder < arch.decoderEmbedDim) {
    throw new ModelFormatError(
      "arch-mismatch",
      `the model's position tables are [${encoder}, ${decoder}] wide (encoder, decoder) but the architecture needs at least [${arch.encoderEmbedDim}, ${arch.decoderEmbedDim}]`,
    );
  }
  for (const [name, need] of archTensorShapes(arch, vocabSize)) {
    const t = tensors.get(name);
    if (!t) {
      throw new ModelFormatError(
        "tensor-missing",
        `tensor ${name} is missing from the model but the architecture needs it with shape at least ${formatShape(need)}`,
      );
    }
    if (t.shape.length !== need.length || !t.shape.every((s, i) => s >= need[i])) {
      throw new ModelFormatError(
        "tensor-shape",
        `tensor ${name} has shape ${formatShape(t.shape)} but the architecture needs at least ${formatShape(need)}`,
      );
    }
  }
}
