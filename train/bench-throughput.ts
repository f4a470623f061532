/**
 * Training throughput of the tfjs SuperTransformer (not a test): a few Adam updates of one fixed
 * SubTransformer at a fixed reference size (2 encoder and 2 decoder layers, d = 128, FFN 512,
 * 4 heads, vocabulary 1000, batches of at most 2560 padded tokens cut from a length-sorted random
 * corpus as the trainer cuts them) on the selected backend; prints
 * target tokens per second and where the time of one update goes (tf.profile, by kernel).
 *
 *   node --import tsx train/bench-throughput.ts [--steps 5] [--tokens 2560] [--threads 2] [--profile]
 *     [--embed 128 --ffn 512 --layers 2 --heads 4 --vocab 1000] [--compare-all-rows]
 *   HAT_BACKEND=cpu node --import tsx train/bench-throughput.ts
 *
 * --compare-all-rows interleaves, one thread, updates that project every padded target position
 * onto the vocabulary (as before the trainer scored real targets only) with the trainer's, and
 * prints the ratio of their medians.
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
import { labelSmoothedLoss } from "./loss.js";
import { applyGradients, trainStep } from "./step.js";
import { SuperTransformer } from "./supertransformer.js";

const { values: args } = parseArgs({
  options: {
    steps: { type: "string", default: "5" },
    tokens: { type: "string", default: "2560" },
    len: { type: "string", default: "32" },
    profile: { type: "boolean", default: false },
    threads: { type: "string", default: "1" },
    embed: { type: "string", default: "128" }, ffn: { type: "string", default: "512" }, layers: { type: "string", default: "2" },
    heads: { type: "string", default: "4" }, vocab: { type: "string", default: "1000" },
    "compare-all-rows": { type: "boolean", default: false },
  },
});
const STEPS = Number(args.steps), TOKENS = Number(args.tokens), LEN = Number(args.len), THREADS = Number(args.threads);
const D = Number(args.embed), F = Number(args.ffn), L = Number(args.layers), H = Number(args.heads);

const SPACE: Space = {
  encoderEmbedChoices: [D], decoderEmbedChoices: [D],
  encoderFfnChoices: [F], decoderFfnChoices: [F],
  encoderLayerChoices: [L], decoderLayerChoices: [L],
  encoderHeadChoices: [H], decoderSelfHeadChoices: [H], decoderCrossHeadChoices: [H],
  endeLayerChoices: [1], qkvDim: D,
};
const V = Number(args.vocab);

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

if (args["compare-all-rows"]) {
  // the update as it was: logits for all B·T positions, pads masked in the loss
  const allRows = (batch: PaddedBatch) => {
    const src = tf.tensor2d(batch.src, [batch.B, batch.S], "int32"), prev = tf.tensor2d(batch.prev, [batch.B, batch.T], "int32");
    const target = tf.tensor1d(batch.target, "int32");
    const { value, grads } = tf.variableGrads(() => tf.div(labelSmoothedLoss(st.forward(arch, src, prev, { training: true, rates: stepOptions.rates }), target, 0.1).loss, batch.tokens) as tf.Scalar, [...st.variables.values()]);
    const byName = new Map<string, tf.Tensor>();
    for (const [name, v] of st.variables) if (grads[v.name]) byName.set(name, grads[v.name]);
    applyGradients(st, opt, byName, stepOptions.lr, stepOptions.clipNorm);
    tf.dispose([src, prev, target, value]);
  };
  const ms = { all: [] as number[], real: [] as number[] };
  for (let i = 0; i < STEPS; i++) {
    const batch = nextBatch();
    for (const which of i % 2 ? ["real", "all"] as const : ["all", "real"] as const) {
      const t0 = performance.now();
      if (which === "all") allRows(batch); else trainStep(st, opt, arch, batch, stepOptions);
      ms[which].push(performance.now() - t0);
    }
  }
  const med = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  console.log(`all positions projected: median ${med(ms.all).toFixed(0)} ms/update; real targets only: ${med(ms.real).toFixed(0)} ms/update; speed-up ${(med(ms.all) / med(ms.real)).toFixed(3)}x (${STEPS} interleaved pairs)`);
}

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
    const slow = prof.kernels.filter((k) => typeof k.kernelTimeMs === "number" && k.kernelTimeMs > Number(process.env.HAT_BENCH_SHAPES));
    for (const k of slow) console.log(`  ${k.name} ${JSON.stringify(k.inputShapes)} ${(k.kernelTimeMs as number).toFixed(0)} ms ${k.extraInfo}`);
  }
  for (const [name, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
    console.log(`  ${name.padEnd(22)} ${e.ms.toFixed(0).padStart(6)} ms  ${(100 * e.ms / total).toFixed(1).padStart(5)} %  ${e.n} calls`);
  }
}
await parallel?.close();
st.dispose();
opt.dispose();
