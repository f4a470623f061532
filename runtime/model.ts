/**
 * Model files in use: load a `.hatm` (SuperTransformer or compact SubTransformer), check it
 * against the architecture to run before any wasm call, run SubTransformers on it, export a
 * compact SubTransformer, and create a SuperTransformer with random weights.
 */
import { superDims, validateArch, validateSpace } from "./arch.js";
import { largestArch } from "./arch-sample.js";
import { checkTensorsFor, decodeModel, encodeModel, readModelFile, writeModelFile, type DecodedModel, type ModelHeader } from "./format.js";
import type { Arch, Space } from "./types.js";
import { SPECIALS } from "./types.js";
import { loadWasm, type HatWasm } from "./wasm.js";
import { WasmSubTransformer, WasmWeights } from "./wasm-model.js";
import { paramCount, randomTensors, sliceSubTensors, superTensorShapes } from "./weights.js";

/** A decoded model file uploaded into a wasm instance. */
export class HatModel {
  readonly header: ModelHeader;
  readonly file: DecodedModel;
  readonly weights: WasmWeights;
  private readonly subnets = new Map<string, WasmSubTransformer>();

  private constructor(file: DecodedModel, wasm: HatWasm) {
    this.file = file;
    this.header = file.header;
    if (file.header.kind === "subtransformer" && !file.header.arch) throw new Error("a subtransformer model must carry its arch");
    if (file.header.kind === "supertransformer" && !file.header.space) throw new Error("a supertransformer model must carry its space");
    // check the default architecture before anything is copied into wasm memory
    const h = file.header;
    if (h.arch) checkTensorsFor(h, file.tensors, h.arch, h.vocab.size);
    else if (h.space) checkTensorsFor(h, file.tensors, largestArch(validateSpace(h.space)), h.vocab.size);
    this.weights = new WasmWeights(wasm, { tensors: file.tensors, vocabSize: file.header.vocab.size, positionDims: file.header.positionDims });
  }

  /** Decode and check `bytes`; errors are ModelFormatError with a code. */
  static fromBytes(bytes: Uint8Array, wasm: HatWasm = loadWasm()): HatModel {
    return new HatModel(decodeModel(bytes), wasm);
  }

  static async fromFile(path: string, wasm: HatWasm = loadWasm()): Promise<HatModel> {
    return new HatModel(await readModelFile(path), wasm);
  }

  get vocabSize(): number {
    return this.header.vocab.size;
  }

  /** Parameters stored in the file. */
  get params(): number {
    return paramCount(this.file.tensors);
  }

  /**
   * A SubTransformer over this model's weights: `arch` (validated against the model's space and
   * checked against its tensors), or the model's own architecture for a compact model.
   */
  subnet(arch?: Arch): WasmSubTransformer {
    const a = arch ?? this.header.arch;
    if (!a) throw new Error("this is a SuperTransformer: say which SubTransformer to run (an arch)");
    const checked = this.header.space ? validateArch(a, this.header.space) : validateArch(a);
    const key = JSON.stringify(checked);
    let s = this.subnets.get(key);
    if (!s) {
      checkTensorsFor(this.header, this.file.tensors, checked, this.vocabSize);
      s = new WasmSubTransformer(this.weights, checked);
      this.subnets.set(key, s);
    }
    return s;
  }
}

/** The bytes of a compact SubTransformer cut from a SuperTransformer file (only its slices). */
export function exportSubTransformer(superFile: DecodedModel, arch: Arch): Uint8Array {
  const h = superFile.header;
  const a = h.space ? validateArch(arch, h.space) : validateArch(arch);
  checkTensorsFor(h, superFile.tensors, a, h.vocab.size);
  const tensors = sliceSubTensors(superFile.tensors, a, h.vocab.size);
  return encodeModel({
    kind: "subtransformer", arch: a, space: h.space, positionDims: h.positionDims,
    vocab: h.vocab, tokenizer: h.tokenizer,
    meta: { ...h.meta, exportedFrom: h.kind, params: paramCount(tensors), exportedAt: new Date().toISOString() },
  }, tensors);
}

/** A SuperTransformer of `space` with seeded random weights (for profiling and tests). */
export function randomSuperTransformer(space: Space, vocabSize: number, seed = 1, meta: Record<string, unknown> = {}): Uint8Array {
  const d = superDims(space);
  const tensors = randomTensors(superTensorShapes(space, vocabSize), seed);
  return encodeModel({
    kind: "supertransformer", space,
    positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim },
    vocab: { size: vocabSize, ...SPECIALS },
    meta: { weights: "random", seed, ...meta },
  }, tensors);
}

export { readModelFile, writeModelFile };
