/**
 * Model files in use: load a `.hatm` (SuperTransformer or compact SubTransformer), check it
 * against the architecture to run before any wasm call, run SubTransformers on it, export a
 * compact SubTransformer, and create a SuperTransformer with random weights.
 *
 * Host-neutral: model bytes and a wasm instance in (runtime/wasm.ts). Reading and writing files,
 * and the Node default instance, are runtime/model-files.ts.
 */
import { archInSpace, superDims, validateArch, validateSpace } from "./arch.js";
import { archKey } from "./arch-features.js";
import { largestArch } from "./arch-sample.js";
import { checkTensorsFor, decodeModel, encodeModel, type DecodedModel, type ModelHeader, type ModelHeaderInput } from "./format.js";
import type { Space, ValidArch } from "./types.js";
import { SPECIALS } from "./types.js";
import type { HatWasm } from "./wasm.js";
import { WasmSubTransformer, WasmWeights } from "./wasm-model.js";
import type { Quant } from "./int8.js";

/** How a model file is run. */
export interface LoadOptions {
  /** Products: "f32" (default) or "int8" (linear 8-bit matrices: a `--method linear --bits 8`
   *  file's own; any other quantized linearly at load; docs/runtime.md, "int8 products"); or a
   *  quantized file's form, "linear8", "kmeans8", "kmeans4" (the file's f32 matrices quantized so
   *  at load, its quantized ones run as stored; f32 products: runtime/wasm-model.ts WeightsOptions).
   *  Default: the file's own form (runtime/quant.ts quantOfFile): a k-means file runs on its packed
   *  indices, anything else f32. */
  quant?: Quant;
}
import { quantizeTensors, quantOfFile, type QuantizeOptions, type QuantizeSummary } from "./quant.js";
import { paramCount, randomTensors, sliceSubTensors, superTensorShapes, type TensorMap, archTensorShapes } from "./weights.js";

/** A decoded model file uploaded into a wasm instance. */
export class HatModel {
  readonly header: ModelHeader;
  readonly file: DecodedModel;
  readonly weights: WasmWeights;
  /** A compact SubTransformer's own architecture, validated on load (against its space, if it carries one). */
  readonly arch?: ValidArch;
  /** The architecture run when none is named: the model's own, else its space's largest (the SuperTransformer). */
  readonly defaultArch: ValidArch;
  private readonly subnets = new Map<string, WasmSubTransformer>();

  private constructor(file: DecodedModel, wasm: HatWasm, o: LoadOptions = {}) {
    this.file = file;
    this.header = file.header;
    if (file.header.kind === "subtransformer" && !file.header.arch) throw new Error("a subtransformer model must carry its arch");
    if (file.header.kind === "supertransformer" && !file.header.space) throw new Error("a supertransformer model must carry its space");
    // validate the header's space and arch, and check the default architecture against the
    // tensors, before anything is copied into wasm memory
    const h = file.header;
    const space = h.space ? validateSpace(h.space) : undefined;
    this.arch = h.arch ? validateArch(h.arch, space) : undefined;
    this.defaultArch = this.arch ?? largestArch(space!);
    checkTensorsFor(h, file.tensors, this.defaultArch, h.vocab.size);
    this.weights = new WasmWeights(wasm, { tensors: file.tensors, vocabSize: file.header.vocab.size, positionDims: file.header.positionDims }, undefined, { quant: o.quant ?? quantOfFile(h.tensors), quantized: file.quantized });
  }

  /** Decode and check `bytes`, then upload them into `wasm`; errors are ModelFormatError with a code. */
  static fromBytes(bytes: Uint8Array, wasm: HatWasm, o: LoadOptions = {}): HatModel {
    return new HatModel(decodeModel(bytes), wasm, o);
  }

  /** A model file already decoded (decodeModel, readModelFile): checked and uploaded, not decoded again. */
  static fromDecoded(file: DecodedModel, wasm: HatWasm, o: LoadOptions = {}): HatModel {
    return new HatModel(file, wasm, o);
  }

