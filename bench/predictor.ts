/**
 * Latency predictor throughput (npm run bench:predictor): architectures per second through
 * Predictor.predict (space check, features, linear part, MLP; plain JavaScript, no tfjs), the
 * number the evolutionary search lives on. Target: >= 100,000 architectures/s on one thread.
 *
 * Variants (interleaved rounds of 100,000 random architectures of the space of HAT's latency
 * datasets, which holds the WMT'14 space; median):
 *   1. the default predictor: "sums" features (22), MLP 22-64-64-2 (encoder, decoder)
 *   2. HAT's 10 features, MLP 10-64-64-1
 *   3. the "layers" encoding (22 + 36 per-layer), MLP 58-64-64-2
 *   4. HAT's own size: 10-400-400-400-400-1 (for scale: why the default is smaller)
 *   5. a predictor file given as `--model FILE`
 * Weights are random: the time does not depend on their values.
 */
import { sampleArch } from "../runtime/arch-sample.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Arch, Space } from "../runtime/types.js";
import { featureCount, HAT_LATENCY_SPACE, type FeatureKind } from "../latency/features.js";
import { Predictor, type TargetKind } from "../latency/predictor.js";
import { median, printTable } from "./timing.js";

function randomPredictor(kind: FeatureKind, hidden: number[], target: TargetKind, space: Space, seed = 1): Predictor {
  const spec = { kind, maxEncoderLayers: kind === "layers" ? 6 : 0, maxDecoderLayers: kind === "layers" ? 6 : 0 };
  const K = featureCount(spec), O = target === "total" ? 1 : 2, sizes = [K, ...hidden, O];
  const r = mulberry32(seed);
  const vec = <T>(n: number, f: () => T): T[] => Array.from({ length: n }, f);
  return new Predictor({
    device: "random weights", space,
    features: { ...spec, mean: vec(K, () => 1000 * r()), std: vec(K, () => 1 + 100 * r()), min: vec(K, () => 0), max: vec(K, () => 1e9) },
    linear: { w: vec(O, () => vec(K, () => r() - 0.5)), b: vec(O, () => 100) },
    target: { kind: target, mean: vec(O, () => 0), std: vec(O, () => 10) },
    sizes,
    weights: sizes.slice(0, -1).map((n, l) => ({
      w: Float32Array.from(vec(n * sizes[l + 1], () => (r() - 0.5) / Math.sqrt(n))),
      b: Float32Array.from(vec(sizes[l + 1], () => 0.01)),
    })),
    testSet: { measured: [], predicted: [] },
  });
}

const args = process.argv.slice(2);
const modelPath = args[args.indexOf("--model") + 1];
const N = 100_000, ROUNDS = 7;
const variants: [string, Predictor, number][] = [
  ["sums 22-64-64-2 (default)", randomPredictor("sums", [64, 64], "split", HAT_LATENCY_SPACE), N],
  ["hat 10-64-64-1", randomPredictor("hat", [64, 64], "total", HAT_LATENCY_SPACE), N],
  ["layers 58-64-64-2", randomPredictor("layers", [64, 64], "split", HAT_LATENCY_SPACE), N],
  ["HAT's size 10-400x4-1", randomPredictor("hat", [400, 400, 400, 400], "total", HAT_LATENCY_SPACE), N / 20],
];
if (args.includes("--model") && modelPath) {
  const p = await Predictor.load(modelPath);
  variants.push([`file ${modelPath}`, p, N]);
}
const spaceOf = (p: Predictor) => p.space ?? HAT_LATENCY_SPACE;
const archCache = new Map<Space, Arch[]>();
const archsFor = (p: Predictor): Arch[] => {
  const s = spaceOf(p);
  if (!archCache.has(s)) {
    const r = mulberry32(7);
    archCache.set(s, Array.from({ length: N }, () => sampleArch(s, r)));
  }
  return archCache.get(s)!;
};

const rates = variants.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  variants.forEach(([, p, n], v) => {
    const archs = archsFor(p).slice(0, n);
    const t0 = performance.now();
    const out = p.predict(archs);
    const s = (performance.now() - t0) / 1000;
    if (!Number.isFinite(out[0])) throw new Error("prediction is not finite");
    if (round > 0) rates[v].push(n / s); // round 0 warms the JIT
  });
}
console.log(`Predictor.predict throughput, ${N.toLocaleString()} random architectures a call (HAT's variant: ${(N / 20).toLocaleString()}), median of ${ROUNDS - 1} rounds, one thread:`);
printTable(variants.map(([name], v) => ({
  predictor: name,
  "archs/s": Math.round(median(rates[v])),
  "min archs/s": Math.round(Math.min(...rates[v])),
  "us/arch": 1e6 / median(rates[v]),
  ">= 100k/s": median(rates[v]) >= 100_000 ? "yes" : "no",
})), { digits: 2 });
