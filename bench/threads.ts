/**
 * Products split over threads (runtime/threads.ts): one weight product (M rows: 5 a beam-5 decoder
 * step, 30 an encoder) on one thread and on BENCH_THREADS (default 2), f32 and int8, per call:
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/threads.ts
 *
 * Every form runs ROUND_MS per round, rounds interleaved (BENCH_ROUNDS, default 5); medians, and the
 * speedup as the median of per-round ratios. The split threshold MIN_SPLIT_WORK (runtime/threads.ts)
 * is where the speedup stops being below 1.
 */
import { pathToFileURL } from "node:url";
import { loadWasmThreads } from "../runtime/wasm-node.js";
import { packQ8, q8Source } from "../runtime/int8.js";
import type { HatWasm } from "../runtime/wasm.js";
import { randomFloats } from "./peers.js";
import { median, perCallMs, printTable, type Row } from "./timing.js";

const SHAPES: [number, number, number][] = [[5, 256, 256], [5, 256, 1024], [5, 512, 512], [5, 512, 2048], [5, 256, 8000], [5, 640, 32768], [30, 512, 2048]];

function setup(wasm: HatWasm, op: number, M: number, K: number, N: number): () => void {
  const W = randomFloats(K * N, 1), X = randomFloats(M * K, 2);
  const px = wasm.putF32(X), py = wasm.alloc(M * N * 4);
  let pw: number;
  if (op === 2) {
    const q = packQ8(q8Source({ shape: [K, N], data: W }, 1), K, N);
    pw = wasm.alloc(q.length);
    new Uint8Array(wasm.x.memory.buffer, pw, q.length).set(q);
  } else pw = wasm.putF32(W);
  const ldw = op === 1 ? K : N;
  return () => wasm.x.product_op(op, py, px, pw, 0, M, K, N, K, ldw, N);
}

export async function threadsBench(rounds = Number(process.env.BENCH_ROUNDS ?? 5), roundMs = Number(process.env.ROUND_MS ?? 150)): Promise<Row[]> {
  const n = Number(process.env.BENCH_THREADS ?? 2);
  const one = await loadWasmThreads(1), many = await loadWasmThreads(n, { minWork: 1 });
  const rows: Row[] = [];
  for (const [M, K, N] of SHAPES) {
    const m1 = one.mark(), m2 = many.mark();
    for (const [name, op] of [["f32", 0], ["f32 nt", 1], ["int8", 2]] as const) {
      const a = setup(one, op, M, K, N), b = setup(many, op, M, K, N);
      const ta: number[] = [], tb: number[] = [];
      for (let r = 0; r < rounds; r++) { ta.push(await perCallMs(a, roundMs)); tb.push(await perCallMs(b, roundMs)); }
      rows.push({ product: name, M, K, N, "MACs": M * K * N, "1 thread us": median(ta) * 1e3, [`${n} threads us`]: median(tb) * 1e3, speedup: median(ta.map((t, i) => t / tb[i])) });
    }
    one.release(m1); many.release(m2);
  }
  many.close();
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printTable(await threadsBench(), { digits: 2 });
}
