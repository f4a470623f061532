/**
 * The whole decode of one of HAT's SubTransformers (default `xeon@137.9ms`) under HAT's protocol
 * (src 30, tgt 30, beam 5, vocab 32768: runtime/profile.ts), f32 against int8 products and k-means
 * 4-bit products on the packed indices (random weights quantized as `hat quantize` would), on one
 * thread and on BENCH_THREADS (default "1,2"), with the effective GFLOP/s (HAT's flop count over encoder + decoder time) against
 * onnxruntime-web's GEMM rate (M 30, K 512, N 2048, one thread) and our f32 GEMM's, measured in
 * the same rounds:
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/decode.ts [ARCH.yml]   (or: npm run bench)
 *
 * Each round: one measurement of each form (order rotating; each BENCH_PROFILE_RUNS
 * runs after 2 warm-up, trimmed mean), then ort-web's and our GEMM for ROUND_MS each. Medians over
 * BENCH_DECODE_ROUNDS rounds (default 5); ratios are medians of the per-round ratios. The logits'
 * relative error of int8 against f32 on the same random weights is measured once beside.
 */
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadArch } from "../runtime/arch-files.js";
import { protocolFlops } from "../runtime/flops.js";
import { profileArch } from "../runtime/profile.js";
import { DEFAULT_PROTOCOL } from "../runtime/protocol.js";
import { loadWasm, loadWasmThreads } from "../runtime/wasm-node.js";
import type { HatWasm } from "../runtime/wasm.js";
import { WasmSubTransformer, WasmWeights } from "../runtime/wasm-model.js";
import { archTensorShapes, randomTensors } from "../runtime/weights.js";
import { SPECIALS, type ValidArch } from "../runtime/types.js";
import { ortWebMatmul, randomFloats } from "./peers.js";
import { gflops, matmulFlops, median, perCallMs, printTable, type Row } from "./timing.js";

export const XEON_137 = fileURLToPath(new URL("../../shared/data/hat-configs/wmt14.en-de/HAT_wmt14ende_xeon@137.9ms_bleu@25.8.yml", import.meta.url));

/** ||int8 - f32|| / ||f32|| over the logits of `steps` beam-5 decoder steps on the same random weights. */
export function logitsRelError(arch: ValidArch, vocab = DEFAULT_PROTOCOL.vocab, steps = 4): number {
  const tensors = randomTensors(archTensorShapes(arch, vocab), 1);
  const run = (quant: "f32" | "int8") => {
    const wasm = loadWasm();
    const w = new WasmWeights(wasm, { tensors, vocabSize: vocab, positionDims: { encoder: arch.encoderEmbedDim, decoder: arch.decoderEmbedDim } }, 64, { quant });
    const s = new WasmSubTransformer(w, arch).begin([Array.from({ length: 30 }, (_, i) => 4 + ((i * 7919) % (vocab - 4)))], { beam: 5, maxLen: steps });
    const out: Float32Array[] = [], tok = new Int32Array(5).fill(SPECIALS.eos);
    for (let t = 0; t < steps; t++) { out.push(s.step(tok, t).slice()); tok.forEach((_, b) => { tok[b] = 4 + ((t * 31 + b * 977) % (vocab - 4)); }); }
    return out;
  };
  const a = run("f32"), b = run("int8");
  let d = 0, n = 0;
  a.forEach((r, t) => r.forEach((v, i) => { d += (b[t][i] - v) ** 2; n += v * v; }));
  return Math.sqrt(d / n);
}

/** One form of the decode: products and threads. */
interface Form { quant: "f32" | "int8" | "kmeans4"; threads: number }

