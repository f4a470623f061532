/**
 * Training throughput of the tfjs SuperTransformer (not a test): a few Adam updates of one fixed
 * SubTransformer at a fixed reference size (2 encoder and 2 decoder layers, d = 128, FFN 512,
 * 4 heads, vocabulary 1000, batches of at most 2560 padded tokens cut from a length-sorted random
 * corpus as the trainer cuts them) on the selected backend; prints
 * target tokens per second and where the time of one update goes (tf.profile, by kernel).
 *
 *   node --import tsx train/bench-throughput.ts [--steps 5] [--tokens 2560] [--threads 2] [--profile]
 *   HAT_BACKEND=cpu node --import tsx train/bench-throughput.ts
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { largestArch } from "../runtime/arch-sample.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Space } from "../runtime/types.js";
import { selectBackend } from "./backend.js";
import type { PaddedBatch } from "./batch.js";
import { BatchStream, type TokenPair } from "./batching.js";
import { Adam } from "./optim.js";
import { DataParallel } from "./data-parallel.js";
import { trainStep } from "./step.js";
import { SuperTransformer } from "./supertransformer.js";

const { values: args } = parseArgs({
  options: {
    steps: { type: "string", default: "5" },
    tokens: { type: "string", default: "2560" },
    len: { type: "string", default: "32" },
    profile: { type: "boolean", default: false },
    threads: { type: "string", default: "1" },
  },
});
const STEPS = Number(args.steps), TOKENS = Number(args.tokens), LEN = Number(args.len), THREADS = Number(args.threads);

const SPACE: Space = {
  encoderEmbedChoices: [128], decoderEmbedChoices: [128],
  encoderFfnChoices: [512], decoderFfnChoices: [512],
  encoderLayerChoices: [2], decoderLayerChoices: [2],
  encoderHeadChoices: [4], decoderSelfHeadChoices: [4], decoderCrossHeadChoices: [4],
  endeLayerChoices: [1], qkvDim: 128,
};
const V = 1000;

/**
 * Batches as the trainer makes them (./batching.ts: a corpus sorted by length, cut into batches of
 * at most `tokens` padded tokens, shuffled): a random corpus of pairs with lengths LEN/2..LEN.
 */
function randomCorpus(n: number, seed: number): TokenPair[] {
  const r = mulberry32(seed), word = () => 4 + Math.floor(r() * (V - 4));
  return Array.from({ length: n }, () => {
    const ls = Math.floor(LEN / 2 + r() * (LEN / 2 + 1)), lt = Math.floor(LEN / 2 + r() * (LEN / 2));
    return { src: [...Array.from({ length: ls - 1 }, word), 2], tgt: Array.from({ length: lt }, word) };
  });
}
const stream = new BatchStream(randomCorpus(4000, 7), TOKENS, 1);
const nextBatch = (): PaddedBatch => stream.next();

const choice = await selectBackend();
const st = new SuperTransformer(SPACE, V, { seed: 1 });
const arch = largestArch(SPACE);
const opt = new Adam();
const stepOptions = { lr: 5e-4, rates: { dropout: 0.1 }, clipNorm: 1 };
const parallel = THREADS > 1 ? await DataParallel.start(st, THREADS, choice.name) : undefined;
const step = async () => parallel ? parallel.step(opt, arch, nextBatch(), stepOptions) : trainStep(st, opt, arch, nextBatch(), stepOptions);

const b0 = nextBatch();
console.log(`first batch: ${b0.B} sentences, src ${b0.B}x${b0.S}, tgt ${b0.B}x${b0.T}, ${b0.tokens} target tokens`);
let t = performance.now();
await step(); // warm-up: kernel compilation, allocations
console.log(`warm-up step: ${(performance.now() - t).toFixed(0)} ms`);
let tokens = 0;
t = performance.now();
for (let i = 1; i <= STEPS; i++) {
  const s0 = performance.now();
  const r = await step();
  tokens += r.tokens;
  console.log(`step ${i}: loss ${r.loss.toFixed(3)}  ${r.tokens} tokens  ${(performance.now() - s0).toFixed(0)} ms`);
}
const secs = (performance.now() - t) / 1000;
console.log(`${choice.name}, ${THREADS} thread${THREADS > 1 ? "s" : ""}: ${(tokens / secs).toFixed(0)} target tokens/s (${STEPS} steps, ${(secs / STEPS * 1000).toFixed(0)} ms/step)`);

if (args.profile) {
  const prof = await tf.profile(() => { trainStep(st, opt, arch, nextBatch(), stepOptions); });
  const by = new Map<string, { ms: number; n: number }>();
  let total = 0;
  const backendName = tf.getBackend();
  for (const k of prof.kernels) {
    if (!tf.getKernel(k.name, backendName)) continue; // op-level wrappers (customGrad, fused ops) nest kernels
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += ms; e.n++; total += ms;
    by.set(k.name, e);
  }
  console.log(`kernel time ${total.toFixed(0)} ms in ${prof.kernels.length} kernel calls; top kernels:`);
  // the products split: attention's batched [B, H, T, T] ones vs the 2-d (linear layers, logits)
  let batched = 0, flat = 0;
  for (const k of prof.kernels) {
    if (k.name !== "BatchMatMul" || typeof k.kernelTimeMs !== "number") continue;
    if (k.inputShapes[0] && k.inputShapes[0].length > 2) batched += k.kernelTimeMs;
    else flat += k.kernelTimeMs;
  }
  console.log(`BatchMatMul: ${flat.toFixed(0)} ms in 2-d products, ${batched.toFixed(0)} ms in attention's batched products`);
  if (process.env.HAT_BENCH_SHAPES) {
    const slow = prof.kernels.filter((k) => typeof k.kernelTimeMs === "number" && k.kernelTimeMs > 20);
    for (const k of slow) console.log(`  ${k.name} ${JSON.stringify(k.inputShapes)} ${(k.kernelTimeMs as number).toFixed(0)} ms ${k.extraInfo}`);
  }
  for (const [name, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
    console.log(`  ${name.padEnd(22)} ${e.ms.toFixed(0).padStart(6)} ms  ${(100 * e.ms / total).toFixed(1).padStart(5)} %  ${e.n} calls`);
  }
}
await parallel?.close();
st.dispose();
opt.dispose();
