/** Training-side behaviour of the tfjs SuperTransformer: gradients stay in the slice, backends agree, dropout. */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { validateSpace } from "../../runtime/arch.js";
import { randomTensors, superTensorShapes } from "../../runtime/weights.js";
import { selectBackend } from "../../train/backend.js";
import { padBatch } from "../../train/batch.js";
import { initialTensors } from "../../train/init.js";
import { labelSmoothedLoss } from "../../train/loss.js";
import { dropout } from "../../train/layers.js";
import { scaledRates, SuperTransformer } from "../../train/supertransformer.js";
import { relErr, validArch } from "../helpers.js";

const SPACE = validateSpace({
  encoderEmbedChoices: [32, 24], decoderEmbedChoices: [40, 16],
  encoderFfnChoices: [48, 20], decoderFfnChoices: [36, 12],
  encoderLayerChoices: [3, 2], decoderLayerChoices: [3, 1],
  encoderHeadChoices: [4, 2], decoderSelfHeadChoices: [4, 2], decoderCrossHeadChoices: [4, 2],
  endeLayerChoices: [1, 2], qkvDim: 16,
});
const V = 29;
const ARCH = validArch({
  encoderEmbedDim: 24, decoderEmbedDim: 16, encoderLayers: 2, decoderLayers: 1,
  encoderFfnDims: [20, 48], encoderHeads: [2, 4], decoderFfnDims: [12], decoderSelfHeads: [4],
  decoderCrossHeads: [2], decoderEndeLayers: [2], qkvDim: 16,
});
const SRC = [[5, 9, 12, 7, 2], [8, 6, 2]], TGT = [[11, 4, 20], [13, 17, 21, 9, 5]];

/** Mean loss gradients of every variable it reaches, by name. */
function grads(st: SuperTransformer): Map<string, { shape: number[]; data: Float32Array }> {
  const b = padBatch(SRC, TGT);
  const g = tf.tidy(() => {
    const src = tf.tensor2d(b.src, [b.B, b.S], "int32"), prev = tf.tensor2d(b.prev, [b.B, b.T], "int32");
    const target = tf.tensor1d(b.target, "int32");
    return tf.variableGrads(() => {
      const l = labelSmoothedLoss(st.forward(ARCH, src, prev), target);
      return tf.div(l.loss, l.tokens) as tf.Scalar;
    }, [...st.variables.values()]).grads;
  });
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, v] of st.variables) {
    const x = g[v.name];
    if (x) out.set(name, { shape: x.shape, data: x.dataSync().slice() as Float32Array });
  }
  tf.dispose(g);
  return out;
}

/** Is every entry of 2-d (or 1-d) `t` outside the front [rows, cols] (or [rows]) slice zero, and some inside not? */
function onlyInSlice(t: { shape: number[]; data: Float32Array }, need: number[]): boolean {
  const cols = t.shape[1] ?? 1;
  let inside = 0;
  for (let i = 0; i < t.data.length; i++) {
    const r = Math.floor(i / cols), c = i % cols;
    const isIn = r < need[0] && (need.length === 1 || c < need[1]);
    if (!isIn && t.data[i] !== 0) return false;
    if (isIn && t.data[i] !== 0) inside++;
  }
  return inside > 0;
}

