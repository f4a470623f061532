/**
 * The runtime as a library (`import { HatModel, validateArch, beamSearch } from "hat-edge"`):
 * architectures and design spaces, the `.hatm` model file, decoding, latency profiling and the
 * measurement protocol, over the wasm runtime shipped in the package (build/hat*.wasm). Every
 * other runtime module is importable too: `hat-edge/runtime/<module>` (package.json `exports`).
 * This entry is Node's (it reads files); runtime/browser.ts is the host-neutral one (bytes in).
 */
export * from "./arch.js";
export * from "./arch-sample.js";
export * from "./arch-files.js";
export * from "./arch-features.js";
export * from "./arch-text.js";
export * from "./arch-hat.js";
export { ArchError } from "./arch-error.js";
export * from "./decode.js";
export * from "./format.js";
export * from "./model.js";
export * from "./model-files.js";
export * from "./profile.js";
export * from "./protocol.js";
export * from "./spaces.js";
export * from "./errors.js";
export * from "./types.js";
export * from "./wasm.js";
export * from "./wasm-node.js";
export * from "./wasm-model.js";
export * from "./weights.js";
