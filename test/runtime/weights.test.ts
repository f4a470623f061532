/**
 * runtime/weights.ts: the tensor layout of docs/runtime.md, seeded random weights, and the export
 * of a SubTransformer as front slices of its SuperTransformer.
 */
import { describe, expect, it } from "vitest";
import type { Arch } from "../../runtime/types.js";
import {
  archTensorShapes, paramCount, randomTensors, shapeSize, sliceSubTensors, superTensorShapes,
  type TensorMap,
} from "../../runtime/weights.js";
import { TINY_SPACE } from "../helpers.js";

const V = 37;
const space = TINY_SPACE;
const arch: Arch = {
  encoderEmbedDim: 24, decoderEmbedDim: 28, encoderLayers: 2, decoderLayers: 2,
  encoderFfnDims: [48, 20], encoderHeads: [2, 4],
  decoderFfnDims: [24, 44], decoderSelfHeads: [4, 2], decoderCrossHeads: [1, 4], decoderEndeLayers: [2, 1],
  qkvDim: 16,
};

/** Tensors per encoder layer: attention 8, 2 layer norms 4, FFN 4; decoder adds cross-attention 8 + LN 2. */
const ENC_TENSORS = 16, DEC_TENSORS = 26;

describe("tensor shapes", () => {
  it("superTensorShapes uses the largest choice of every dim and the docs' names", () => {
    const s = superTensorShapes(space, V);
    expect(s.size).toBe(1 + 3 * ENC_TENSORS + 3 * DEC_TENSORS);
    expect([...s.keys()][0]).toBe("embed.tokens");
    expect(s.get("embed.tokens")).toEqual([V, 36]); // max(De, Dd)
    expect(s.get("enc.2.self.q.w")).toEqual([32, 16]);
    expect(s.get("enc.2.self.o.w")).toEqual([16, 32]);
    expect(s.get("enc.0.self.o.b")).toEqual([32]);
    expect(s.get("enc.1.ffn.fc1.w")).toEqual([32, 48]);
    expect(s.get("enc.1.ffn.fc2.w")).toEqual([48, 32]);
    expect(s.get("enc.1.ffn_ln.g")).toEqual([32]);
    expect(s.get("dec.2.self.v.w")).toEqual([36, 16]);
    expect(s.get("dec.0.cross.q.w")).toEqual([36, 16]);
    expect(s.get("dec.0.cross.k.w")).toEqual([32, 16]); // keys/values from encoder outputs
    expect(s.get("dec.0.cross.v.b")).toEqual([16]);
    expect(s.get("dec.0.cross.o.w")).toEqual([16, 36]);
    expect(s.get("dec.0.cross_ln.b")).toEqual([36]);
    expect(s.get("dec.2.ffn.fc1.w")).toEqual([36, 44]);
    expect(s.has("enc.3.self.q.w")).toBe(false);
    expect(s.has("dec.3.self.q.w")).toBe(false);
  });

  it("archTensorShapes is compact: own dims, own layers, per-layer FFN", () => {
    const s = archTensorShapes(arch, V);
    expect(s.size).toBe(1 + 2 * ENC_TENSORS + 2 * DEC_TENSORS);
    expect(s.get("embed.tokens")).toEqual([V, 28]);
    expect(s.get("enc.0.ffn.fc1.w")).toEqual([24, 48]);
    expect(s.get("enc.1.ffn.fc1.w")).toEqual([24, 20]);
    expect(s.get("dec.0.ffn.fc2.w")).toEqual([24, 28]);
    expect(s.get("dec.1.ffn.fc2.w")).toEqual([44, 28]);
    expect(s.get("dec.1.cross.k.w")).toEqual([24, 16]);
    expect(archTensorShapes(arch, V, 40).get("embed.tokens")).toEqual([V, 40]);
    expect(() => archTensorShapes(arch, V, 20)).toThrow(/embedDim 20 .* max\(De, Dd\) = 28/);
    expect(() => archTensorShapes({ ...arch, encoderFfnDims: [48] }, V)).toThrow(/2 encoderLayers but only 1 FFN dims/);
  });
});

