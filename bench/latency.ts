/**
 * `hat profile` of HAT's six WMT'14 En-De Xeon SubTransformers (../shared/data/hat-configs), with
 * the effective GFLOP/s of the whole encode + decode next to HAT's published Xeon latency
 * (measured by HAT with PyTorch on a multi-core Xeon: a reference point, not a peer).
 *
 *   node --import tsx bench/latency.ts      (BENCH_PROFILE_RUNS, default 10)
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadArch } from "../runtime/arch-files.js";
import { largestArch, smallestArch } from "../runtime/arch-sample.js";
import { DEMO_SPACE } from "../runtime/spaces.js";
import { protocolFlops } from "../runtime/flops.js";
import { profileArch } from "../runtime/profile.js";
import { DEFAULT_PROTOCOL } from "../runtime/protocol.js";
import type { ValidArch } from "../runtime/types.js";
import { printTable, type Row } from "./timing.js";

const CONFIGS = fileURLToPath(new URL("../../shared/data/hat-configs/wmt14.en-de", import.meta.url));

export interface LatencyRow extends Row { config: string; hat_ms: number | null; encoder_ms: number; decoder_ms: number; total_ms: number; params_M: number; "GFLOP/s": number }

export function benchArchs(): { name: string; arch: ValidArch; hatMs: number | null }[] {
  if (existsSync(CONFIGS)) {
    return readdirSync(CONFIGS)
      .filter((f) => /^HAT_wmt14ende_xeon@.*\.yml$/.test(f))
      .map((f) => ({ name: f.replace(/^HAT_wmt14ende_|\.yml$/g, ""), arch: loadArch(join(CONFIGS, f)), hatMs: Number(/@([\d.]+)ms/.exec(f)?.[1] ?? NaN) }))
      .sort((a, b) => (a.hatMs ?? 0) - (b.hatMs ?? 0));
  }
  console.log(`(${CONFIGS} absent: profiling the demo space's extremes instead)`);
  return [
    { name: "demo smallest", arch: smallestArch(DEMO_SPACE), hatMs: null },
    { name: "demo largest", arch: largestArch(DEMO_SPACE), hatMs: null },
  ];
}

export function latencyBench(runs = Number(process.env.BENCH_PROFILE_RUNS ?? 10)): LatencyRow[] {
  const rows: LatencyRow[] = [];
  for (const { name, arch, hatMs } of benchArchs()) {
    const r = profileArch(arch, { ...DEFAULT_PROTOCOL, runs, warmup: 2 });
    const f = protocolFlops(arch, r.protocol);
    rows.push({
      config: name, hat_ms: hatMs, encoder_ms: r.encoder_ms, decoder_ms: r.decoder_ms, total_ms: r.total_ms,
      params_M: r.params / 1e6, "GFLOP/s": (f.encoder + f.decoder) / r.total_ms / 1e6,
    });
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = latencyBench();
  console.log("hat profile (src 30, tgt 30, beam 5, vocab 32768; trimmed mean) in this process's wasm runtime, one thread");
  printTable(rows, { digits: 2 });
}
