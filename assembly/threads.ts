// Threads (issue 14 item 3; docs/runtime.md, "Threads"): the products of a forward pass split
// by output columns across the instances of the threaded build (build/hat-threads*.wasm), which
// share one memory. The leader (thread 0, the instance the host calls) runs the model; at each
// weight product it publishes a job in the control block below, wakes the workers, computes its
// own share and waits until every worker has done theirs:
//
//   leader:  args -> CTRL; LEFT = n-1; EPOCH += 1; notify(EPOCH)   share 0   wait LEFT == 0
//   worker:  wait EPOCH != seen                                     share i   LEFT -= 1; notify(LEFT)
//
// Shares are whole 8-column panels (the f32 and int8 kernels' unit), so the threads write
// disjoint parts of y and read only what the leader wrote before it bumped EPOCH (sequentially
// consistent atomics order the plain stores before it). A product smaller than minWork
// multiply-adds (set_threads; 65,536 by default) runs on the leader alone: waking a worker costs
// more than it saves.
//
// A worker that traps (its host catches it, runtime/threads.ts) sets FAULT and takes itself off
// LEFT; the leader then traps too, so the host's call fails like any trap. A leader that waits
// longer than WAIT_LIMIT_NS for its workers traps as well: never a hang.
//
// In the single-threaded builds `threads` is never above 1 and every product runs inline.

import { matmul, matmul_nt } from "./matmul";
import { q8_matmul_cols } from "./int8";
import { km_matmul_cols, km_matmul_nt_cols } from "./kmeans";
import { MAX_THREADS } from "./thread-id";
import { T_ARGS, T_BYTES, T_EPOCH, T_FAULT, T_LEFT, T_STOP } from "./threads-layout";

/** The control block (assembly/threads-layout.ts). */
const CTRL: usize = memory.data(T_BYTES, 64);
const EPOCH: usize = CTRL + T_EPOCH;
const LEFT: usize = CTRL + T_LEFT;
const STOP: usize = CTRL + T_STOP;
const FAULT: usize = CTRL + T_FAULT;
const ARGS: usize = CTRL + T_ARGS;

/** Threads of this group (the leader's setting; set_threads). */
let threads: i32 = 1;
/** Below this many multiply-adds a product is not split (set_threads). */
let minWork: i64 = 1 << 16;

/** Spins on a word before sleeping on it (~0.1 ms here): a decoder step's products come
 *  microseconds apart, and between steps the host picks the beam's tokens. With 20,000 spins the
 *  workers slept between most products: the d256 model (docs/training.md) ran 1.3x slower on 2
 *  threads than on one; with 200,000, 1.6x faster (docs/runtime.md "Threads"). */
const SPINS: i32 = 200000;
/** The longest a leader waits for its workers' shares before it traps. */
const WAIT_LIMIT_NS: i64 = 60_000_000_000;

export const OP_MATMUL: i32 = 0;
export const OP_MATMUL_NT: i32 = 1;
export const OP_Q8: i32 = 2;
export const OP_KM: i32 = 3;
export const OP_KM_NT: i32 = 4;

/** The control block's address (the host's view of FAULT and LEFT for a trapped worker). */
export function thread_ctrl(): usize { return CTRL; }

/** Leader: run products on n threads (n - 1 workers calling worker_step), split when a
 *  product has at least `min` multiply-adds. */
export function set_threads(n: i32, min: i32): void {
  if (n < 1 || n > MAX_THREADS || (n > 1 && !ASC_FEATURE_THREADS)) unreachable();
  threads = n;
  minWork = <i64>max(1, min);
}

/** Columns [n0, n1) of thread i's share of N columns over n threads: whole 8-column panels. */
// @ts-ignore: decorator
@inline function share(N: i32, n: i32, i: i32, hi: bool): i32 {
  const panels = (N + 7) >> 3, per = (panels + n - 1) / n;
  return min(N, (i + (hi ? 1 : 0)) * per * 8);
}

/** Thread i's part of the job in ARGS. */
function runShare(i: i32): void {
  const op = load<i32>(ARGS), n = load<i32>(ARGS, 4);
  const y = <usize>load<i32>(ARGS, 8), x = <usize>load<i32>(ARGS, 12), w = <usize>load<i32>(ARGS, 16), b = <usize>load<i32>(ARGS, 20);
  const M = load<i32>(ARGS, 24), K = load<i32>(ARGS, 28), N = load<i32>(ARGS, 32);
  const ldx = load<i32>(ARGS, 36), ldw = load<i32>(ARGS, 40), ldy = load<i32>(ARGS, 44);
  const n0 = share(N, n, i, false), n1 = share(N, n, i, true);
  if (n0 >= n1) return;
  run(op, y, x, w, b, M, K, N, ldx, ldw, ldy, n0, n1);
}

