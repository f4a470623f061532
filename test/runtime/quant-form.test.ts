/**
 * The protocol's quantized-file forms (runtime/quant.ts quantForm, tensorsOfForm; docs/latency.md
 * "Products and threads in the protocol"): linear8 / kmeans8 / kmeans4 run the matrices a
 * `hat quantize` file of that form holds, whether the file is f32 (quantized at upload) or already
 * quantized (run as stored), and a profile at such a quant measures weights quantized so.
 */
import { describe, expect, it } from "vitest";
import { superDims } from "../../runtime/arch.js";
import { smallestArch } from "../../runtime/arch-sample.js";
import { decodeModel, encodeModel } from "../../runtime/format.js";
import { HatModel, quantizeModel } from "../../runtime/model.js";
import { QUANTS, type Quant } from "../../runtime/protocol.js";
import { dequantize, kmeansQuantize, linearQuantize, quantForm, quantOfFile, tensorOfForm, tensorsOfForm } from "../../runtime/quant.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { SPECIALS } from "../../runtime/types.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { randomTensors, superTensorShapes, type Tensor } from "../../runtime/weights.js";

const V = 40;
const shapes = superTensorShapes(DEMO_SPACE, V);
const d = superDims(DEMO_SPACE);
const f32File = encodeModel({
  kind: "supertransformer", space: DEMO_SPACE, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim },
  vocab: { size: V, pad: SPECIALS.pad, bos: SPECIALS.bos, eos: SPECIALS.eos, unk: SPECIALS.unk }, meta: {},
}, randomTensors(shapes, 3));

const distinct = (t: Tensor) => new Set(t.data).size;

/** The first decoder step's logits of the smallest SubTransformer of `bytes` loaded with `quant`. */
function logits(bytes: Uint8Array, quant: Quant): Float32Array {
  const wasm = loadWasm();
  const sub = HatModel.fromBytes(bytes, wasm, { quant }).subnet(smallestArch(DEMO_SPACE));
  const s = sub.begin([[5, 9, 12, 7]], { beam: 1, maxLen: 2 });
  const out = Float32Array.from(s.step(Int32Array.of(SPECIALS.eos), 0));
  s.release();
  return out;
}

describe("quantized-file forms of the protocol", () => {
  it("names hat quantize's method and bits for linear8, kmeans8, kmeans4, none for f32 and int8", () => {
    expect(QUANTS).toEqual(["f32", "int8", "linear8", "kmeans8", "kmeans4"]);
    expect(quantForm("kmeans4")).toEqual({ method: "kmeans", bits: 4 });
    expect(quantForm("kmeans8")).toEqual({ method: "kmeans", bits: 8 });
    expect(quantForm("linear8")).toEqual({ method: "linear", bits: 8 });
    expect(quantForm("f32")).toBeUndefined();
    expect(quantForm("int8")).toBeUndefined();
  });

  it("a matrix of a form is hat quantize's, dequantized; 1-D tensors, f32 and int8 unchanged", () => {
    const t = randomTensors(new Map([["w", [24, 16]], ["b", [16]]]), 7);
    const w = t.get("w")!, b = t.get("b")!;
    expect(tensorOfForm("w", w, "kmeans4").data).toEqual(dequantize(kmeansQuantize(w, { bits: 4 })).data);
    expect(distinct(tensorOfForm("w", w, "kmeans4"))).toBeLessThanOrEqual(16);
    expect(tensorOfForm("w", w, "linear8").data).toEqual(dequantize(linearQuantize(w, { bits: 8, axis: 1 })).data);
    expect(tensorOfForm("b", b, "kmeans4")).toBe(b);
    expect(tensorOfForm("w", w, "f32")).toBe(w);
    expect(tensorOfForm("w", w, "int8")).toBe(w);
    // linear8 against the float64 bound: each element within half its column's step of the original
    const lin = tensorOfForm("w", w, "linear8").data;
    for (let c = 0; c < 16; c++) {
      let lo = 0, hi = 0;
      for (let r = 0; r < 24; r++) { lo = Math.min(lo, w.data[r * 16 + c]); hi = Math.max(hi, w.data[r * 16 + c]); }
      for (let r = 0; r < 24; r++) expect(Math.abs(lin[r * 16 + c] - w.data[r * 16 + c])).toBeLessThanOrEqual((hi - lo) / 255 / 2 * 1.001 + 1e-7);
    }
  });

  it("the embedding's linear channel is a row (it is also the output projection)", () => {
    const e = randomTensors(new Map([["embed.tokens", [12, 8]]]), 2).get("embed.tokens")!;
    expect(tensorOfForm("embed.tokens", e, "linear8").data).toEqual(dequantize(linearQuantize(e, { bits: 8, axis: 0 })).data);
  });

  it("a tensor the file stores quantized runs as stored, not quantized again", () => {
    const file = decodeModel(quantizeModel(decodeModel(f32File), { bits: 8, method: "kmeans", embedBits: 32 }).bytes);
    const out = tensorsOfForm(file.tensors, "kmeans4", file.quantized);
    const name = [...file.quantized.keys()][0];
    expect(out.get(name)).toBe(file.tensors.get(name)); // 8-bit as stored
    expect(distinct(out.get("embed.tokens")!)).toBeLessThanOrEqual(16); // stored f32: quantized to the form
  });

  it("an f32 file loaded at kmeans4 / linear8 runs what the hat quantize file of that form runs", () => {
    for (const [quant, o] of [["kmeans4", { bits: 4, method: "kmeans" }], ["linear8", { bits: 8, method: "linear" }]] as const) {
      const quantized = quantizeModel(decodeModel(f32File), o).bytes;
      const fromF32 = logits(f32File, quant), fromFile = logits(quantized, "f32"), f32 = logits(f32File, "f32");
      expect(Array.from(fromF32)).toEqual(Array.from(fromFile));
      expect(Array.from(fromF32)).not.toEqual(Array.from(f32)); // the form changed the weights
      expect(Array.from(logits(quantized, quant))).toEqual(Array.from(fromFile)); // already of the form: as stored
    }
  });

  it("a file's form is its matrices' (the embedding's bits aside), f32 for an f32 file or a mix", () => {
    const form = (o: Parameters<typeof quantizeModel>[1]) => quantOfFile(decodeModel(quantizeModel(decodeModel(f32File), o).bytes).header.tensors);
    expect(quantOfFile(decodeModel(f32File).header.tensors)).toBe("f32");
    expect(form({ bits: 4, method: "kmeans" })).toBe("kmeans4");
    expect(form({ bits: 4, method: "kmeans", embedBits: 8 })).toBe("kmeans4");
    expect(form({ bits: 8, method: "kmeans" })).toBe("kmeans8");
    expect(form({ bits: 8, method: "linear" })).toBe("linear8");
    expect(form({ bits: 4, method: "linear" })).toBe("f32"); // linear4: no protocol form
    const q = (method: "kmeans" | "linear", bits: 4 | 8) => ({ method, bits });
    expect(quantOfFile([{ name: "a", quant: q("kmeans", 4) }, { name: "b", quant: q("kmeans", 8) }])).toBe("f32");
    expect(quantOfFile([{ name: "embed.tokens", quant: q("kmeans", 8) }, { name: "b" }])).toBe("kmeans8");
  });
});
