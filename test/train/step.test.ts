import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { validateSpace } from "../../runtime/arch.js";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { mulberry32 } from "../../runtime/rng.js";
import { selectBackend } from "../../train/backend.js";
import { padBatch } from "../../train/batch.js";
import { initialTensors } from "../../train/init.js";
import { Adam } from "../../train/optim.js";
import { shardGradients, trainStep } from "../../train/step.js";
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
