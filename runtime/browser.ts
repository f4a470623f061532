/**
 * The runtime for any WebAssembly host, a browser page included (`import ... from
 * "hat-edge/browser"`): bytes in, no file system, no Node builtin (test/runtime/host-neutral.test.ts).
 * The wasm build's bytes and the model's bytes come from wherever the host has them (fetch, a file
 * picker, an embedded copy); `loadModelBytes` is the whole load, the rest is what translating,
 * scoring and checking architectures need. The Node entry, with files and the default build, is
 * runtime/index.ts. docs/runtime.md, "In the browser".
 */
import { HatModel } from "./model.js";
import { compileWasm, pickWasmBuild, type HatWasm } from "./wasm.js";

export * from "./arch.js";
export * from "./arch-sample.js";
export { ArchError } from "./arch-error.js";
export * from "./decode.js";
export * from "./errors.js";
export * from "./format.js";
export * from "./model.js";
export * from "./types.js";
export * from "./wasm.js";
export { createThreadedWasm, webWorkerSpawner, THREAD_BUILDS, MAX_THREADS, checkThreads, ThreadsError } from "./threads.js";
export * from "./wasm-model.js";
export * from "./weights.js";

/** A model loaded into its own wasm instance, with the compiled module to instantiate again. */
export interface LoadedModel {
  model: HatModel;
  wasm: HatWasm;
  module: WebAssembly.Module;
  /** The build that runs (its name as given). */
  build: string;
}

/**
 * Compile the first of `builds` this engine accepts (pass the relaxed-SIMD build first, then the
 * baseline: runtime/wasm.ts WASM_BUILDS), instantiate it, decode and check `model` and upload it.
 * Errors: a plain Error when no build runs here; ModelFormatError (with its `code`) for a bad model.
 */
export async function loadModelBytes(builds: readonly { name: string; bytes: Uint8Array<ArrayBuffer> }[], model: Uint8Array): Promise<LoadedModel> {
  const build = pickWasmBuild(builds);
  if (!build) throw new Error(`this engine runs none of the wasm builds (${builds.map((b) => b.name).join(", ")}): WebAssembly SIMD is needed`);
  const { module, wasm } = await compileWasm(build.bytes);
  return { model: HatModel.fromBytes(model, wasm), wasm, module, build: build.name };
}
