/** Model files in use: refused before any wasm call when bad; export; traps become errors. */
import { describe, expect, it } from "vitest";
import { sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { greedy } from "../../runtime/decode.js";
import { decodeModel, ModelFormatError } from "../../runtime/format.js";
import { exportSubTransformer, HatModel, randomSuperTransformer } from "../../runtime/model.js";
import { mulberry32 } from "../../runtime/rng.js";
import { SPECIALS } from "../../runtime/types.js";
import { WasmTrapError } from "../../runtime/wasm.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { validArch } from "../helpers.js";

const V = 200;
const superBytes = randomSuperTransformer(DEMO_SPACE, V, 3);
const src = [[5, 9, 17, 33, SPECIALS.eos], [44, 6, SPECIALS.eos]];

describe("HatModel", () => {
  it("a truncated or corrupt file is refused before anything reaches wasm memory", () => {
    const wasm = loadWasm();
    const before = wasm.usedBytes;
    const corrupt = superBytes.slice();
    corrupt[corrupt.length - 1000] ^= 0x40;
    for (const bad of [superBytes.subarray(0, superBytes.length - 1), superBytes.subarray(0, 50), corrupt]) {
      expect(() => HatModel.fromBytes(bad, wasm)).toThrow(ModelFormatError);
      expect(wasm.usedBytes).toBe(before);
    }
  });

  it("runs any SubTransformer of its space; refuses one outside it, naming the field", () => {
    const m = HatModel.fromBytes(superBytes, loadWasm());
    const r = mulberry32(1);
    for (let i = 0; i < 5; i++) expect(greedy(m.subnet(sampleArch(DEMO_SPACE, r)), src, { maxLen: 6 })).toHaveLength(2);
    expect(() => m.subnet(validArch({ ...smallestArch(DEMO_SPACE), decoderFfnDims: [1000] }))).toThrow(/decoderFfnDims\[0\]/);
    expect(() => m.subnet()).toThrow(/SuperTransformer/);
  });

  it("an exported SubTransformer holds only its slices and decodes like the slice", () => {
    const arch = sampleArch(DEMO_SPACE, mulberry32(9));
    const subBytes = exportSubTransformer(decodeModel(superBytes), arch);
    const sup = HatModel.fromBytes(superBytes, loadWasm()), sub = HatModel.fromBytes(subBytes, loadWasm());
    expect(sub.header.kind).toBe("subtransformer");
    expect(sub.params).toBeLessThan(sup.params);
    expect(subBytes.length).toBeLessThan(superBytes.length);
    const a = greedy(sub.subnet(), src, { maxLen: 8 }), b = greedy(sup.subnet(arch), src, { maxLen: 8 });
    expect(a.map((h) => h.tokens)).toEqual(b.map((h) => h.tokens));
    expect(() => sub.subnet(validArch({ ...arch, decoderFfnDims: arch.decoderFfnDims.map(() => 512), encoderFfnDims: arch.encoderFfnDims.map(() => 512) }))).toThrow();
  });

  it("a wasm trap becomes a WasmTrapError, and the instance keeps working", () => {
    const wasm = loadWasm();
    const mark = wasm.mark();
    expect(() => wasm.call("matmul", () => wasm.x.matmul(0x7ffffff0, 0, 0, 0, 8, 8, 8, 8, 8, 8))).toThrow(WasmTrapError);
    expect(wasm.mark()).toBe(mark);
    const m = HatModel.fromBytes(superBytes, wasm);
    expect(greedy(m.subnet(smallestArch(DEMO_SPACE)), src, { maxLen: 4 })).toHaveLength(2);
  });
});
