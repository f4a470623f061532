import { describe, expect, it } from "vitest";
import { validateArch } from "../../runtime/arch.js";
import { archKey } from "../../runtime/arch-features.js";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE, HAT_WMT_SPACE } from "../../runtime/spaces.js";
import { enumerateArchs, GeneLayout } from "../../search/genome.js";
import { rng, TINY_SPACE as TINY } from "../helpers.js";

// TINY_SPACE lets a decoder layer attend 3 encoder layers with 2 of them: not a valid space for a search
const TINY_SPACE = { ...TINY, endeLayerChoices: [1, 2] };

describe("gene layout", () => {
  it("encodes and decodes every kind of SubTransformer", () => {
    for (const space of [TINY_SPACE, DEMO_SPACE, HAT_WMT_SPACE]) {
      const L = new GeneLayout(space), r = rng(3);
      for (const a of [largestArch(space), smallestArch(space), ...Array.from({ length: 50 }, () => sampleArch(space, r))]) {
        expect(L.decode(L.encode(a))).toEqual(a);
      }
      for (let i = 0; i < 100; i++) validateArch(L.decode(L.random(r)), space); // throws if not in the space
    }
  });

  it("HAT's operators: mutation redraws genes with its probability, crossover takes each gene from a parent", () => {
    const L = new GeneLayout(HAT_WMT_SPACE), r = rng(5);
    const a = L.random(r), b = L.random(r);
    expect(L.mutate(a, 0, r)).toEqual(a);
    let changed = 0, n = 0;
    for (let i = 0; i < 200; i++) {
      const m = L.mutate(a, 0.3, r);
      m.forEach((v, j) => { n++; if (v !== a[j]) changed++; });
      const c = L.crossover(a, b, r);
      c.forEach((v, j) => expect([a[j], b[j]]).toContain(v));
    }
    // P(changed) = 0.3 * (1 - 1/choices): between 0.1 (1 choice... never) and 0.3
    expect(changed / n).toBeGreaterThan(0.1);
    expect(changed / n).toBeLessThan(0.3);
  });

  it("enumerates a tiny space exactly once per SubTransformer", () => {
    const space = { ...TINY_SPACE, encoderLayerChoices: [1], decoderLayerChoices: [1, 2], endeLayerChoices: [1], encoderHeadChoices: [2], decoderSelfHeadChoices: [2] };
    const all = enumerateArchs(space);
    // De 2 x Dd 2 x enc ffn 2 x (dec: 1 layer 2x2 + 2 layers 4x4) = 8 * 2 * 20
    expect(all.length).toBe(2 * 2 * 2 * (4 + 16));
    expect(new Set(all.map(archKey)).size).toBe(all.length);
    all.forEach((a) => validateArch(a, space));
  });
});
