/**
 * Quantization-aware fine-tuning (train/codebooks.ts, train/quant-aware.ts): the projection onto a
 * fixed assignment against a float64 reference, the codebook rebuilt from projected values, the
 * compact <-> SuperTransformer shapes, and a short fine-tune of a SuperTransformer's and of a
 * compact model's SubTransformer: the file holds only codebook values, exactly what was trained.
 */
import { describe, expect, it } from "vitest";
import { Bpe } from "../../data/bpe.js";
import { demoTask } from "../../data/demo-task.js";
import { largestArch, smallestArch, spaceOfArch as spaceOf } from "../../runtime/arch-sample.js";
import { decodeModel } from "../../runtime/format.js";
import { exportSubTransformer, quantizeModel } from "../../runtime/model.js";
import { dequantize, kmeansQuantize, unpackIndices, type KmeansTensor } from "../../runtime/quant.js";
import type { Space } from "../../runtime/types.js";
import { padSubTensors, sliceSubTensors, superTensorShapes, type TensorMap } from "../../runtime/weights.js";
import { assignmentOf, kmeansOfProjected, projectOnto } from "../../train/codebooks.js";
import { quantAwareFinetune } from "../../train/quant-aware.js";
import { validationLoss } from "../../train/trainer.js";
import { tokenizeTexts } from "../../data/texts.js";
import { supernetWithTokenizer } from "../model-files.js";
import { randArray, rng } from "../helpers.js";

const tiny: Space = {
  encoderEmbedChoices: [32, 24], decoderEmbedChoices: [32, 24], encoderFfnChoices: [48, 32], decoderFfnChoices: [48, 32],
  encoderLayerChoices: [2], decoderLayerChoices: [2, 1], encoderHeadChoices: [4, 2], decoderSelfHeadChoices: [4, 2],
  decoderCrossHeadChoices: [4, 2], endeLayerChoices: [1, 2], qkvDim: 32,
};

describe("projection onto a fixed assignment", () => {
  it("each centroid the float64 mean of its members in the front slice; the rest of the variable untouched", () => {
    for (const [rows, cols, ld, k] of [[7, 5, 9, 16], [16, 33, 33, 256], [1, 3, 3, 16]] as const) {
      const r = rng(rows * 100 + cols);
      const index = Uint8Array.from({ length: rows * cols }, () => Math.floor(r() * Math.min(k, 6)));
      const data = randArray(Math.max(rows, 1) * ld, rows + cols), before = Float32Array.from(data);
      const a = { rows, cols, ld, k, index };
      const centroids = projectOnto(data, a);
      const sum = new Float64Array(k), n = new Float64Array(k);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) { sum[index[i * cols + j]] += before[i * ld + j]; n[index[i * cols + j]]++; }
      for (let c = 0; c < k; c++) {
        if (n[c] === 0) expect(centroids[c]).toBeNaN();
        else expect(Math.abs(centroids[c] - sum[c] / n[c])).toBeLessThan(1e-12);
      }
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < ld; j++) {
          if (j < cols) expect(Math.abs(data[i * ld + j] - sum[index[i * cols + j]] / n[index[i * cols + j]])).toBeLessThan(1e-6);
          else expect(data[i * ld + j]).toBe(before[i * ld + j]);
        }
      }
      // projecting twice changes nothing
      const again = Float32Array.from(data);
      projectOnto(again, a);
      expect(again).toEqual(data);
    }
  });

  it("the codebook rebuilt from projected values is ascending, dequantizes to them exactly, and keeps an empty centroid", () => {
    const t = { shape: [6, 10], data: randArray(60, 3) };
    const q = kmeansQuantize(t, { bits: 4 });
    const a = assignmentOf("w", q, [8, 12]);
    expect([a.rows, a.cols, a.ld, a.k]).toEqual([6, 10, 12, 16]);
    const wide = new Float32Array(8 * 12);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 10; j++) wide[i * 12 + j] = t.data[i * 10 + j] * -3 + 0.1 * j; // moved: centroids reorder
    projectOnto(wide, a);
    const front = new Float32Array(60);
    for (let i = 0; i < 6; i++) front.set(wide.subarray(i * 12, i * 12 + 10), i * 10);
    const used = new Set(unpackIndices(q.packed, 60, 4));
    const back = kmeansOfProjected({ shape: [6, 10], data: front }, a, q);
    expect(back.codebook.length).toBe(16);
    for (let c = 1; c < 16; c++) expect(back.codebook[c]).toBeGreaterThanOrEqual(back.codebook[c - 1]);
    expect(dequantize(back).data).toEqual(front);
    // a centroid no element uses keeps its old value
    for (let c = 0; c < 16; c++) if (!used.has(c)) expect([...back.codebook]).toContain(q.codebook[c]);
  });

  it("padSubTensors puts a compact tensor at the front of the super shape; slicing gives it back", () => {
    const arch = smallestArch(tiny), V = 40;
    const shapes = superTensorShapes(tiny, V);
    const full: TensorMap = new Map([...shapes].map(([n, s], i) => [n, { shape: s, data: randArray(s.reduce((x, y) => x * y, 1), i) }]));
    const compact = sliceSubTensors(full, arch, V);
    const padded = padSubTensors(compact, arch, shapes);
    expect(sliceSubTensors(padded, arch, V)).toEqual(compact);
    const [name] = compact.keys();
    expect(() => padSubTensors(new Map([...compact].filter(([n]) => n !== name)), arch, shapes)).toThrow(new RegExp(`tensor ${name.replace(/\./g, "\\.")} .* is missing`));
    const big = new Map(compact);
    big.set(name, { shape: shapes.get(name)!.map((d) => d + 1), data: new Float32Array(shapes.get(name)!.map((d) => d + 1).reduce((x, y) => x * y, 1)) });
    expect(() => padSubTensors(big, arch, shapes)).toThrow(/does not fit/);
  });
});