describe("randomTensors", () => {
  const shapes = superTensorShapes(space, V);

  it("is deterministic per seed and differs between seeds", () => {
    const a = randomTensors(shapes, 5), b = randomTensors(shapes, 5), c = randomTensors(shapes, 6);
    for (const [name, t] of a) {
      expect(t.shape).toEqual(shapes.get(name));
      expect(t.data.length).toBe(shapeSize(t.shape));
      expect(b.get(name)!.data).toEqual(t.data);
      expect(c.get(name)!.data).not.toEqual(t.data);
    }
  });

  it("gives a tensor the same values whatever the other tensors are", () => {
    const one = randomTensors(new Map([["enc.1.self.k.w", [32, 16]]]), 5);
    expect(one.get("enc.1.self.k.w")!.data).toEqual(randomTensors(shapes, 5).get("enc.1.self.k.w")!.data);
  });

  it("has no zeros and follows the init of each kind of tensor", () => {
    const t = randomTensors(shapes, 9);
    for (const [name, { data }] of t) {
      expect(data.every((x) => x !== 0 && Number.isFinite(x)), name).toBe(true);
    }
    const w = t.get("enc.0.ffn.fc1.w")!.data, bound = Math.sqrt(6 / (32 + 48));
    expect(w.every((x) => Math.abs(x) <= bound)).toBe(true);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(t.get("dec.1.cross_ln.g")!.data.every((x) => x > 0.9 && x < 1.1)).toBe(true);
    expect(t.get("dec.1.cross_ln.b")!.data.every((x) => Math.abs(x) < 0.1)).toBe(true);
    expect(t.get("dec.1.cross.q.b")!.data.every((x) => Math.abs(x) < 0.1)).toBe(true);
    const e = t.get("embed.tokens")!.data;
    const mean = e.reduce((s, x) => s + x, 0) / e.length;
    const std = Math.sqrt(e.reduce((s, x) => s + (x - mean) ** 2, 0) / e.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.9 / 6); // 36^-0.5 = 1/6
    expect(std).toBeLessThan(1.1 / 6);
  });
});

describe("sliceSubTensors", () => {
  const superT = randomTensors(superTensorShapes(space, V), 3);
  const sub = sliceSubTensors(superT, arch, V);

  const at = (t: TensorMap, name: string, r: number, c: number) => {
    const x = t.get(name)!;
    return x.data[r * x.shape[1] + c];
  };

  it("has exactly the compact shapes, and paramCount is their sum", () => {
    const need = archTensorShapes(arch, V);
    expect([...sub.keys()]).toEqual([...need.keys()]);
    let sum = 0;
    for (const [name, shape] of need) {
      expect(sub.get(name)!.shape, name).toEqual(shape);
      sum += shape.reduce((a, b) => a * b, 1);
    }
    expect(paramCount(sub)).toBe(sum);
    expect(paramCount(need)).toBe(sum);
    expect(paramCount(sub)).toBeLessThan(paramCount(superT));
  });

  it("copies the front slices W[:in, :out]", () => {
    // enc.1.ffn.fc1.w: super [32, 48], compact [24, 20]
    for (const [r, c] of [[0, 0], [0, 19], [1, 0], [7, 13], [23, 19]]) {
      expect(at(sub, "enc.1.ffn.fc1.w", r, c)).toBe(superT.get("enc.1.ffn.fc1.w")!.data[r * 48 + c]);
    }
    // dec.0.ffn.fc2.w: super [44, 36], compact [24, 28]
    for (const [r, c] of [[0, 27], [5, 3], [23, 27]]) {
      expect(at(sub, "dec.0.ffn.fc2.w", r, c)).toBe(superT.get("dec.0.ffn.fc2.w")!.data[r * 36 + c]);
    }
    // dec.1.cross.k.w: super [32, 16], compact [24, 16] (full rows: a contiguous prefix)
    expect(sub.get("dec.1.cross.k.w")!.data).toEqual(superT.get("dec.1.cross.k.w")!.data.subarray(0, 24 * 16));
    // embedding: super [V, 36], compact [V, 28]
    for (const [r, c] of [[0, 0], [V - 1, 27], [10, 5]]) {
      expect(at(sub, "embed.tokens", r, c)).toBe(superT.get("embed.tokens")!.data[r * 36 + c]);
    }
    // vectors: front entries
    expect(sub.get("enc.0.self_ln.g")!.data).toEqual(superT.get("enc.0.self_ln.g")!.data.subarray(0, 24));
    expect(sub.get("dec.1.ffn.fc1.b")!.data).toEqual(superT.get("dec.1.ffn.fc1.b")!.data.subarray(0, 44));
    expect(sub.has("enc.2.self.q.w")).toBe(false);
  });

  it("does not alias the SuperTransformer", () => {
    const copy = randomTensors(superTensorShapes(space, V), 3);
    const s = sliceSubTensors(copy, arch, V);
    s.get("enc.0.self.q.b")!.data[0] = 123;
    s.get("enc.0.self.q.w")!.data[0] = 123;
    expect(copy.get("enc.0.self.q.b")!.data[0]).not.toBe(123);
    expect(copy.get("enc.0.self.q.w")!.data[0]).not.toBe(123);
  });

  it("refuses a source too small or missing, naming the tensor and both shapes", () => {
    const big: Arch = { ...arch, decoderFfnDims: [24, 64] };
    expect(() => sliceSubTensors(superT, big, V)).toThrow(
      "tensor dec.1.ffn.fc1.w has shape [36, 44] but the architecture needs at least [28, 64]",
    );
    expect(() => sliceSubTensors(superT, { ...arch, decoderLayers: 4, decoderFfnDims: [24, 24, 24, 24] }, V)).toThrow(
      /tensor dec\.3\.self\.q\.w \(needed shape \[28, 16\]\) is missing/,
    );
    expect(() => sliceSubTensors(superT, arch, V + 1)).toThrow(/embed\.tokens has shape \[37, 36\].*\[38, 28\]/);
  });
});
