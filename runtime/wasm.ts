/**
 * The host side of build/hat.wasm: instantiation, one bump arena over the wasm memory, typed
 * views, and trap handling. The wasm keeps no state; everything it touches is laid out here.
 *
 * Host-neutral (docs/runtime.md, "In the browser"): wasm bytes or a compiled module in, no file
 * system. Finding and reading build/hat*.wasm on disk is Node's part, runtime/wasm-node.ts.
 */
import { InputError } from "./errors.js";

/** The module's exports (assembly/index.ts). Pointers are byte offsets into `memory`. */
export interface HatExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  matmul(y: number, x: number, w: number, b: number, M: number, K: number, N: number, ldx: number, ldw: number, ldy: number): void;
  matmul_nt(y: number, x: number, w: number, b: number, M: number, K: number, N: number, ldx: number, ldw: number, ldy: number): void;
  matmul_naive(y: number, x: number, w: number, b: number, M: number, K: number, N: number, ldx: number, ldw: number, ldy: number): void;
  matmul_nt_naive(y: number, x: number, w: number, b: number, M: number, K: number, N: number, ldx: number, ldw: number, ldy: number): void;
  gemv(y: number, x: number, w: number, b: number, K: number, N: number, ldw: number): void;
  add_layernorm(y: number, x: number, r: number, g: number, b: number, M: number, D: number): void;
  layernorm_naive(y: number, x: number, g: number, b: number, M: number, D: number): void;
  relu(x: number, n: number): void;
  /** y[C, R] = x[R, C]^T (assembly/transpose.ts). */
  transpose(y: number, x: number, R: number, C: number): void;
  transpose_naive(y: number, x: number, R: number, C: number): void;
  attention(o: number, q: number, k: number, v: number, scores: number, lens: number, B: number, Tq: number, Tk: number, H: number, Qd: number, sq: number, skv: number, so: number, kvDiv: number, kvBlock: number, causal: boolean | number): void;
  softmax_row(s: number, n: number, last: number, scale: number, len: number, block: number): void;
  embed(y: number, tokens: number, E: number, ldE: number, P: number, ldP: number, B: number, T: number, t0: number, D: number): void;
  token_nll(nll: number, smooth: number, x: number, targets: number, rows: number, V: number, pad: number): void;
  /** Label-smoothed loss and NLL per row, the loss's gradient written over x (assembly/decode.ts). */
  smoothed_ce_grad(loss: number, nll: number, x: number, targets: number, rows: number, V: number, eps: number, pad: number): void;
  log_softmax_rows(x: number, rows: number, V: number): void;
  gather_rows(dst: number, src: number, rows: number, n: number, len: number, stride: number): void;
  model_desc_ints(encLayers: number, decLayers: number): number;
  enc_layer_offset(i: number): number;
  dec_layer_offset(encLayers: number, i: number): number;
  encode_scratch_bytes(m: number, B: number, S: number): number;
  encode(m: number, work: number, tokens: number, lens: number, B: number, S: number, enc: number): void;
  decoder_state_bytes(m: number, Bs: number, beam: number, S: number, Tm: number): number;
  decoder_init(m: number, st: number, enc: number, lens: number, Bs: number, beam: number, S: number, Tm: number): void;
  decoder_scratch_bytes(m: number, B: number, T: number, S: number, Tm: number): number;
  decoder_step(m: number, st: number, work: number, tokens: number, t: number, logits: number): void;
  decoder_forward(m: number, st: number, work: number, tokens: number, T: number, hidden: number): void;
  decoder_reorder(m: number, st: number, work: number, parents: number, t: number): void;
  output_logits(m: number, logits: number, y: number, R: number): void;
  /** y = x · W (+ b) by op (0 matmul, 1 matmul_nt, 2 q8_matmul), split over a threaded group's threads. */
  product_op(op: number, y: number, x: number, w: number, b: number, M: number, K: number, N: number, ldx: number, ldw: number, ldy: number): void;
  // the threaded builds only (assembly/threads.ts; runtime/threads.ts)
  thread_ctrl?(): number;
  set_threads?(n: number, minWork: number): void;
  worker_step?(id: number, start: number, first: boolean | number): number;
  stop_workers?(): void;
}

/** The workers of a threaded HatWasm (runtime/threads.ts createThreadedWasm). */
export interface ThreadGroup {
  readonly threads: number;
  /** Stop the workers (the instance then runs single-threaded). */
  close(): void;
  /** Messages of workers that trapped. */
  readonly faults: readonly string[];
}

