/** Helpers of the model-file tests (format, quantized files): the error a decode throws, and a file's header JSON. */
import { decodeModel, ModelFormatError, type ModelFormatErrorCode } from "../runtime/format.js";

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