  get vocabSize(): number {
    return this.header.vocab.size;
  }

  /** Parameters stored in the file. */
  get params(): number {
    return paramCount(this.file.tensors);
  }

  /**
   * A SubTransformer over this model's weights: `arch` (checked to be of the model's space and
   * against its tensors), or the model's own architecture for a compact model.
   */
  subnet(arch?: ValidArch): WasmSubTransformer {
    const a = arch ?? this.arch;
    if (!a) throw new Error("this is a SuperTransformer: say which SubTransformer to run (an arch)");
    const checked = arch && this.header.space ? archInSpace(arch, this.header.space) : a;
    const key = archKey(checked);
    let s = this.subnets.get(key);
    if (!s) {
      checkTensorsFor(this.header, this.file.tensors, checked, this.vocabSize);
      s = new WasmSubTransformer(this.weights, checked);
      this.subnets.set(key, s);
    }
    return s;
  }
}

/** What a model file says besides its tensors; `arch` makes it a compact SubTransformer. */
export type TrainedHeader = Omit<ModelHeaderInput, "kind">;

/**
 * Model bytes from SuperTransformer-shaped tensors (trained, inherited or random): the
 * SuperTransformer itself, or with `header.arch` the compact SubTransformer (only its slices).
 */
export function encodeTrained(header: TrainedHeader, tensors: TensorMap): Uint8Array {
  return header.arch
    ? encodeModel({ kind: "subtransformer", ...header }, sliceSubTensors(tensors, header.arch, header.vocab.size))
    : encodeModel({ kind: "supertransformer", ...header }, tensors);
}

/** The bytes of a compact SubTransformer cut from a SuperTransformer file (only its slices). */
export function exportSubTransformer(superFile: DecodedModel, arch: ValidArch): Uint8Array {
  const h = superFile.header;
  const a = h.space ? archInSpace(arch, h.space) : arch;
  checkTensorsFor(h, superFile.tensors, a, h.vocab.size);
  return encodeTrained({
    arch: a, space: h.space, positionDims: h.positionDims, vocab: h.vocab, tokenizer: h.tokenizer,
    meta: { ...h.meta, exportedFrom: h.kind, params: paramCount(archTensorShapes(a, h.vocab.size)), exportedAt: new Date().toISOString() },
  }, superFile.tensors);
}

/** A SuperTransformer of `space` with seeded random weights (for profiling and tests). */
export function randomSuperTransformer(space: Space, vocabSize: number, seed = 1, meta: Record<string, unknown> = {}): Uint8Array {
  const d = superDims(space);
  const tensors = randomTensors(superTensorShapes(space, vocabSize), seed);
  return encodeTrained({
    space, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim },
    vocab: { size: vocabSize, ...SPECIALS }, meta: { weights: "random", seed, ...meta },
  }, tensors);
}

/** What {@link quantizeModel} made: the file's bytes and how it was quantized. */
export interface QuantizedModel extends QuantizeSummary {
  bytes: Uint8Array;
  /** Bytes of its tensors as f32 (4 per parameter): what an f32 file holds besides its header. */
  f32Bytes: number;
}

/**
 * The model `file` with every weight matrix (2-D tensor) quantized (runtime/quant.ts), biases and
 * layer norms kept f32; the header otherwise unchanged (meta notes the quantization). A model
 * already quantized is quantized again from its dequantized values.
 */
export function quantizeModel(file: DecodedModel, o: QuantizeOptions): QuantizedModel {
  const { dataOffset: _o, dataBytes: _b, tensors: _t, ...h } = file.header;
  const { tensors, summary } = quantizeTensors(file.tensors, o);
  const meta = { ...h.meta, quantized: { method: summary.method, bits: summary.bits, embedBits: summary.embedBits, relRmse: summary.relRmse, at: new Date().toISOString() } };
  return { ...summary, bytes: encodeModel({ ...h, meta }, tensors), f32Bytes: 4 * summary.params };
}
