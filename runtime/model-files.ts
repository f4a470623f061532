/**
 * `.hatm` model files on disk (Node): read and decode one (format errors prefixed with the path),
 * write one atomically, and load one into the default wasm instance (runtime/wasm-node.ts). The
 * format itself (runtime/format.ts) and the model in use (runtime/model.ts) take bytes and run in
 * any WebAssembly host, a browser page included.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { decodeModel, ModelFormatError, type DecodedModel } from "./format.js";
import { exportSubTransformer, HatModel, quantizeModel, type LoadOptions, type QuantizedModel } from "./model.js";
import type { QuantizeOptions } from "./quant.js";
import type { ValidArch } from "./types.js";
import type { HatWasm } from "./wasm.js";
import { loadWasm } from "./wasm-node.js";
import { archTensorShapes, paramCount } from "./weights.js";

/** Read and decode a `.hatm` file; format errors are prefixed with the path. */
export async function readModelFile(path: string): Promise<DecodedModel> {
  const buf = await readFile(path);
  try {
    return decodeModel(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  } catch (e) {
    if (e instanceof ModelFormatError) throw new ModelFormatError(e.code, `${path}: ${e.message}`);
    throw e;
  }
}

/**
 * Write `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk, then
 * renamed over `path`. A crash leaves either the old file or the new one, never half a model.
 */
export async function writeModelFile(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const f = await open(tmp, "wx");
    try {
      await f.writeFile(bytes);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  // Persist the rename itself where the platform allows syncing a directory.
  try {
    const d = await open(dirname(path), "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // not supported (e.g. Windows): the data itself is already on disk
  }
}

/** Read `path` and load it into `wasm` (default: a fresh instance of this process's build). */
export async function loadModelFile(path: string, wasm: HatWasm = loadWasm(), o: LoadOptions = {}): Promise<HatModel> {
  return HatModel.fromDecoded(await readModelFile(path), wasm, o);
}

/** The compact model of `arch` cut from `superFile`, written to `out` (`hat export`, the export job). */
export async function writeSubTransformer(superFile: DecodedModel, arch: ValidArch, out: string): Promise<{ out: string; bytes: number; params: number }> {
  const bytes = exportSubTransformer(superFile, arch);
  await writeModelFile(out, bytes);
  return { out, bytes: bytes.length, params: paramCount(archTensorShapes(arch, superFile.header.vocab.size)) };
}

/** {@link quantizeModel} written to `out` (`hat quantize`, the quantize job): what it did, `bytes` the file's size. */
export async function writeQuantizedModel(file: DecodedModel, o: QuantizeOptions, out: string): Promise<Omit<QuantizedModel, "bytes"> & { out: string; bytes: number }> {
  const { bytes, ...q } = quantizeModel(file, o);
  await writeModelFile(out, bytes);
  return { ...q, out, bytes: bytes.length };
}