describe("SuperTransformer training", () => {
  it("gradients reach only the SubTransformer's front slices and layers", async () => {
    await selectBackend("cpu", () => {});
    const st = new SuperTransformer(SPACE, V, { tensors: randomTensors(superTensorShapes(SPACE, V), 3) });
    const g = grads(st);
    st.dispose();
    // unused layers get no gradient at all
    expect([...g.keys()].filter((n) => n.startsWith("enc.2.") || n.startsWith("dec.1.") || n.startsWith("dec.2."))).toEqual([]);
    const De = 24, Dd = 16, Q = 16;
    expect(onlyInSlice(g.get("embed.tokens")!, [V, Math.max(De, Dd)])).toBe(true);
    expect(onlyInSlice(g.get("enc.0.self.q.w")!, [De, Q])).toBe(true);
    expect(onlyInSlice(g.get("enc.0.ffn.fc1.w")!, [De, 20])).toBe(true);
    expect(onlyInSlice(g.get("enc.1.ffn.fc2.w")!, [48, De])).toBe(true);
    expect(onlyInSlice(g.get("enc.1.ffn_ln.g")!, [De])).toBe(true);
    expect(onlyInSlice(g.get("dec.0.cross.k.w")!, [De, Q])).toBe(true);
    expect(onlyInSlice(g.get("dec.0.cross.o.w")!, [Q, Dd])).toBe(true);
    expect(onlyInSlice(g.get("dec.0.ffn.fc1.b")!, [12])).toBe(true);
    expect(g.get("dec.0.self_ln.b")!.shape).toEqual([40]);
  });

  it("the wasm backend's gradients equal the cpu backend's", async () => {
    const tensors = randomTensors(superTensorShapes(SPACE, V), 4);
    await selectBackend("cpu", () => {});
    let st = new SuperTransformer(SPACE, V, { tensors });
    const want = grads(st);
    st.dispose();
    await selectBackend("wasm", () => {});
    st = new SuperTransformer(SPACE, V, { tensors });
    const got = grads(st);
    st.dispose();
    expect([...got.keys()]).toEqual([...want.keys()]);
    // relative to the largest gradient: some are exactly zero in exact arithmetic (the key biases:
    // softmax ignores a constant added to every score), so their own scale is rounding noise
    let scale = 0;
    for (const w of want.values()) for (const x of w.data) scale = Math.max(scale, Math.abs(x));
    for (const [name, w] of want) {
      const a = got.get(name)!.data;
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - w.data[i]));
      expect(err / scale, name).toBeLessThan(1e-5);
    }
  });

  it("dropout keeps 1 - rate of the values, scaled by 1 / (1 - rate), and its gradient is the mask", async () => {
    await selectBackend("cpu", () => {});
    const x = tf.ones([200, 250]);
    for (const rate of [0.1, 0.3, 0.5]) {
      const [y, g] = tf.tidy(() => [dropout(x, rate).dataSync().slice(), tf.grad((t: tf.Tensor) => tf.sum(dropout(t, rate)))(x).dataSync().slice()]);
      const kept = y.filter((v) => v !== 0);
      expect(kept.every((v) => Math.abs(v - 1 / (1 - rate)) < 1e-6)).toBe(true);
      expect(Math.abs(kept.length / y.length - (1 - rate))).toBeLessThan(0.01); // 50k draws: sd ~0.002
      expect(g.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / (1 - rate)) < 1e-6)).toBe(true);
      // two draws differ
      expect(tf.tidy(() => dropout(x, rate).dataSync()).some((v, i) => v !== y[i])).toBe(true);
    }
    expect(dropout(x, 0)).toBe(x);
    expect(() => dropout(x, 1)).toThrow(/below 1/);
    x.dispose();
  });

  it("dropout only when training, scaled by the SubTransformer's embed dim", async () => {
    await selectBackend("cpu", () => {});
    const st = new SuperTransformer(SPACE, V, { tensors: initialTensors(SPACE, V, 1) });
    const b = padBatch(SRC, TGT);
    const run = (training: boolean) => tf.tidy(() => st.forward(ARCH, tf.tensor2d(b.src, [b.B, b.S], "int32"),
      tf.tensor2d(b.prev, [b.B, b.T], "int32"), { training, rates: { dropout: 0.3, attention: 0.1, activation: 0.1 } }).dataSync().slice());
    expect(run(false)).toEqual(run(false));
    expect(relErr(run(true), run(false))).toBeGreaterThan(1e-3);
    st.dispose();
    // HAT's calc_dropout scales dropout and activation dropout, not attention dropout
    expect(scaledRates({ dropout: 0.3, attention: 0.1, activation: 0.2 }, 512 / 640)).toEqual({ dropout: 0.3 * 0.8, attention: 0.1, activation: 0.2 * 0.8 });
    expect(scaledRates({}, 0.5)).toEqual({ dropout: 0, attention: 0, activation: 0 });
  });

  it("initial tensors: fairseq's init (zero pad row and biases, unit gains)", () => {
    const t = initialTensors(SPACE, V, 9);
    expect(t.get("embed.tokens")!.data.subarray(40, 80).every((x) => x === 0)).toBe(true);
    expect(t.get("enc.0.self_ln.g")!.data.every((x) => x === 1)).toBe(true);
    expect(t.get("dec.0.cross.q.b")!.data.every((x) => x === 0)).toBe(true);
    expect(t.get("dec.0.cross.q.w")!.data.some((x) => x !== 0)).toBe(true);
  });

  it("refuses tensors of the wrong shape and architectures outside the space", async () => {
    await selectBackend("cpu", () => {});
    const st = new SuperTransformer(SPACE, V);
    const bad = randomTensors(superTensorShapes(SPACE, V), 1);
    bad.set("enc.0.self.q.w", { shape: [24, 16], data: new Float32Array(24 * 16) });
    expect(() => st.fromTensorMap(bad)).toThrow(/enc\.0\.self\.q\.w has shape \[24, 16\], the SuperTransformer's is \[32, 16\]/);
    const src = tf.tensor2d([[5, 2]], [1, 2], "int32");
    expect(() => st.forward(validArch({ ...ARCH, encoderEmbedDim: 28 }), src, src)).toThrow(/encoderEmbedDim/);
    st.dispose();
  });
});
