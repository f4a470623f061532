/** Shared test helpers: seeded random data and error measures. */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { validateArch } from "../runtime/arch.js";
import { readWasmBuilds } from "../runtime/wasm-node.js";
import type { Arch, Space, ValidArch } from "../runtime/types.js";

/** Seeded PRNG (mulberry32), shared with the runtime. */
export { mulberry32 as rng } from "../runtime/rng.js";
import { mulberry32 as rng } from "../runtime/rng.js";

/**
 * A hand-written arch (a literal, or an edited copy) for code that takes a ValidArch: validated
 * like any input (validateArch, no space), so a test cannot hand in what production code never
 * could. An arch outside a particular space or model passes, for the checks that refuse it.
 */
export function validArch(a: Arch): ValidArch {
  return validateArch(a);
}

/** n uniform values in [-1, 1) (never all zero). */
export function randArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed), a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** max |a - b| / max |b|: error relative to the reference's magnitude. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/**
 * The wasm builds in build/ that this Node can run (runtime/wasm-node.ts readWasmBuilds): the
 * baseline SIMD build, and the relaxed-SIMD one when this engine accepts it (Node 20 needs
 * --experimental-wasm-relaxed-simd); a build it cannot run is skipped with a message.
 */
export function runnableBuilds(): { name: string; bytes: Uint8Array<ArrayBuffer> }[] {
  return readWasmBuilds().flatMap(({ name, bytes }) => {
    if (!WebAssembly.validate(bytes)) { console.log(`skipping ${name}: this Node cannot run it`); return []; }
    return [{ name, bytes }];
  });
}
export const sharedData = fileURLToPath(new URL("../../shared/data", import.meta.url));
export const hasShared = existsSync(sharedData);

/** A tiny design space with heterogeneous choices (De != Dd, 1..3 encoder layers attended). */
export const TINY_SPACE: Space = {
  encoderEmbedChoices: [32, 24], decoderEmbedChoices: [36, 28],
  encoderFfnChoices: [48, 20], decoderFfnChoices: [44, 24],
  encoderLayerChoices: [3, 2], decoderLayerChoices: [3, 2, 1],
  encoderHeadChoices: [4, 2], decoderSelfHeadChoices: [4, 2], decoderCrossHeadChoices: [4, 1],
  endeLayerChoices: [1, 2, 3], qkvDim: 16,
};
