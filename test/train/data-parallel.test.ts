import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { mulberry32 } from "../../runtime/rng.js";
import { SPECIALS } from "../../runtime/types.js";
import { selectBackend } from "../../train/backend.js";
import { padBatch, splitBatch, type PaddedBatch } from "../../train/batch.js";
import { DataParallel } from "../../train/data-parallel.js";
import { initialTensors } from "../../train/init.js";
import { Adam } from "../../train/optim.js";
import { trainStep } from "../../train/step.js";
import { SuperTransformer } from "../../train/supertransformer.js";
import { relErr, TINY_SPACE, validArch } from "../helpers.js";

const V = 40;

/** `n` random pairs sorted by length (as the batcher sorts them). */
function randomBatch(n: number, seed: number): PaddedBatch {
  const r = mulberry32(seed), w = () => 4 + Math.floor(r() * (V - 4));
  const pairs = Array.from({ length: n }, () => ({
    src: [...Array.from({ length: 1 + Math.floor(r() * 9) }, w), SPECIALS.eos],
    tgt: Array.from({ length: 1 + Math.floor(r() * 9) }, w),
  })).sort((a, b) => a.tgt.length - b.tgt.length);
  return padBatch(pairs.map((p) => p.src), pairs.map((p) => p.tgt));
}

/** Row b of a padded array of width W, without its padding. */
const row = (a: Int32Array, W: number, b: number) => [...a.subarray(b * W, (b + 1) * W)].filter((x) => x !== SPECIALS.pad);

describe("splitBatch", () => {
  it("keeps every row once, in order, trimmed, with tokens that add up", () => {
    for (const [n, k] of [[1, 2], [2, 2], [7, 2], [30, 3], [5, 8]]) {
      const batch = randomBatch(n, n * 10 + k);
      const shards = splitBatch(batch, k);
      expect(shards.length).toBe(Math.min(n, k));
      expect(shards.reduce((s, x) => s + x.B, 0)).toBe(batch.B);
      expect(shards.reduce((s, x) => s + x.tokens, 0)).toBe(batch.tokens);
      let b = 0;
      for (const s of shards) {
        expect(s.B).toBeGreaterThan(0);
        for (let i = 0; i < s.B; i++, b++) {
          expect(row(s.src, s.S, i)).toEqual(row(batch.src, batch.S, b));
          expect(row(s.prev, s.T, i)).toEqual(row(batch.prev, batch.T, b));
          expect(row(s.target, s.T, i)).toEqual(row(batch.target, batch.T, b));
        }
        // trimmed: some row uses the last column
        expect(Array.from({ length: s.B }, (_, i) => s.target[i * s.T + s.T - 1]).some((x) => x !== SPECIALS.pad)).toBe(true);
      }
    }
  });

  it("balances target tokens between shards", () => {
    const batch = randomBatch(60, 5);
    const [a, b] = splitBatch(batch, 2);
    expect(Math.abs(a.tokens - b.tokens)).toBeLessThanOrEqual(10);
  });
});