/** Columns n0..n1-1 of one product. */
function run(op: i32, y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32, n0: i32, n1: i32): void {
  const c = <usize>n0 << 2, bb = b != 0 ? b + c : 0;
  if (op == OP_MATMUL) matmul(y + c, x, w + c, bb, M, K, n1 - n0, ldx, ldw, ldy);
  else if (op == OP_MATMUL_NT) matmul_nt(y + c, x, w + (<usize>n0 * ldw << 2), bb, M, K, n1 - n0, ldx, ldw, ldy);
  else if (op == OP_Q8) q8_matmul_cols(y, x, w, b, M, K, N, ldx, ldy, n0, n1);
  else if (op == OP_KM) km_matmul_cols(y, x, w, b, M, K, N, ldx, ldy, n0, n1);
  else km_matmul_nt_cols(y, x, w, b, M, K, N, ldx, ldy, n0, n1);
}

/**
 * y = x · W (+ b) by `op` (OP_MATMUL, OP_MATMUL_NT, OP_Q8, OP_KM, OP_KM_NT; arguments as those kernels take them),
 * split over the group's threads when it is large enough.
 */
export function product_op(op: i32, y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  const n = ASC_FEATURE_THREADS ? threads : 1;
  if (n <= 1 || <i64>M * K * N < minWork || N < 16) {
    run(op, y, x, w, b, M, K, N, ldx, ldw, ldy, 0, N);
    return;
  }
  parallel(op, n, y, x, w, b, M, K, N, ldx, ldw, ldy);
}

/** Publish the job, run share 0, wait for the rest. (Atomics exist only in the threaded build:
 *  the other builds compile none of this.) */
function parallel(op: i32, n: i32, y: usize, x: usize, w: usize, b: usize, M: i32, K: i32, N: i32, ldx: i32, ldw: i32, ldy: i32): void {
  if (ASC_FEATURE_THREADS) {
    if (atomic.load<i32>(FAULT) != 0) unreachable(); // a worker is gone: the group cannot split
    store<i32>(ARGS, op); store<i32>(ARGS, n, 4);
    store<i32>(ARGS, <i32>y, 8); store<i32>(ARGS, <i32>x, 12); store<i32>(ARGS, <i32>w, 16); store<i32>(ARGS, <i32>b, 20);
    store<i32>(ARGS, M, 24); store<i32>(ARGS, K, 28); store<i32>(ARGS, N, 32);
    store<i32>(ARGS, ldx, 36); store<i32>(ARGS, ldw, 40); store<i32>(ARGS, ldy, 44);
    atomic.store<i32>(LEFT, n - 1);
    atomic.add<i32>(EPOCH, 1);
    atomic.notify(EPOCH, n - 1);
    runShare(0);
    waitWorkers();
  }
}

/** Leader: spin, then sleep, until LEFT is 0; trap on a worker's fault or past WAIT_LIMIT_NS. */
function waitWorkers(): void {
  if (!ASC_FEATURE_THREADS) return;
  let left = atomic.load<i32>(LEFT);
  for (let s = 0; left != 0 && s < SPINS; s++) left = atomic.load<i32>(LEFT);
  let waited: i64 = 0;
  while (left != 0) {
    atomic.wait<i32>(LEFT, left, 1_000_000); // 1 ms, then look again
    waited += 1_000_000;
    if (waited > WAIT_LIMIT_NS) unreachable();
    left = atomic.load<i32>(LEFT);
  }
  if (atomic.load<i32>(FAULT) != 0) unreachable();
}

/** The last job a worker has seen (per instance: each worker's own). */
let seen: i32 = 0;

/**
 * Worker: wait for the leader's next job, run this thread's share; 0 once STOP is set, else 1.
 * The host calls it in a loop (runtime/threads.ts WORKER_BODY) rather than this looping itself:
 * V8 optimizes a wasm function when it is entered again, so a loop that never returned would
 * run its shares in the baseline tier for ever (measured: 2 threads slower than one). `start`
 * is the EPOCH the host read before starting the worker, so a job published while it was
 * starting is not missed; it counts only on the first call.
 */
export function worker_step(id: i32, start: i32, first: bool): i32 {
  if (!ASC_FEATURE_THREADS) unreachable();
  if (ASC_FEATURE_THREADS) {
    if (first) seen = start;
    let e = atomic.load<i32>(EPOCH);
    for (let s = 0; e == seen && s < SPINS; s++) e = atomic.load<i32>(EPOCH);
    while (e == seen) {
      atomic.wait<i32>(EPOCH, seen, -1);
      e = atomic.load<i32>(EPOCH);
    }
    seen = e;
    if (atomic.load<i32>(STOP) != 0) return 0;
    runShare(id);
    if (atomic.sub<i32>(LEFT, 1) == 1) atomic.notify(LEFT, 1);
  }
  return 1;
}

/** Host: make every worker's worker_step return 0 (then the group is single-threaded). */
export function stop_workers(): void {
  threads = 1;
  if (!ASC_FEATURE_THREADS) return;
  atomic.store<i32>(STOP, 1);
  atomic.add<i32>(EPOCH, 1);
  atomic.notify(EPOCH, MAX_THREADS);
}
