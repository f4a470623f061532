/**
 * The runtime's wasm under Node: find build/hat*.wasm beside this module (or `HAT_WASM`), read it,
 * compile it once per process. The one wasm module that touches the file system; the host side
 * itself (runtime/wasm.ts) takes bytes and runs in any WebAssembly host, a browser page included.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { HatWasm, instantiateWasm, pickWasmBuild, WASM_BUILDS } from "./wasm.js";
import { checkThreads, createThreadedWasm, THREAD_BUILDS, WORKER_BODY, type SpawnWorker, type ThreadOptions } from "./threads.js";

/** The folder holding build/hat.wasm: ../build/ from runtime/ (sources), ../../build/ from dist/runtime/. */
export function wasmBuildDir(): string {
  for (const dir of ["../build/", "../../build/"]) {
    const base = fileURLToPath(new URL(dir, import.meta.url));
    if (existsSync(join(base, "hat.wasm"))) return base;
  }
  throw new Error("build/hat.wasm not found: run `npm run build:wasm` (or set HAT_WASM)");
}

/** Every build in build/ (relaxed first, then baseline), those present, with their bytes; the
 *  threaded builds with `threads`. */
export function readWasmBuilds(threads = false): { name: string; path: string; bytes: Uint8Array<ArrayBuffer> }[] {
  const dir = wasmBuildDir();
  return (threads ? THREAD_BUILDS : WASM_BUILDS).map((name) => ({ name, path: join(dir, name) }))
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
  if (bytes) return instantiateWasm(new WebAssembly.Module(bytes));
  const w = instantiateWasm(compileDefault());
  w.build = wasmBuild();
  return w;
}

/** Node's SpawnWorker: a worker thread running WORKER_BODY (unref'd: it never keeps the process alive). */
export const nodeWorkerSpawner: SpawnWorker = (init, onMessage) => new Promise((resolve, reject) => {
  const src = `const { parentPort, workerData } = require("node:worker_threads");\n(${WORKER_BODY})(workerData, (m) => parentPort.postMessage(m));`;
  const w = new Worker(src, { eval: true, workerData: init });
  w.once("error", reject);
  w.on("message", (m) => {
    if ("ready" in m) {
      w.unref(); // started: from now on the worker never keeps the process alive
      resolve(w);
    }
    onMessage(m);
  });
});

let threadCached: { module: WebAssembly.Module; path: string } | undefined;

/** The threaded build this process runs (relaxed when the engine accepts it), compiled once. */
function compileThreaded(): { module: WebAssembly.Module; path: string } {
  if (!threadCached) {
    const builds = readWasmBuilds(true);
    const b = pickWasmBuild(builds) ?? builds[builds.length - 1];
    if (!b) throw new Error("build/hat-threads.wasm not found: run `npm run build:wasm`");
    threadCached = { module: new WebAssembly.Module(b.bytes), path: b.path };
  }
  return threadCached;
}

/**
 * The runtime on `threads` threads: one thread is loadWasm() (the single-threaded build); more is
 * the threaded build with threads - 1 worker threads (runtime/threads.ts). Close it when done
 * (HatWasm.close) or let the process exit: the workers do not keep it alive.
 */
export async function loadWasmThreads(threads: number, o: ThreadOptions & { bytes?: Uint8Array<ArrayBuffer> } = {}): Promise<HatWasm> {
  if (checkThreads(threads) === 1 && !o.bytes) return loadWasm();
  const compiled = o.bytes ? undefined : compileThreaded();
  const w = await createThreadedWasm(compiled?.module ?? new WebAssembly.Module(o.bytes!), threads, nodeWorkerSpawner, o);
  if (compiled) w.build = basename(compiled.path);
  return w;
}

/** File name of the build loadWasmThreads(threads) runs. */
export function wasmBuildFor(threads: number): string {
  return threads > 1 ? basename(compileThreaded().path) : wasmBuild();
}

/**
 * Threaded instances kept one per thread count: started on the first get(), then reused; a start
 * that fails is tried again by the next get(). `start` makes one (default loadWasmThreads).
 */
export class ThreadGroups {
  private readonly groups = new Map<number, Promise<HatWasm>>();
  private readonly started = new Map<number, HatWasm>();

  constructor(private readonly start: (threads: number) => Promise<HatWasm> = (n) => loadWasmThreads(n)) {}

  get(threads: number): Promise<HatWasm> {
    let w = this.groups.get(threads);
    if (!w) {
      w = this.start(threads).then((x) => { this.started.set(threads, x); return x; });
      this.groups.set(threads, w);
      w.catch(() => this.groups.delete(threads));
    }
    return w;
  }

  /** The instance of `threads` once started, else undefined. */
  ready(threads: number): HatWasm | undefined {
    return this.started.get(threads);
  }
}

const processGroups = new ThreadGroups();

/**
 * This process's measuring instance on `threads` threads (> 1): one threaded group per thread
 * count, started on the first call and kept (profileArch with no instance given measures in it;
 * runtime/profile.ts). Measurements run one at a time, each releasing what it allocated.
 */
export function prepareThreads(threads: number): Promise<HatWasm> {
  return processGroups.get(threads);
}

/** prepareThreads's instance once started, else undefined. */
export function preparedThreads(threads: number): HatWasm | undefined {
  return processGroups.ready(threads);
}
