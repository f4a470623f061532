/**
 * The runtime's wasm under Node: find build/hat*.wasm beside this module (or `HAT_WASM`), read it,
 * compile it once per process. The one wasm module that touches the file system; the host side
 * itself (runtime/wasm.ts) takes bytes and runs in any WebAssembly host, a browser page included.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HatWasm, instantiateWasm, pickWasmBuild, WASM_BUILDS } from "./wasm.js";

/** The folder holding build/hat.wasm: ../build/ from runtime/ (sources), ../../build/ from dist/runtime/. */
export function wasmBuildDir(): string {
  for (const dir of ["../build/", "../../build/"]) {
    const base = fileURLToPath(new URL(dir, import.meta.url));
    if (existsSync(join(base, "hat.wasm"))) return base;
  }
  throw new Error("build/hat.wasm not found: run `npm run build:wasm` (or set HAT_WASM)");
}

/** Every build in build/ (relaxed first, then baseline), those present, with their bytes. */
export function readWasmBuilds(): { name: string; path: string; bytes: Uint8Array<ArrayBuffer> }[] {
  const dir = wasmBuildDir();
  return WASM_BUILDS.map((name) => ({ name, path: join(dir, name) }))
    .filter((b) => existsSync(b.path))
    .map((b) => ({ ...b, bytes: new Uint8Array(readFileSync(b.path)) }));
}

/**
 * The build this process runs: `HAT_WASM` if set; else the relaxed-SIMD build (fused multiply-add)
 * when this engine accepts it (Node 22+, current browsers; Node 20 only with
 * --experimental-wasm-relaxed-simd), else the baseline SIMD build.
 */
function defaultWasm(): { path: string; bytes: Uint8Array<ArrayBuffer> } {
  const env = process.env.HAT_WASM;
  if (env) return { path: env, bytes: new Uint8Array(readFileSync(env)) };
  const builds = readWasmBuilds();
  return pickWasmBuild(builds) ?? builds[builds.length - 1];
}

let cached: { module: WebAssembly.Module; path: string } | undefined;

/** File name of the build loadWasm() runs by default (hat.wasm or hat-relaxed.wasm). */
export function wasmBuild(): string {
  if (!cached) compileDefault();
  return basename(cached!.path);
}

function compileDefault(): WebAssembly.Module {
  if (!cached) {
    const { path, bytes } = defaultWasm();
    cached = { module: new WebAssembly.Module(bytes), path };
  }
  return cached.module;
}

/** Compile (the default build: once per process) and instantiate the runtime. Each instance has its own memory. */
export function loadWasm(bytes?: Uint8Array<ArrayBuffer>): HatWasm {
  return instantiateWasm(bytes ? new WebAssembly.Module(bytes) : compileDefault());
}
