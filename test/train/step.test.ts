import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { validateSpace } from "../../runtime/arch.js";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { mulberry32 } from "../../runtime/rng.js";
import { selectBackend } from "../../train/backend.js";
import { padBatch } from "../../train/batch.js";
import { initialTensors } from "../../train/init.js";
import { Adam } from "../../train/optim.js";
import { shardGradients, softLabels, trainStep } from "../../train/step.js";
import { distillLoss } from "../../train/loss.js";
import { SPECIALS } from "../../runtime/types.js";
import { SuperTransformer } from "../../train/supertransformer.js";

const SPACE = validateSpace({
  encoderEmbedChoices: [32, 16], decoderEmbedChoices: [32, 16],
  encoderFfnChoices: [64, 32], decoderFfnChoices: [64, 32],
  encoderLayerChoices: [2], decoderLayerChoices: [2, 1],
  encoderHeadChoices: [4, 2], decoderSelfHeadChoices: [4, 2], decoderCrossHeadChoices: [4, 2],
  endeLayerChoices: [1, 2], qkvDim: 32,
});
const V = 24;

describe.each(["cpu", "wasm"])("trainStep (%s)", (backend) => {
  it("overfits a tiny batch with sampled SubTransformers and leaks no tensors", async () => {
    await selectBackend(backend, () => {});
    const st = new SuperTransformer(SPACE, V, { tensors: initialTensors(SPACE, V, 2) });
    const opt = new Adam();
    const batch = padBatch([[5, 6, 7, 2], [8, 9, 2]], [[7, 6, 5], [9, 8, 10, 11]]);
    const r = mulberry32(3);
    const o = { lr: 3e-3, rates: { dropout: 0.1 }, clipNorm: 1 };
    const first = trainStep(st, opt, largestArch(SPACE), batch, o);
    trainStep(st, opt, sampleArch(SPACE, r), batch, o);
    const live = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 60; i++) last = trainStep(st, opt, i % 2 ? sampleArch(SPACE, r) : largestArch(SPACE), batch, o);
    expect(tf.memory().numTensors).toBe(live); // every variable has its Adam moments since step 1
    last = trainStep(st, opt, largestArch(SPACE), batch, { ...o, rates: {} });
    expect(first.tokens).toBe(9);
    expect(first.gradNorm).toBeGreaterThan(0);
    expect(last.nll).toBeLessThan(first.nll / 3);
    st.dispose();
    opt.dispose();
  });
});

describe("a sandwich update", () => {
  it("sums the SubTransformers' gradients on one batch and reports their mean loss", async () => {
    await selectBackend("cpu", () => {});
    const st = new SuperTransformer(SPACE, V, { tensors: initialTensors(SPACE, V, 4) });
    const batch = padBatch([[5, 6, 7, 2], [8, 9, 2], [10, 4, 2]], [[7, 6, 5], [9, 8, 10, 11], [12, 13]]);
    const archs = [largestArch(SPACE), smallestArch(SPACE), sampleArch(SPACE, mulberry32(5))];
    const alone = archs.map((a) => shardGradients(st, a, batch, batch.tokens, {}));
    const both = shardGradients(st, archs, batch, batch.tokens, {});
    expect(both.lossSum).toBeCloseTo(alone.reduce((s, g) => s + g.lossSum, 0), 4);
    const names = new Set(alone.flatMap((g) => [...g.grads.keys()]));
    expect([...both.grads.keys()].sort()).toEqual([...names].sort());
    let worst = 0;
    for (const name of names) {
      const want = new Float64Array(both.grads.get(name)!.size);
      for (const g of alone) {
        const t = g.grads.get(name);
        if (t) (t.dataSync() as Float32Array).forEach((x, i) => { want[i] += x; });
      }
      const got = both.grads.get(name)!.dataSync() as Float32Array;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-6 + Math.abs(want[i])));
    }
    expect(worst).toBeLessThan(1e-3);
    // the smallest SubTransformer alone leaves the largest's extra rows without gradient
    expect(alone[1].grads.size).toBeLessThanOrEqual(alone[0].grads.size);
    const opt = new Adam();
    const r = trainStep(st, opt, archs, batch, { lr: 1e-3 });
    expect(r.tokens).toBe(3 * batch.tokens);
    expect(r.loss).toBeCloseTo(both.lossSum / (3 * batch.tokens), 3);
    for (const g of [...alone, both]) tf.dispose([...g.grads.values()]);
    st.dispose();
    opt.dispose();
  });
});

