// The threaded runtime's control block (docs/runtime.md, "Threads"): byte offsets of its words,
// the one table the kernels (assembly/threads.ts) and the host (runtime/threads.ts, whose worker
// marks a fault) share. Plain integer constants, in the subset AssemblyScript and TypeScript both
// compile (as assembly/layout.ts). One cache line per hot word: the leader and the workers write
// different ones.

export const T_EPOCH = 0; // i32, bumped once per job
export const T_LEFT = 64; // i32, workers still busy with the current job
export const T_STOP = 128; // i32, 1: workers leave their loop
export const T_FAULT = 132; // i32, 1: a worker trapped
export const T_ARGS = 192; // i32 x 12: op, threads, y, x, w, b, M, K, N, ldx, ldw, ldy
export const T_BYTES = 256; // the block's size
/** Most threads a group may have (scratch slots reserved statically: assembly/thread-id.ts). */
export const T_MAX_THREADS = 16;
