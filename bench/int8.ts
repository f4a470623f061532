/**
 * int8 products (assembly/int8.ts) against our f32 SIMD GEMM (assembly/matmul.ts), K 512, N 2048,
 * at M = 5 (a beam-5 decoder step) and M = 30 (a 30-token source), one thread, in both builds:
 * the baseline SIMD build (f32: multiply then add; int8: i32x4.dot_i16x8_s) and the relaxed build
 * (f32: fused multiply-add; int8: the relaxed 8-bit dot). Also the tied output projection's shape
 * (M 5, K 512, N 32768: f32 matmul_nt vs int8 over the embedding's rows).
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/int8.ts      (or: npm run bench)
 *
 * Interleaved rounds (each round times every variant for ROUND_MS), medians; the ratios are the
 * medians of the per-round ratios, so a slow phase of the machine hits both sides alike.
 * Env: BENCH_ROUNDS (default 15), ROUND_MS (default 60).
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { HatWasm } from "../runtime/wasm.js";
import { loadWasm } from "../runtime/wasm-node.js";
import { packQ8, q8Source, type Q8Exports } from "../runtime/int8.js";
import { linearQuantize } from "../runtime/quant.js";
import { randomFloats, relError } from "./peers.js";
import { gflops, matmulFlops, median, perCallMs, printTable, type Row } from "./timing.js";

export interface Int8Row extends Row { shape: string; build: string; "f32 GF/s": number; "int8 GF/s": number; "int8 / f32": number; "int8 rel err": number }

function builds(): { name: string; wasm: HatWasm }[] {
  const out = [{ name: "SIMD", wasm: loadWasm(readFileSync(fileURLToPath(new URL("../build/hat.wasm", import.meta.url)))) }];
  const relaxed = fileURLToPath(new URL("../build/hat-relaxed.wasm", import.meta.url));
  const bytes = existsSync(relaxed) ? readFileSync(relaxed) : undefined;
  if (bytes && WebAssembly.validate(bytes)) out.push({ name: "relaxed", wasm: loadWasm(bytes) });
  return out;
}

/** One shape in every build: f32 and int8 interleaved. `nt`: W stored [N, K] (the embedding). */
export async function int8Shape(M: number, K: number, N: number, nt = false, rounds = Number(process.env.BENCH_ROUNDS ?? 15), roundMs = Number(process.env.ROUND_MS ?? 60)): Promise<Int8Row[]> {
  const W = randomFloats(K * N, 4242), X = randomFloats(M * K, 99);
  const shape = [nt ? N : K, nt ? K : N];
  const lin = linearQuantize({ shape, data: W }, { bits: 8, axis: nt ? 0 : 1 });
  const packed = packQ8(q8Source({ shape, data: W }, nt ? 0 : 1, lin), K, N);
  const rows: Int8Row[] = [];
  const variants: { build: string; f32: () => void; int8: () => void; err: number; release: () => void }[] = [];
  for (const { name, wasm } of builds()) {
    const x = wasm.x as typeof wasm.x & Q8Exports, m0 = wasm.mark();
    const px = wasm.putF32(X), pw = wasm.putF32(W), py = wasm.alloc(M * N * 4), pq = wasm.alloc(M * N * 4);
    const pp = wasm.alloc(packed.length);
    new Uint8Array(x.memory.buffer, pp, packed.length).set(packed);
    const f32 = nt ? () => x.matmul_nt(py, px, pw, 0, M, K, N, K, K, N) : () => x.matmul(py, px, pw, 0, M, K, N, K, N, N);
    const int8 = () => x.q8_matmul(pq, px, pp, 0, M, K, N, K, 0, N);
    f32(); int8();
    variants.push({ build: name, f32, int8, err: relError(wasm.f32(pq, M * N), wasm.f32(py, M * N)), release: () => wasm.release(m0) });
  }
  for (const v of variants) { await perCallMs(v.f32, 100); await perCallMs(v.int8, 100); }
  const t = variants.map(() => ({ f32: [] as number[], int8: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    const order = r & 1 ? (["int8", "f32"] as const) : (["f32", "int8"] as const);
    for (let i = 0; i < variants.length; i++) for (const k of order) t[i][k].push(await perCallMs(variants[i][k], roundMs));
  }
  const flops = matmulFlops(M, K, N);
  variants.forEach((v, i) => {
    rows.push({
      shape: `${nt ? "nt " : ""}M=${M} K=${K} N=${N}`, build: v.build,
      "f32 GF/s": gflops(flops, median(t[i].f32)), "int8 GF/s": gflops(flops, median(t[i].int8)),
      "int8 / f32": median(t[i].f32.map((f, r) => f / t[i].int8[r])), "int8 rel err": v.err,
    });
    v.release();
  });
  return rows;
}

export async function int8Bench(): Promise<Int8Row[]> {
  return [...await int8Shape(5, 512, 2048), ...await int8Shape(30, 512, 2048), ...await int8Shape(5, 512, 32768, true)];
}

export function printInt8(rows: Int8Row[]): void {
  console.log("\nint8 vs f32 products (one thread; medians of interleaved rounds; 'int8 / f32' the median per-round speed ratio; rel err max|int8 - f32| / max|f32|)");
  printTable(rows, { digits: 2 });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printInt8(await int8Bench());
}
