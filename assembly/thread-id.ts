// Which thread this instance is (docs/runtime.md, "Threads"). A wasm global is per instance, so
// every worker of the threaded build (build/hat-threads*.wasm) has its own `tid` while they all
// share one memory; the kernels' scratch buffers (matmul's packing panel, int8's activation
// rows) are indexed by it. The single-threaded builds fold slot() to 0.

import { T_MAX_THREADS } from "./threads-layout";

/** Most threads a threaded instance group may have (scratch slots reserved statically). */
export const MAX_THREADS: i32 = T_MAX_THREADS;
/** Scratch slots this build reserves: MAX_THREADS with threads, else one. */
export const SLOTS: i32 = ASC_FEATURE_THREADS ? MAX_THREADS : 1;

let tid: i32 = 0;

/** This instance's thread index (0 = the leader, which runs the model). */
// @ts-ignore: decorator
@inline export function slot(): usize { return ASC_FEATURE_THREADS ? <usize>tid : 0; }

/** A worker instance says which thread it is, once, before its loop (runtime/threads.ts). */
export function thread_init(id: i32): void {
  if (id < 0 || id >= SLOTS) unreachable();
  tid = id;
}
