/** Helpers of the model-file tests: the error a decode throws, a file's header JSON, a random SuperTransformer with a tokenizer. */
import { superDims } from "../runtime/arch.js";
import { decodeModel, encodeModel, ModelFormatError, type ModelFormatErrorCode } from "../runtime/format.js";
import type { Space } from "../runtime/types.js";
import { randomTensors, superTensorShapes, type TensorMap } from "../runtime/weights.js";
import type { Bpe } from "../data/bpe.js";

/** The code a decode of `bytes` throws (fails the test if it does not throw a ModelFormatError). */
export function codeOf(bytes: Uint8Array): { code: ModelFormatErrorCode; message: string } {
  try {
    decodeModel(bytes);
  } catch (e) {
    if (e instanceof ModelFormatError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("decodeModel accepted the file");
}

/** The header JSON of a model file (its length at byte 8, the text from byte 12). */
export function headerOf(bytes: Uint8Array): Record<string, any> {
  const H = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + H)));
}

/**
 * A SuperTransformer file of `space` carrying `bpe` as its tokenizer (what `hat translate` and the
 * hosts need), with seeded random weights or the `tensors` given (super shapes at bpe's vocabulary).
 */
export function supernetWithTokenizer(space: Space, bpe: Bpe, weights: number | TensorMap): Uint8Array {
  const d = superDims(space);
  return encodeModel({
    kind: "supertransformer", space, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim },
    vocab: bpe.vocab(), tokenizer: bpe.toJSON(), meta: {},
  }, typeof weights === "number" ? randomTensors(superTensorShapes(space, bpe.vocab().size), weights) : weights);
}
