/**
 * The tfjs SuperTransformer against the WASM runtime (and the float64 reference) on the same
 * weights: teacher-forced logits of random SubTransformers and the label-smoothed loss.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateSpace } from "../../runtime/arch.js";
import { sampleArch } from "../../runtime/arch-sample.js";
import { score } from "../../runtime/decode.js";
import { refDecode, refEncode } from "../../runtime/reference.js";
import { mulberry32 } from "../../runtime/rng.js";
import type { Space, ValidArch } from "../../runtime/types.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { WasmSubTransformer, WasmWeights } from "../../runtime/wasm-model.js";
import { randomTensors, superTensorShapes, type TensorMap } from "../../runtime/weights.js";
import { selectBackend } from "../../train/backend.js";
import { padBatch } from "../../train/batch.js";
import { labelSmoothedLoss } from "../../train/loss.js";
import { SuperTransformer } from "../../train/supertransformer.js";
import { relErr } from "../helpers.js";

/** Small, but every elastic dim in play: De != Dd, Q/h varies, 3..4 encoder layers, ende 1..3. */
const SPACE: Space = validateSpace({
  encoderEmbedChoices: [48, 32],
  decoderEmbedChoices: [40, 24],
  encoderFfnChoices: [64, 40],
  decoderFfnChoices: [56, 32],
  encoderLayerChoices: [4, 3],
  decoderLayerChoices: [3, 2, 1],
  encoderHeadChoices: [4, 2],
  decoderSelfHeadChoices: [4, 2],
  decoderCrossHeadChoices: [4, 2, 1],
  endeLayerChoices: [1, 2, 3],
  qkvDim: 32,
});
const V = 61;

/** Three SubTransformers with heterogeneous layers that together attend to 1, 2 and 3 encoder layers. */
function pickArchs(): ValidArch[] {
  const r = mulberry32(11), out: ValidArch[] = [];
  const hetero = (xs: number[]) => new Set(xs).size > 1;
  while (out.length < 3) {
    const a = sampleArch(SPACE, r);
    if (a.decoderLayers < 2 || !hetero(a.encoderFfnDims) || !hetero(a.decoderEndeLayers)) continue;
    if (out.length === 2 && new Set([...out, a].flatMap((x) => x.decoderEndeLayers)).size < 3) continue;
    out.push(a);
  }
  return out;
}

/** Two sentences of different lengths (eos-terminated sources), ids in [4, V). */
function sentences(seed: number): { src: number[][]; tgt: number[][] } {
  const r = mulberry32(seed), tok = () => 4 + Math.floor(r() * (V - 4));
  const sent = (n: number, eos: boolean) => [...Array.from({ length: n }, tok), ...(eos ? [2] : [])];
  return { src: [sent(8, true), sent(4, true)], tgt: [sent(3, false), sent(7, false)] };
}

const ARCHS = pickArchs();

describe.each(["cpu", "wasm"])("tfjs SuperTransformer (%s backend) vs the WASM runtime", (backend) => {
  let tensors: TensorMap, st: SuperTransformer, weights: WasmWeights;
  beforeAll(async () => {
    await selectBackend(backend, () => {});
    tensors = randomTensors(superTensorShapes(SPACE, V), 5);
    st = new SuperTransformer(SPACE, V, { tensors });
    weights = new WasmWeights(loadWasm(), { tensors, vocabSize: V, positionDims: st.positionDims });
  });
  afterAll(() => st.dispose());

  it("loads and saves the runtime's tensors unchanged", () => {
    const back = st.toTensorMap();
    expect([...back.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(back.get(name)!.data).toEqual(t.data);
    }
  });

  it.each(ARCHS.map((a, i) => [i, a] as const))("arch %i: same teacher-forced logits and loss", (i, arch) => {
    const { src, tgt } = sentences(100 + i);
    const b = padBatch(src, tgt), R = b.B * b.T;

    // the WASM runtime
    const sub = new WasmSubTransformer(weights, arch);
    const s = sub.begin(src, { maxLen: b.T });
    let want: Float32Array;
    try {
      const h = s.forwardHidden(b.prev, b.T);
      want = weights.wasm.f32(sub.logitsOf(h, R), R * V).slice();
    } finally {
      s.release();
    }
    const scored = score(sub, src, tgt, 0.1);

    // tfjs
    const { logits, loss, tokens } = tf.tidy(() => {
      const lg = st.forward(arch, tf.tensor2d(b.src, [b.B, b.S], "int32"), tf.tensor2d(b.prev, [b.B, b.T], "int32"));
      const l = labelSmoothedLoss(lg, tf.tensor1d(b.target, "int32"), 0.1);
      return { logits: lg.dataSync().slice(), loss: l.loss.dataSync()[0], tokens: l.tokens.dataSync()[0] };
    });

    const err = relErr(logits, want);
    console.log(`${backend} arch ${i}: logits rel err ${err.toExponential(2)}, loss ${loss} vs ${scored.loss}`);
    expect(err).toBeLessThan(1e-4);
    expect(tokens).toBe(scored.tokens);
    expect(Math.abs(loss - scored.loss) / Math.abs(scored.loss)).toBeLessThan(1e-4);

    // and the float64 reference, one sentence at a time, on the real (unpadded) rows
    const ref = { tensors, arch, vocabSize: V, positionDims: st.positionDims };
    for (let k = 0; k < b.B; k++) {
      const n = tgt[k].length + 1;
      const r64 = refDecode(ref, refEncode(ref, src[k]), b.prev.subarray(k * b.T, k * b.T + n));
      expect(relErr(logits.subarray(k * b.T * V, (k * b.T + n) * V), r64)).toBeLessThan(1e-4);
    }
  });

  it("the loss ignores pad targets and matches a dense computation", () => {
    const arch = ARCHS[0];
    const { src, tgt } = sentences(7);
    const b = padBatch(src, tgt);
    tf.tidy(() => {
      const lg = st.forward(arch, tf.tensor2d(b.src, [b.B, b.S], "int32"), tf.tensor2d(b.prev, [b.B, b.T], "int32"));
      const target = tf.tensor1d(b.target, "int32");
      const got = labelSmoothedLoss(lg, target, 0.1).loss.dataSync()[0];
      // dense: one-hot smoothed distribution q = (1-eps)·onehot + eps/V, loss = -sum q·logp over non-pad rows
      const logp = tf.logSoftmax(lg);
      const q = tf.add(tf.mul(tf.oneHot(target, V), 0.9), 0.1 / V);
      const rows = tf.neg(tf.sum(tf.mul(q, logp), 1));
      const dense = tf.sum(tf.mul(rows, tf.cast(tf.notEqual(target, 1), "float32"))).dataSync()[0];
      expect(Math.abs(got - dense) / dense).toBeLessThan(1e-5);
    });
  });
});