export async function decodeBench(path = XEON_137, rounds = Number(process.env.BENCH_DECODE_ROUNDS ?? 5), runs = Number(process.env.BENCH_PROFILE_RUNS ?? 10), roundMs = Number(process.env.ROUND_MS ?? 300)): Promise<{ rows: Row[]; summary: Row[] }> {
  const arch = loadArch(path);
  const threadCounts = (process.env.BENCH_THREADS ?? "1,2").split(",").map(Number);
  const forms: Form[] = threadCounts.flatMap((threads) => (["f32", "int8", "kmeans4"] as const).map((quant) => ({ quant, threads })));
  const key = (f: Form) => `${f.quant} x${f.threads}`;
  const instances = new Map<number, HatWasm>();
  for (const n of threadCounts) instances.set(n, await loadWasmThreads(n));
  const M = 30, K = 512, N = 2048, W = randomFloats(K * N, 12345), X = randomFloats(M * K, 777);
  const web = await ortWebMatmul(M, K, N, W), webRun = web.prepare(X);
  const wasm = loadWasm(), px = wasm.putF32(X), pw = wasm.putF32(W), py = wasm.alloc(M * N * 4);
  const ours = () => wasm.x.matmul(py, px, pw, 0, M, K, N, K, N, N);
  await perCallMs(webRun, 200); await perCallMs(ours, 200);
  const t = new Map<string, number[]>(forms.map((f) => [key(f), []]));
  const enc = new Map<string, number[]>(forms.map((f) => [key(f), []]));
  const web_: number[] = [], gemm: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < forms.length; i++) { // the order rotates round by round
      const f = forms[(i + r) % forms.length];
      const m = profileArch(arch, { ...protocol(runs), quant: f.quant, threads: f.threads }, { wasm: instances.get(f.threads)! });
      t.get(key(f))!.push(m.total_ms); enc.get(key(f))!.push(m.encoder_ms);
    }
    web_.push(await perCallMs(webRun, roundMs));
    gemm.push(await perCallMs(ours, roundMs));
  }
  await web.release();
  for (const w of instances.values()) w.close();
  const f = protocolFlops(arch, protocol(runs)), flops = f.encoder + f.decoder, gemmFlops = matmulFlops(M, K, N);
  const gf = (ms: number) => flops / ms / 1e6;
  const perRound = (fn: (r: number) => number) => median(web_.map((_, r) => fn(r)));
  const base = t.get("f32 x1")!;
  const rows: Row[] = forms.map((form) => {
    const ts = t.get(key(form))!, es = enc.get(key(form))!;
    return {
      products: form.quant, threads: form.threads, build: instances.get(form.threads)!.build ?? "?",
      total_ms: median(ts), encoder_ms: median(es), decoder_ms: median(ts) - median(es),
      "GFLOP/s": gf(median(ts)),
      "vs f32 x1": base ? perRound((r) => base[r] / ts[r]) : Number.NaN,
      "vs ort-web GEMM": perRound((r) => gf(ts[r]) / gflops(gemmFlops, web_[r])),
      "vs our GEMM": perRound((r) => gf(ts[r]) / gflops(gemmFlops, gemm[r])),
    };
  });
  const summary: Row[] = [{
    config: path.split("/").pop()!.replace(/^HAT_wmt14ende_|\.yml$/g, ""), "GFLOP": flops / 1e9,
    "ort-web GEMM GF/s": gflops(gemmFlops, median(web_)), "our GEMM GF/s": gflops(gemmFlops, median(gemm)),
    "int8 logits rel err": logitsRelError(arch).toExponential(2),
  }];
  return { rows, summary };
}

const protocol = (runs: number) => ({ ...DEFAULT_PROTOCOL, runs, warmup: 2 });

export function printDecode(d: { rows: Row[]; summary: Row[] }): void {
  console.log("\nwhole decode under HAT's protocol (src 30, tgt 30, beam 5, vocab 32768), f32 vs int8 products on 1 and more threads (BENCH_THREADS); medians of interleaved rounds");
  printTable(d.summary, { digits: 2 });
  printTable(d.rows, { digits: 2 });
  console.log("'vs ort-web GEMM' / 'vs our GEMM': the decode's effective GFLOP/s over the GEMM rate (M 30, K 512, N 2048) in the same round; 'vs f32 x1': speedup over one thread f32 in the same round; 'int8 logits rel err' ||int8 - f32|| / ||f32|| of 4 decoder steps (threads change no logit: test/runtime/threads.test.ts).");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = process.argv[2] ?? XEON_137;
  if (existsSync(path)) printDecode(await decodeBench(path));
  else console.log(`(${path} absent: no whole-decode bench)`);
}
