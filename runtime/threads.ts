/**
 * The threaded runtime's host side (docs/runtime.md, "Threads"): one shared wasm memory, a
 * leader instance the host calls as usual, and N - 1 workers (Node worker threads, or Web
 * Workers in a browser) that each instantiate the same threaded build over that memory and wait
 * in its worker_step for the leader's products (assembly/threads.ts). Host-neutral: how a worker
 * is started is the `spawn` function the host passes (runtime/wasm-node.ts for Node,
 * `webWorkerSpawner` below for a page).
 *
 * The leader waits for its workers with memory.atomic.wait, which a browser refuses on a page's
 * main thread: there the threaded runtime runs inside a Web Worker (as `hat web`'s page does).
 */
import { T_BYTES, T_FAULT, T_LEFT, T_MAX_THREADS } from "../assembly/threads-layout.js";
import { InputError } from "./errors.js";
import { HatWasm, type HatExports } from "./wasm.js";

/** The threaded builds (relaxed SIMD first), as WASM_BUILDS for one thread. */
export const THREAD_BUILDS = ["hat-threads-relaxed.wasm", "hat-threads.wasm"] as const;
/** Most threads a group may have. */
export const MAX_THREADS = T_MAX_THREADS;
/** Pages the threaded builds need at start (asconfig.json's threads targets: initialMemory). */
const INITIAL_PAGES = 80;
/** Default split threshold in multiply-adds (docs/runtime.md "Threads": measured on bench/threads.ts). */
export const MIN_SPLIT_WORK = 1 << 16;

/** The control block's words a trapped worker writes (i32 indexes). */
const LEFT_WORD = T_LEFT / 4, FAULT_WORD = T_FAULT / 4;

export class ThreadsError extends InputError {
  override name = "ThreadsError";
}

/** What a worker is started with (structured-cloneable: a compiled module and a shared memory). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  id: number;
  /** The leader's EPOCH when the group started (assembly/threads.ts worker_step). */
  seen: number;
  /** The control block's address. */
  ctrl: number;
}

/** A started worker: the host's handle to stop it. */
export interface ThreadWorker {
  terminate(): unknown;
}

/** Starts a worker running WORKER_BODY on `init`; resolves once it has instantiated (its first
 *  message, `{ ready }`); rejects if it fails to start. Later messages go to `onMessage`. */
export type SpawnWorker = (init: WorkerInit, onMessage: (m: WorkerMessage) => void) => Promise<ThreadWorker>;

export type WorkerMessage = { ready: number } | { done: number } | { fault: string };

/**
 * The worker's whole program, as source text (a worker is started from text in both hosts:
 * `new Worker(src, { eval: true })` in Node, a Blob URL in a browser): instantiate, say ready,
 * call worker_step until it says stop; a trap marks the group faulty (FAULT, and itself off LEFT) so the leader's
 * call fails instead of waiting.
 */
export const WORKER_BODY = `function hatWorker(init, post) {
  const { module, memory, id, seen, ctrl } = init;
  const x = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error("abort called in wasm"); } } }).exports;
  x.thread_init(id);
  post({ ready: id });
  try {
    for (let first = 1; x.worker_step(id, seen, first); first = 0);
    post({ done: id });
  } catch (e) {
    const c = new Int32Array(memory.buffer, ctrl, ${T_BYTES / 4});
    Atomics.store(c, ${FAULT_WORD}, 1);
    Atomics.sub(c, ${LEFT_WORD}, 1);
    Atomics.notify(c, ${LEFT_WORD});
    post({ fault: String((e && e.message) || e) });
  }
}`;

/** The threads a group may have, checked (1..MAX_THREADS). */
export function checkThreads(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new ThreadsError(`threads must be an integer in 1..${MAX_THREADS}, got ${String(n)}`);
  }
  return n;
}

export interface ThreadOptions {
  /** Products below this many multiply-adds run on the leader alone (default MIN_SPLIT_WORK). */
  minWork?: number;
}

/**
 * A leader instance of the threaded build `module` with `threads - 1` workers started by `spawn`,
 * ready to run (every worker instantiated). The HatWasm's close() stops and terminates them.
 */
export async function createThreadedWasm(module: WebAssembly.Module, threads: number, spawn: SpawnWorker, o: ThreadOptions = {}): Promise<HatWasm> {
  checkThreads(threads);
  if (!WebAssembly.Module.imports(module).some((i) => i.kind === "memory")) {
    throw new ThreadsError("this wasm build has no threads (it does not import a shared memory): use build/hat-threads*.wasm");
  }
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: 65536, shared: true });
  const abort = () => { throw new Error("abort called in wasm"); };
  const x = new WebAssembly.Instance(module, { env: { memory, abort } }).exports as unknown as HatExports;
  const ctrl = x.thread_ctrl!();
  const seen = Atomics.load(new Int32Array(memory.buffer, ctrl, 1), 0);
  const faults: string[] = [];
  const onMessage = (m: WorkerMessage) => { if ("fault" in m) faults.push(m.fault); };
  const started = await Promise.allSettled(
    Array.from({ length: threads - 1 }, (_, i) => spawn({ module, memory, id: i + 1, seen, ctrl }, onMessage)));
  const workers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  const close = () => {
    x.stop_workers!();
    for (const w of workers) w.terminate();
  };
  if (failed) {
    close();
    throw new ThreadsError(`a worker thread did not start: ${(failed.reason as Error)?.message ?? String(failed.reason)}`);
  }
  x.set_threads!(threads, Math.max(1, Math.floor(o.minWork ?? MIN_SPLIT_WORK)));
  return new HatWasm(x, { threads, close, faults });
}

/** A browser's SpawnWorker: a Web Worker from a Blob of WORKER_BODY (needs a cross-origin
 *  isolated page, for SharedArrayBuffer). */
export function webWorkerSpawner(): SpawnWorker {
  const src = `const hat = ${WORKER_BODY};\nself.onmessage = (e) => hat(e.data, (m) => self.postMessage(m));`;
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  return (init, onMessage) => new Promise((resolve, reject) => {
    const w = new Worker(url);
    w.onerror = (e) => reject(new Error(e.message));
    w.onmessage = (e: MessageEvent<WorkerMessage>) => {
      if ("ready" in e.data) resolve(w);
      onMessage(e.data);
    };
    w.postMessage(init);
  });
}
