/**
 * Small-M matmul / matmul_nt: an OLD build against the NEW build, interleaved in one process.
 *
 *   cp build/hat.wasm /tmp/hat-old.wasm        (before changing assembly/matmul.ts)
 *   npx asc assembly/index.ts --target release
 *   node --import tsx bench/kernels-small-m.ts
 *
 * Env: OLD_WASM (default /tmp/hat-old.wasm), NEW_WASM (default build/hat.wasm),
 * ROUNDS (default 11), ROUND_MS (default 40), ONLY (substring filter on the shape name).
 * Each round times OLD then NEW (order alternating per round) for about ROUND_MS each; we report
 * median ms per call and the median of the per-round old/new speed ratios (robust to a noisy VM).
 * Outputs of the two builds are compared first (relative error against each other).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { HatWasm } from "../runtime/wasm.js";
import { loadWasm } from "../runtime/wasm-node.js";
import { randomFloats, relError } from "./peers.js";
import { matmulFlops, median, perCallMs } from "./timing.js";

const oldPath = process.env.OLD_WASM ?? "/tmp/hat-old.wasm";
const newPath = process.env.NEW_WASM ?? fileURLToPath(new URL("../build/hat.wasm", import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 11);
const ROUND_MS = Number(process.env.ROUND_MS ?? 40);
const ONLY = process.env.ONLY ?? "";


type Shape = { name: string; nt: boolean; M: number; K: number; N: number };
const shapes: Shape[] = [];
for (const [K, N] of [[512, 512], [512, 3072], [3072, 512]]) {
  for (const M of [1, 2, 5, 8, 30]) shapes.push({ name: `matmul    M=${M} K=${K} N=${N}`, nt: false, M, K, N });
}
for (const M of [1, 5]) shapes.push({ name: `matmul_nt M=${M} K=512 N=32768`, nt: true, M, K: 512, N: 32768 });

const builds: [string, HatWasm][] = [["old", loadWasm(readFileSync(oldPath))], ["new", loadWasm(readFileSync(newPath))]];

console.log(`old: ${oldPath}\nnew: ${newPath}\nrounds ${ROUNDS} x ${ROUND_MS} ms\n`);
console.log("shape                             old ms    new ms   old GF/s  new GF/s   new/old speed");
for (const s of shapes) {
  if (ONLY && !s.name.includes(ONLY)) continue;
  const { M, K, N, nt } = s;
  const X = randomFloats(M * K, 7 + M), W = randomFloats(K * N, 11), B = randomFloats(N, 13);
  const runs = builds.map(([, w]) => {
    const m0 = w.mark();
    const px = w.putF32(X), pw = w.putF32(W), pb = w.putF32(B), py = w.alloc(M * N * 4);
    const fn = nt ? w.x.matmul_nt : w.x.matmul;
    const run = () => fn(py, px, pw, pb, M, K, N, K, nt ? K : N, N);
    run();
    return { run, out: () => w.f32(py, M * N).slice(), release: () => w.release(m0) };
  });
  const err = relError(runs[1].out(), runs[0].out());
  if (!(err < 1e-5)) throw new Error(`${s.name}: old and new differ (rel ${err})`);
  for (const r of runs) await perCallMs(r.run, 100); // warm-up (tier-up, caches, page faults)
  const t: number[][] = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    const order = r & 1 ? [1, 0] : [0, 1];
    for (const i of order) t[i].push(await perCallMs(runs[i].run, ROUND_MS));
  }
  for (const r of runs) r.release();
  const flops = matmulFlops(M, K, N);
  const [to, tn] = t.map(median);
  const ratio = median(t[0].map((o, r) => o / t[1][r]));
  const gf = (ms: number) => (flops / ms / 1e6).toFixed(1);
  console.log(`${s.name.padEnd(32)} ${to.toFixed(3).padStart(7)}  ${tn.toFixed(3).padStart(7)}   ${gf(to).padStart(7)}   ${gf(tn).padStart(7)}      ${ratio.toFixed(2)}x`);
}
