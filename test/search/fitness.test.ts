import { describe, expect, it } from "vitest";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { HatModel, randomSuperTransformer } from "../../runtime/model.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { CachedLoss, InheritedLoss } from "../../search/fitness.js";
import { validationLoss } from "../../train/trainer.js";
import type { TokenPair } from "../../train/batching.js";
import { rng, TINY_SPACE, validArch } from "../helpers.js";

const space = { ...TINY_SPACE, endeLayerChoices: [1, 2] };
const V = 50;
const model = HatModel.fromBytes(randomSuperTransformer(space, V, 3), loadWasm());
const r = rng(4);
const tok = () => 4 + Math.floor(r() * (V - 4));
const pairs: TokenPair[] = Array.from({ length: 37 }, () => ({
  src: [...Array.from({ length: 2 + Math.floor(r() * 9) }, tok), 2],
  tgt: Array.from({ length: 1 + Math.floor(r() * 9) }, tok),
}));

describe("inherited validation loss", () => {
  it("equals the trainer's validation loss, on one upload of the weights", () => {
    const f = new InheritedLoss(model, pairs, { batch: 8 });
    const archs = [largestArch(space), smallestArch(space), sampleArch(space, rng(9))];
    for (const a of archs) {
      const expected = validationLoss(model.file.tensors, V, model.header.positionDims, a, pairs);
      expect(f.loss(a)).toBeCloseTo(expected, 5);
    }
    // a search scores thousands: the arena must not grow with them
    const used = model.weights.wasm.usedBytes;
    for (let i = 0; i < 30; i++) f.loss(sampleArch(space, r));
    expect(model.weights.wasm.usedBytes).toBe(used);
  });

  it("is cached: an architecture is scored once", () => {
    const f = new InheritedLoss(model, pairs);
    let calls = 0;
    const c = new CachedLoss((a) => { calls++; return f.loss(a); });
    const a = sampleArch(space, rng(1)), b = sampleArch(space, rng(2));
    const la = c.loss(a);
    expect(c.loss(structuredClone(a))).toBe(la);
    c.loss(b);
    c.loss(a);
    expect(calls).toBe(2);
    expect(c.computed).toBe(2);
  });

  it("refuses what it cannot score", () => {
    expect(() => new InheritedLoss(model, [])).toThrow(/at least one/);
    const f = new InheritedLoss(model, pairs);
    expect(() => f.loss(validArch({ ...largestArch(space), encoderEmbedDim: 64 }))).toThrow(/encoderEmbedDim/);
  });
});
