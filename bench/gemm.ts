/**
 * GEMM (M=30, K=512, N=2048) and GEMV (M=1) throughput: our scalar and SIMD kernels against
 * onnxruntime-web (wasm, one thread) and onnxruntime-node (native, one thread), in one process.
 *
 *   node --import tsx bench/gemm.ts          (or: npm run bench)
 *
 * The machine is noisy, so implementations are measured in interleaved rounds (each round times
 * every implementation for a short batch) and ratios are the median of the per-round ratios:
 * a slow phase of the machine hits all of them alike. "SIMD+FMA" is the optional relaxed-SIMD
 * build (build/hat-relaxed.wasm; Node 20 runs it with --experimental-wasm-relaxed-simd).
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { HatWasm } from "../runtime/wasm.js";
import { loadWasm } from "../runtime/wasm-node.js";
import { jsMatmul, ortNodeMatmul, ortWebMatmul, randomFloats, relError, REL_TOL } from "./peers.js";
import { gflops, matmulFlops, median, perCallMs, printTable, type Row } from "./timing.js";

type Impl = { name: string; run: () => void | Promise<void> };

export interface GemmResult { shape: string; M: number; K: number; N: number; gflops: Record<string, number>; ratios: Record<string, number>; details: string[] }

export async function gemmShape(shape: string, M: number, K: number, N: number, rounds = Number(process.env.BENCH_ROUNDS ?? 15), roundMs = 60): Promise<GemmResult> {
  const W = randomFloats(K * N, 12345), x = randomFloats(M * K, 777), ref = jsMatmul(M, K, N, x, W);
  const impls: Impl[] = [];
  const ours = (name: string, wasm: HatWasm, naive = false) => {
    const px = wasm.putF32(x), pw = wasm.putF32(W), py = wasm.alloc(M * N * 4);
    const fn = naive ? wasm.x.matmul_naive : wasm.x.matmul;
    fn(py, px, pw, 0, M, K, N, K, N, N);
    const err = relError(wasm.f32(py, M * N), ref);
    if (!(err <= REL_TOL)) throw new Error(`${name}: relative error ${err}`);
    impls.push({ name, run: () => fn(py, px, pw, 0, M, K, N, K, N, N) });
  };
  ours("scalar", loadWasm(), true);
  ours("SIMD", loadWasm());
  const relaxed = fileURLToPath(new URL("../build/hat-relaxed.wasm", import.meta.url));
  const relaxedBytes = existsSync(relaxed) ? readFileSync(relaxed) : undefined;
  if (relaxedBytes && WebAssembly.validate(relaxedBytes)) ours("SIMD+FMA", loadWasm(relaxedBytes));
  const peers = [await ortWebMatmul(M, K, N, W), await ortNodeMatmul(M, K, N, W)];
  for (const p of peers) {
    const err = relError(await p.run(x), ref);
    if (!(err <= REL_TOL)) throw new Error(`${p.name}: relative error ${err}`);
    impls.push({ name: p.name, run: p.prepare(x) });
  }
  const times: Record<string, number[]> = Object.fromEntries(impls.map((i) => [i.name, []]));
  for (const i of impls) await perCallMs(i.run, 100); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const i of impls) times[i.name].push(await perCallMs(i.run, i.name === "scalar" ? 1 : roundMs));
  }
  for (const p of peers) await p.release();
  const flops = matmulFlops(M, K, N);
  const g = Object.fromEntries(impls.map((i) => [i.name, gflops(flops, median(times[i.name]))]));
  const perRound = (a: string, b: string) => median(times[a].map((t, r) => times[b][r] / t));
  const [web, node] = peers.map((p) => p.name);
  return {
    shape, M, K, N, gflops: g,
    ratios: {
      "SIMD / scalar": perRound("SIMD", "scalar"), "SIMD / ort-web": perRound("SIMD", web), "SIMD / ort-node": perRound("SIMD", node),
      ...(times["SIMD+FMA"] ? { "FMA / ort-web": perRound("SIMD+FMA", web), "FMA / ort-node": perRound("SIMD+FMA", node) } : {}),
    },
    details: peers.map((p) => `${p.name}: ${p.detail}`),
  };
}

export async function gemmBench(): Promise<GemmResult[]> {
  return [await gemmShape("GEMM", 30, 512, 2048), await gemmShape("GEMV", 1, 512, 2048)];
}

export function printGemm(results: GemmResult[]): void {
  for (const d of new Set(results.flatMap((r) => r.details))) console.log(d);
  const rows: Row[] = results.map((r) => {
    const web = Object.keys(r.gflops).find((n) => n.startsWith("ort-web"))!, node = Object.keys(r.gflops).find((n) => n.startsWith("ort-node"))!;
    return {
      shape: r.shape, M: r.M, K: r.K, N: r.N,
      "scalar GF/s": r.gflops.scalar, "SIMD GF/s": r.gflops.SIMD, "SIMD+FMA GF/s": r.gflops["SIMD+FMA"] ?? null,
      "ort-web GF/s": r.gflops[web], "ort-node GF/s": r.gflops[node],
      ...r.ratios,
    };
  });
  console.log("\nGFLOP/s (median of interleaved rounds, one thread); ratios are medians of per-round ratios");
  printTable(rows, { digits: 2 });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printGemm(await gemmBench());
}
