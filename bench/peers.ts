// Peers for the matmul benchmarks, measured in the same process as our kernels:
//   - onnxruntime-web, wasm backend (SIMD build), single thread, under Node;
//   - onnxruntime-node, native CPU execution provider, one intra-op and one inter-op thread.
// Both run the same one-node ONNX model built by bench/onnx-model.ts.
//
// Pitfalls handled here:
//   * `import "onnxruntime-web"` under Node resolves (exports condition "node") to
//     dist/ort.node.min.mjs, which registers only the "wasm"/"cpu" wasm backends and loads
//     dist/ort-wasm-simd-threaded.mjs, which reads dist/ort-wasm-simd-threaded.wasm from disk
//     (located via import.meta.url, read with fs). 1.30 ships only SIMD builds; the one binary
//     is also the pthread build, numThreads = 1 just means no worker threads are started.
//     We hook WebAssembly.instantiate/compile/Module to report which bytes were loaded.
//   * ort.env.wasm.* must be set before the first session is created (the wasm module is
//     initialised once per process; later changes are ignored).
//   * onnxruntime-common is a dual package: onnxruntime-web (ESM) and onnxruntime-node (CJS)
//     get separate copies, hence separate backend registries and separate Tensor classes.
//     Always build tensors with the Tensor of the package that runs the session.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { cpus } from "node:os";
import { matmulModel } from "./onnx-model.js";

const require = createRequire(import.meta.url);