/** A wasm trap (out-of-bounds access, unreachable) turned into an ordinary, catchable error. */
export class WasmTrapError extends Error {
  constructor(where: string, cause: unknown) {
    super(`wasm runtime trapped in ${where}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "WasmTrapError";
  }
}

const PAGE = 65536;

/** The most linear memory a wasm32 instance can have (asconfig.json maximumMemory: 65536 pages). */
export const WASM_MAX_BYTES = 65536 * PAGE;

/** A model or architecture whose tensors cannot fit in the wasm's memory. */
export class WasmMemoryError extends InputError {
  override name = "WasmMemoryError";
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

/**
 * Throws a WasmMemoryError when `bytes` more (computed from shapes, before anything is allocated
 * on the host or in the wasm) cannot fit in `wasm`'s memory beside what it already holds.
 */
export function checkWasmFits(bytes: number, what: string, wasm?: HatWasm): void {
  const used = wasm?.usedBytes ?? 0;
  if (!(used + bytes <= WASM_MAX_BYTES)) {
    throw new WasmMemoryError(`${what} needs ${mib(bytes)} of wasm memory${used ? ` beside the ${mib(used)} in use` : ""}, more than the wasm's ${mib(WASM_MAX_BYTES)}: refused before allocating`);
  }
}

/** The relaxed-SIMD build's file name (fused multiply-add), and the baseline SIMD build's. */
export const WASM_BUILDS = ["hat-relaxed.wasm", "hat.wasm"] as const;

/**
 * The first of `builds` (in order of preference) this engine accepts: the relaxed-SIMD build on
 * Node 22+ and current browsers (Node 20 only with --experimental-wasm-relaxed-simd), else the
 * baseline SIMD build. Undefined when it accepts none.
 */
export function pickWasmBuild<T extends { bytes: Uint8Array<ArrayBuffer> }>(builds: readonly T[]): T | undefined {
  return builds.find((b) => WebAssembly.validate(b.bytes));
}

const IMPORTS = { env: { abort: () => { throw new Error("abort called in wasm"); } } };

/** Instantiate a compiled runtime (synchronous: the module is compiled already). Each instance has its own memory. */
export function instantiateWasm(mod: WebAssembly.Module): HatWasm {
  const inst = new WebAssembly.Instance(mod, IMPORTS);
  return new HatWasm(inst.exports as unknown as HatExports);
}

/**
 * Compile `bytes` asynchronously (WebAssembly.compile) and instantiate it: what a browser page
 * does, where a synchronous compile of a module this size on the main thread may be refused.
 */
export async function compileWasm(bytes: Uint8Array<ArrayBuffer>): Promise<{ module: WebAssembly.Module; wasm: HatWasm }> {
  const module = await WebAssembly.compile(bytes);
  return { module, wasm: instantiateWasm(module) };
}

/** A wasm instance with a bump arena. `mark()`/`release(mark)` free everything allocated since. */
export class HatWasm {
  readonly x: HatExports;
  private top: number;
  private group?: ThreadGroup;
  /** The build's file name, when the loader knows it (runtime/wasm-node.ts): what a measurement records. */
  build?: string;

  constructor(exports: HatExports, group?: ThreadGroup) {
    this.x = exports;
    this.top = exports.heapBase();
    this.group = group;
  }

  /** Threads the products run on (1 unless made by createThreadedWasm and not closed). */
  get threads(): number {
    return this.group?.threads ?? 1;
  }

  /** Stop a threaded instance's workers (idempotent); it stays usable on one thread. */
  close(): void {
    this.group?.close();
    this.group = undefined;
  }

  /** Bytes of linear memory currently reserved by the wasm instance. */
  get memoryBytes(): number {
    return this.x.memory.buffer.byteLength;
  }

  /** Bytes in use by the arena. */
  get usedBytes(): number {
    return this.top;
  }

  /** Reserve `bytes` (64-byte aligned), growing the memory when needed. */
  alloc(bytes: number): number {
    const p = (this.top + 63) & ~63;
    const end = p + Math.max(0, Math.ceil(bytes));
    const have = this.x.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.x.memory.grow(pages);
      } catch (e) {
        throw new Error(`wasm memory cannot grow to ${(end / 2 ** 20).toFixed(0)} MiB (limit 4 GiB): ${(e as Error).message}`);
      }
    }
    this.top = end;
    return p;
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }

  /** A fresh view (views die when memory grows: never keep one across an alloc). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.x.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.x.memory.buffer, ptr, n);
  }

  /** Copy host data in; returns the pointer. */
  putF32(data: ArrayLike<number>): number {
    const p = this.alloc(data.length * 4);
    this.f32(p, data.length).set(data);
    return p;
  }

  putBytes(data: Uint8Array): number {
    const p = this.alloc(data.length);
    new Uint8Array(this.x.memory.buffer, p, data.length).set(data);
    return p;
  }

  putI32(data: ArrayLike<number>): number {
    const p = this.alloc(data.length * 4);
    this.i32(p, data.length).set(data);
    return p;
  }

  /** Run a wasm call; a trap becomes a WasmTrapError and the arena is rolled back. */
  call<T>(where: string, fn: () => T): T {
    const m = this.mark();
    try {
      return fn();
    } catch (e) {
      this.release(m);
      if (e instanceof WebAssembly.RuntimeError) {
        const fault = this.group?.faults[0];
        throw new WasmTrapError(fault ? `${where} (a worker thread trapped: ${fault})` : where, e);
      }
      throw e;
    }
  }
}
