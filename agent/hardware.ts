/** What the agent reports about its device (runtime/fleet-protocol.ts Hardware). */
import { totalmem } from "node:os";
import { thisDevice } from "../latency/dataset.js";
import type { Hardware } from "../runtime/fleet-protocol.js";

/** The agent's version (reported at enrolment, printed by `hat-agent --version`). */
export const AGENT_VERSION = "0.1.0";

// A function returning a v128 built with i8x16.splat + i8x16.popcnt (wasm-feature-detect's probe).
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
// The same with i8x16.relaxed_swizzle (0xfd 0x100).
const RELAXED_SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]);

/** Whether this engine accepts wasm SIMD (fixed-width) and relaxed SIMD. */
export function wasmFeatures(): { simd: boolean; relaxedSimd: boolean } {
  return { simd: WebAssembly.validate(SIMD_PROBE), relaxedSimd: WebAssembly.validate(RELAXED_SIMD_PROBE) };
}

export function detectHardware(): Hardware {
  const d = thisDevice();
  const f = wasmFeatures();
  return {
    cpu: d.cpu.slice(0, 200), cores: Math.max(1, d.cores), arch: d.arch.slice(0, 32), platform: d.platform.slice(0, 32),
    memory_bytes: totalmem(), wasm_simd: f.simd, wasm_relaxed_simd: f.relaxedSimd,
    node: process.version.slice(0, 32), agent_version: AGENT_VERSION,
  };
}
