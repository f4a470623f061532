/**
 * The benchmark suite (npm run bench): kernels against onnxruntime in the same run, then whole
 * SubTransformers under HAT's latency protocol, with the decode's effective GFLOP/s against the GEMM's;
 * int8 products against f32 (bench/int8.ts), products split over threads (bench/threads.ts), and
 * one config's whole decode f32 vs int8 on 1 and 2 threads against onnxruntime-web's GEMM rate in
 * the same rounds (bench/decode.ts).
 */
import { existsSync } from "node:fs";
import { decodeBench, printDecode, XEON_137 } from "./decode.js";
import { gemmBench, printGemm } from "./gemm.js";
import { int8Bench, printInt8 } from "./int8.js";
import { latencyBench } from "./latency.js";
import { printTable } from "./timing.js";
import { threadsBench } from "./threads.js";

const gemm = await gemmBench();
printGemm(gemm);
console.log("\nhat profile of HAT's WMT'14 En-De Xeon SubTransformers (src 30, tgt 30, beam 5, vocab 32768), one thread:");
const lat = latencyBench();
const gemmGf = gemm[0].gflops.SIMD;
printTable(lat.map((r) => ({ ...r, "vs GEMM": r["GFLOP/s"] / gemmGf })), { digits: 2 });
console.log(`\n'vs GEMM': the whole decode's effective GFLOP/s over the GEMM kernel's ${gemmGf.toFixed(1)} GFLOP/s above.`);
console.log("hat_ms: HAT's published latency for the config (PyTorch on their Xeon, multi-threaded): a reference, not a peer.");
printInt8(await int8Bench());
console.log("\none weight product on 1 thread and split over 2 (bench/threads.ts), per call:");
printTable(await threadsBench(), { digits: 2 });
if (existsSync(XEON_137)) printDecode(await decodeBench());
else console.log(`\n(${XEON_137} absent: no whole-decode bench)`);