describe("quantAwareFinetune", () => {
  const task = demoTask({ seed: 1, train: 400, valid: 40, test: 0 });
  const bpe = Bpe.train([...task.train.src, ...task.train.tgt], { vocabSize: 300 });
  const V = bpe.vocab().size;
  const superFile = decodeModel(supernetWithTokenizer(tiny, bpe, 5));
  const data = { train: task.train, valid: task.valid };
  const common = { bits: 4 as const, data, steps: 12, lr: { maxLr: 3e-3, warmup: 2 }, maxTokens: 600, dropout: 0, threads: 1, log: () => {} };

  /** The file's matrices hold at most 2^bits values each, and its loss is the one the fine-tune reported. */
  function check(bytes: Uint8Array, finetuned: number) {
    const f = decodeModel(bytes);
    expect(f.header.kind).toBe("subtransformer");
    const quantized = [...f.quantized!.values()] as KmeansTensor[];
    expect(quantized.length).toBeGreaterThan(10);
    for (const q of quantized) {
      expect(q.method).toBe("kmeans");
      expect(new Set(dequantize(q).data).size).toBeLessThanOrEqual(16);
    }
    const arch = f.header.arch as never;
    const pairs = tokenizeTexts(bpe, task.valid);
    expect(Math.abs(validationLoss(padSubTensors(f.tensors, arch, superTensorShapes(f.header.space ?? spaceOf(arch), V)), V, f.header.positionDims, arch, pairs) - finetuned)).toBeLessThan(1e-5);
  }

  it("a SuperTransformer's SubTransformer: quantized, its centroids trained; the loss falls and the file holds what was trained", async () => {
    const arch = smallestArch(tiny);
    const r = await quantAwareFinetune({ ...common, file: superFile, arch });
    expect(r.arch).toEqual(arch);
    expect(r.result.steps).toBe(12);
    expect(r.validLoss.finetuned).toBeLessThan(r.validLoss.quantized);
    const plain = quantizeModel(decodeModel(exportSubTransformer(superFile, arch)), { bits: 4 });
    expect(Math.abs(r.bytes.length - plain.bytes.length)).toBeLessThan(400); // the same tensors; the header's notes differ
    check(r.bytes, r.validLoss.finetuned);
  });

  it("with distillation from the f32 model itself: still only codebook values, the loss still falls", async () => {
    const r = await quantAwareFinetune({ ...common, file: superFile, arch: smallestArch(tiny), distill: { weight: 0.5 } });
    expect(r.validLoss.finetuned).toBeLessThan(r.validLoss.quantized);
    check(r.bytes, r.validLoss.finetuned);
  });

  it("a compact SubTransformer file, 2 threads; another arch for it and a model without a tokenizer are refused", async () => {
    const compact = decodeModel(exportSubTransformer(superFile, smallestArch(tiny)));
    const r = await quantAwareFinetune({ ...common, file: compact, threads: 2 });
    expect(r.validLoss.finetuned).toBeLessThan(r.validLoss.quantized);
    check(r.bytes, r.validLoss.finetuned);
    await expect(quantAwareFinetune({ ...common, file: compact, arch: largestArch(tiny) })).rejects.toThrow(/compact SubTransformer of another architecture/);
    expect((await quantAwareFinetune({ ...common, steps: 1, file: compact, arch: smallestArch(tiny) })).arch).toEqual(smallestArch(tiny)); // its own: fine
    const bare = { ...compact, header: { ...compact.header, tokenizer: undefined } };
    await expect(quantAwareFinetune({ ...common, file: bare })).rejects.toThrow(/no tokenizer/);
  });
});