describe("token-level distillation", () => {
  it("the loss and its gradient match a float64 reference on random logits (pad rows count for nothing)", async () => {
    await selectBackend("cpu", () => {});
    const R = 7, V = 11, k = 3, r = mulberry32(8);
    const logits = Array.from({ length: R * V }, () => (r() - 0.5) * 6);
    const idx = Array.from({ length: R }, () => { const s = new Set<number>(); while (s.size < k) s.add(Math.floor(r() * V)); return [...s]; });
    const praw = idx.map(() => Array.from({ length: k }, () => r() + 0.1)), p = praw.map((row) => row.map((x) => x / row.reduce((a, b) => a + b, 0)));
    const target = [3, 4, SPECIALS.pad, 5, 6, SPECIALS.pad, 7];
    // float64: sum over non-pad rows of lse - Σ p·logit; d/dlogit[r, v] = softmax[r, v] - Σ_k p_k [v = idx_k]
    let want = 0;
    const wantGrad = new Float64Array(R * V);
    for (let i = 0; i < R; i++) {
      if (target[i] === SPECIALS.pad) continue;
      const row = logits.slice(i * V, (i + 1) * V), m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
      want += lse - idx[i].reduce((s, j, q) => s + p[i][q] * row[j], 0);
      for (let v = 0; v < V; v++) wantGrad[i * V + v] = Math.exp(row[v] - lse);
      idx[i].forEach((j, q) => { wantGrad[i * V + j] -= p[i][q]; });
    }
    const soft = { idx: tf.tensor2d(idx, [R, k], "int32"), p: tf.tensor2d(p, [R, k]) };
    const x = tf.tensor2d(logits, [R, V]), t = tf.tensor1d(target, "int32");
    const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => distillLoss(l as tf.Tensor2D, soft, t))(x);
    expect(Math.abs(value.dataSync()[0] - want) / want).toBeLessThan(1e-5);
    const g = grad.dataSync();
    let worst = 0;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - wantGrad[i]));
    expect(worst).toBeLessThan(1e-5); // gradients are O(1): absolute error
    tf.dispose([soft.idx, soft.p, x, t, value, grad]);
  });

  it("a student trained on the teacher's top-k alone comes closer to the teacher", async () => {
    await selectBackend("cpu", () => {});
    const tensors = initialTensors(SPACE, V, 6);
    const st = new SuperTransformer(SPACE, V, { tensors }), opt = new Adam();
    const teacher = { st: new SuperTransformer(SPACE, V, { tensors }), arch: largestArch(SPACE), topK: 5, weight: 1 };
    const batch = padBatch([[5, 6, 7, 2], [8, 9, 2], [10, 11, 12, 13, 2]], [[7, 6, 5], [9, 8, 10, 11], [12, 13, 14]]);
    const student = smallestArch(SPACE);
    const gap = () => tf.tidy(() => {
      const src = tf.tensor2d(batch.src, [batch.B, batch.S], "int32"), prev = tf.tensor2d(batch.prev, [batch.B, batch.T], "int32");
      const real = [...batch.target.keys()].filter((i) => batch.target[i] !== SPECIALS.pad);
      const rows = tf.tensor1d(real, "int32");
      const soft = softLabels(teacher, src, prev, rows);
      return distillLoss(st.forward(student, src, prev, { rows }), soft, tf.tensor1d(real.map((i) => batch.target[i]), "int32")).dataSync()[0];
    });
    const before = gap();
    for (let i = 0; i < 30; i++) trainStep(st, opt, student, batch, { lr: 3e-3, teacher });
    const after = gap();
    expect(after).toBeLessThan(before * 0.8);
    for (const x of [st, teacher.st, opt]) x.dispose();
  });
});
