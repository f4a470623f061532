import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { validateSpace } from "../../runtime/arch.js";
import { largestArch, sampleArch } from "../../runtime/arch-sample.js";
import { mulberry32 } from "../../runtime/rng.js";
import { selectBackend } from "../../train/backend.js";
import { padBatch } from "../../train/batch.js";
import { initialTensors } from "../../train/init.js";
import { Adam } from "../../train/optim.js";
import { trainStep } from "../../train/step.js";
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
