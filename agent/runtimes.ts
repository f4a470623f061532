/**
 * The agent's wasm runtimes, by threads (docs/runtime.md "Threads"; a protocol's `threads`): one
 * instance for measurements per thread count (the single-threaded build's, made at start; a
 * threaded group started the first time work asks for that many threads, then kept), and a fresh
 * instance for each model it loads (one per model, so an old model's memory, and its worker
 * threads, go with it: agent/models.ts closes it when the model is replaced).
 */
import { InputError } from "../runtime/errors.js";
import { checkThreads } from "../runtime/threads.js";
import type { HatWasm } from "../runtime/wasm.js";
import { loadWasm, loadWasmThreads, ThreadGroups, wasmBuild, wasmBuildFor } from "../runtime/wasm-node.js";

export interface RuntimesOptions {
  /** The single-threaded build's bytes (the executable's asset), else build/ of the source tree. */
  wasmBytes?: Uint8Array<ArrayBuffer>;
  /** Its name, recorded in every measurement. */
  build?: string;
  /** The threaded build's bytes and name (the executable's asset), else build/. */
  threadWasmBytes?: Uint8Array<ArrayBuffer>;
  threadBuild?: string;
}

export class Runtimes {
  private readonly single: HatWasm;
  private readonly groups = new ThreadGroups((n) => this.start(n));

  constructor(private readonly o: RuntimesOptions = {}) {
    this.single = this.fresh1();
  }

  private fresh1(): HatWasm {
    return this.o.wasmBytes ? loadWasm(this.o.wasmBytes) : loadWasm();
  }

  /** The build name measurements on `threads` threads record. */
  build(threads: number): string {
    if (threads === 1) return this.o.build ?? (this.o.wasmBytes ? "hat.wasm" : wasmBuild());
    return this.o.threadBuild ?? (this.o.threadWasmBytes ? "hat-threads.wasm" : wasmBuildFor(threads));
  }

  /** The instance measurements on `threads` threads run in (the single-threaded one made at start), and its build's name. */
  async measure(threads: number): Promise<{ wasm: HatWasm; build: string }> {
    checkThreads(threads);
    return { wasm: threads === 1 ? this.single : await this.groups.get(threads), build: this.build(threads) };
  }

  /** A fresh instance for a model on `threads` threads. */
  async serving(threads: number): Promise<HatWasm> {
    checkThreads(threads);
    return threads === 1 ? this.fresh1() : this.start(threads);
  }

  private start(threads: number): Promise<HatWasm> {
    if (this.o.wasmBytes && !this.o.threadWasmBytes && threads > 1) {
      return Promise.reject(new InputError(`this agent has no threaded runtime: it cannot measure or serve on ${threads} threads`));
    }
    return loadWasmThreads(threads, this.o.threadWasmBytes ? { bytes: this.o.threadWasmBytes } : {});
  }
}