describe("DataParallel (wasm, 2 threads)", () => {
  it("makes the same updates as one thread, and reports a failing shard without hanging", async () => {
    const backend = await selectBackend("wasm", () => {});
    const tensors = initialTensors(TINY_SPACE, V, 3);
    const one = new SuperTransformer(TINY_SPACE, V, { tensors }), two = new SuperTransformer(TINY_SPACE, V, { tensors });
    const opt1 = new Adam(), opt2 = new Adam();
    const dp = await DataParallel.start(two, 2, backend.name);
    try {
      expect(dp.threads).toBe(2);
      const r = mulberry32(9);
      // the last update is a sandwich: three SubTransformers' gradients on one batch, summed
      const archs = [largestArch(TINY_SPACE), sampleArch(TINY_SPACE, r), smallestArch(TINY_SPACE), largestArch(TINY_SPACE),
        [largestArch(TINY_SPACE), smallestArch(TINY_SPACE), sampleArch(TINY_SPACE, r)]];
      for (const [i, arch] of archs.entries()) {
        const batch = randomBatch(24, 100 + i);
        const o = { lr: 2e-3, clipNorm: 0.5 }; // no dropout: both sides compute the same function
        const a = trainStep(one, opt1, arch, batch, o);
        const b = await dp.step(opt2, arch, batch, o);
        expect(b.tokens).toBe(a.tokens);
        expect(relErr(new Float64Array([b.loss, b.nll, b.gradNorm]), new Float64Array([a.loss, a.nll, a.gradNorm]))).toBeLessThan(1e-4);
      }
      const w1 = one.toTensorMap(), w2 = two.toTensorMap();
      let worst = 0;
      for (const [name, t] of w1) {
        // a key bias adds the same q·b to every score of a query: softmax ignores it, its gradient is
        // rounding noise, and Adam turns noise into lr-sized steps either way
        if (/\.k\.b$/.test(name)) continue;
        worst = Math.max(worst, relErr(w2.get(name)!.data, t.data));
      }
      console.log(`2-thread vs 1-thread weights after ${archs.length} updates: max rel err ${worst.toExponential(2)}`);
      // (measured 1.2e-4 at worst, a ReLU layer's bias: near-zero gradients of dead units differ
      // in rounding between shard sums and Adam normalises them to steps of either sign)
      expect(worst).toBeLessThan(3e-4);

      // an architecture outside the space fails on every thread: the step rejects, the next one works
      const bad = validArch({ ...largestArch(TINY_SPACE), encoderEmbedDim: 999 });
      await expect(dp.step(opt2, bad, randomBatch(8, 1), { lr: 1e-3 })).rejects.toThrow(/999/);
      const ok = await dp.step(opt2, largestArch(TINY_SPACE), randomBatch(8, 2), { lr: 1e-3 });
      expect(Number.isFinite(ok.loss)).toBe(true);
    } finally {
      await dp.close();
      for (const x of [one, two, opt1, opt2]) x.dispose();
    }
    expect(tf.memory().numTensors).toBeLessThan(50);
  });

  it("distils on every thread: the same update as one thread with the same teacher", async () => {
    const backend = await selectBackend("wasm", () => {});
    const tensors = initialTensors(TINY_SPACE, V, 5), teacherTensors = initialTensors(TINY_SPACE, V, 6);
    const one = new SuperTransformer(TINY_SPACE, V, { tensors }), two = new SuperTransformer(TINY_SPACE, V, { tensors });
    const teacherInit = { tensors: teacherTensors, arch: largestArch(TINY_SPACE), topK: 4, weight: 0.7 };
    const teacher = { ...teacherInit, st: new SuperTransformer(TINY_SPACE, V, { tensors: teacherTensors }) };
    const opt1 = new Adam(), opt2 = new Adam();
    const dp = await DataParallel.start(two, 2, backend.name, teacherInit);
    try {
      for (let i = 0; i < 2; i++) {
        const batch = randomBatch(20, 300 + i), o = { lr: 2e-3, teacher };
        const a = trainStep(one, opt1, smallestArch(TINY_SPACE), batch, o);
        const b = await dp.step(opt2, smallestArch(TINY_SPACE), batch, o);
        expect(relErr(new Float64Array([b.loss, b.gradNorm]), new Float64Array([a.loss, a.gradNorm]))).toBeLessThan(1e-4);
        if (i === 0) {
          // the distillation term is in the loss: the label-smoothed loss alone, on the same weights, differs
          const plain = new SuperTransformer(TINY_SPACE, V, { tensors }), po = new Adam();
          expect(Math.abs(a.loss - trainStep(plain, po, smallestArch(TINY_SPACE), batch, { lr: 0 }).loss)).toBeGreaterThan(1e-3);
          plain.dispose();
          po.dispose();
        }
      }
    } finally {
      await dp.close();
      for (const x of [one, two, teacher.st, opt1, opt2]) x.dispose();
    }
  });
});