export interface MatmulPeer {
  name: string;
  detail: string;
  /** Y[M,N] for X[M,K] (a fresh input tensor is made per call). */
  run(x: Float32Array): Promise<Float32Array>;
  /** A thunk for timing: session.run with a tensor created once, outside the timed region. */
  prepare(x: Float32Array): () => Promise<void>;
  release(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Which .wasm did onnxruntime-web load?

interface WasmLoad { how: string; bytes?: number; sha256?: string; file?: string; sharedMemory?: boolean }
const wasmLoads: WasmLoad[] = [];
let hooksInstalled = false;

function findMemories(obj: unknown, depth = 0): WebAssembly.Memory[] {
  if (!obj || typeof obj !== "object" || depth > 2) return [];
  if (obj instanceof WebAssembly.Memory) return [obj];
  return Object.values(obj as Record<string, unknown>).flatMap((v) => findMemories(v, depth + 1));
}

function describeBytes(src: unknown): { bytes?: number; sha256?: string } {
  let u8: Uint8Array | undefined;
  if (src instanceof ArrayBuffer) u8 = new Uint8Array(src);
  else if (ArrayBuffer.isView(src)) u8 = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (!u8) return {};
  return { bytes: u8.byteLength, sha256: createHash("sha256").update(u8).digest("hex") };
}

function installWasmHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const W = WebAssembly as any;
  const origInstantiate = W.instantiate;
  W.instantiate = function (src: unknown, imports?: unknown) {
    const rec: WasmLoad = { how: src instanceof WebAssembly.Module ? "instantiate(Module)" : "instantiate(bytes)", ...describeBytes(src) };
    const mem = findMemories(imports);
    if (mem.length) rec.sharedMemory = mem.some((m) => typeof SharedArrayBuffer !== "undefined" && m.buffer instanceof SharedArrayBuffer);
    wasmLoads.push(rec);
    return origInstantiate.apply(this, arguments as any);
  };
  const origCompile = W.compile;
  W.compile = function (src: unknown) {
    wasmLoads.push({ how: "compile(bytes)", ...describeBytes(src) });
    return origCompile.apply(this, arguments as any);
  };
  if (W.instantiateStreaming) {
    const orig = W.instantiateStreaming;
    W.instantiateStreaming = function (src: unknown) {
      wasmLoads.push({ how: "instantiateStreaming" });
      return orig.apply(this, arguments as any);
    };
  }
}

function identifyWasm(distDir: string): WasmLoad[] {
  const files = readdirSync(distDir).filter((f) => f.endsWith(".wasm")).map((f) => ({ f, size: statSync(join(distDir, f)).size }));
  for (const rec of wasmLoads) {
    if (rec.bytes === undefined) continue;
    for (const { f, size } of files) {
      if (size !== rec.bytes) continue;
      const h = createHash("sha256").update(readFileSync(join(distDir, f))).digest("hex");
      if (h === rec.sha256) { rec.file = f; break; }
    }
  }
  return wasmLoads.filter((r) => r.bytes === undefined || r.bytes > 1_000_000); // skip feature probes
}

// ---------------------------------------------------------------------------------------------
// onnxruntime-web (wasm)

let ortWebPromise: Promise<any> | undefined;
let ortWebWasm: string | undefined;

async function loadOrtWeb(): Promise<any> {
  ortWebPromise ??= (async () => {
    installWasmHooks();
    const ort: any = await import("onnxruntime-web");
    ort.env.wasm.numThreads = 1; // single thread: no pthread workers
    ort.env.wasm.proxy = false; // run in this thread, not a proxy worker
    ort.env.logLevel = "warning";
    // env.wasm.simd is left at its default (SIMD on; the 1.30 package has no non-SIMD binary).
    return ort;
  })();
  return ortWebPromise;
}

export async function ortWebMatmul(M: number, K: number, N: number, W: Float32Array): Promise<MatmulPeer> {
  const ort = await loadOrtWeb();
  const model = matmulModel(M, K, N, W);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  if (ortWebWasm === undefined) {
    const distDir = dirname(require.resolve("onnxruntime-web")); // .../onnxruntime-web/dist
    const loads = identifyWasm(distDir);
    ortWebWasm = loads.length
      ? loads.map((l) => `${l.file ?? "?"} (${l.how}, ${l.bytes ?? "?"} B${l.sharedMemory === undefined ? "" : l.sharedMemory ? ", shared memory" : ", unshared memory"})`).join("; ")
      : "unknown (no instantiate seen)";
  }
  const numThreads = ort.env.wasm.numThreads;
  const detail = `onnxruntime-web ${ort.env.versions?.web ?? "?"}, ${ortWebWasm}, env.wasm.numThreads=${numThreads}, simd=${ort.env.wasm.simd ?? "default"}`;
  return sessionPeer(ort, session, "ort-web wasm (1 thread)", detail, M, K);
}

// ---------------------------------------------------------------------------------------------
// onnxruntime-node (native CPU EP)

export async function ortNodeMatmul(M: number, K: number, N: number, W: Float32Array): Promise<MatmulPeer> {
  const mod: any = await import("onnxruntime-node");
  const ort = mod.default ?? mod;
  const model = matmulModel(M, K, N, W);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const lib = join(dirname(require.resolve("onnxruntime-node")), "..", "bin", "napi-v6", process.platform, process.arch);
  const detail = `onnxruntime-node ${ort.env.versions?.node ?? "?"}, CPU EP, intra=1 inter=1, ${lib} on ${cpus()[0]?.model ?? "?"}`;
  return sessionPeer(ort, session, "ort-node native (1 thread)", detail, M, K);
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** A peer over an ONNX session of the one-MatMul model; `ort` is the package that made the session
 *  (its Tensor class must build the inputs: the two packages have separate copies). */
function sessionPeer(ort: any, session: any, name: string, detail: string, M: number, K: number): MatmulPeer {
  const mk = (x: Float32Array) => ({ X: new ort.Tensor("float32", x, [M, K]) });
  return {
    name,
    detail,
    async run(x) {
      const out = await session.run(mk(x));
      return out.Y.data as Float32Array;
    },
    prepare(x) {
      const feeds = mk(x);
      return async () => { await session.run(feeds); };
    },
    release: () => session.release(),
  };
}

/** Deterministic pseudo-random floats in [-1, 1), nonzero (xorshift32). */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    let v = s / 2 ** 31 - 1;
    if (v === 0) v = 2 ** -20;
    out[i] = v;
  }
  return out;
}

/** Plain JS reference y[M,N] = x[M,K] · W[K,N], accumulated in f64. */
export function jsMatmul(M: number, K: number, N: number, x: Float32Array, W: Float32Array): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const yr = m * N;
    for (let k = 0; k < K; k++) {
      const a = x[m * K + k]!;
      const wr = k * N;
      for (let n = 0; n < N; n++) y[yr + n]! += a * W[wr + n]!;
    }
  }
  return y;
}

/** max |y - ref| / max |ref| (a norm-wise relative error, robust to near-zero entries). */
export function relError(y: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (y.length !== ref.length) return Infinity;
  let maxDiff = 0, maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(y[i]! - ref[i]!);
    if (!(d <= maxDiff)) maxDiff = d; // also catches NaN
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  return maxRef > 0 ? maxDiff / maxRef : maxDiff;
}

export const REL_TOL = 1e-4;
