/**
 * runtime/profile.ts measures with the protocol's quant: the weights it builds run the products
 * the protocol names (WasmWeights is wrapped to record what it was built with), and the reference
 * of a steady measurement stays f32 (runtime/steady.ts).
 */
import { describe, expect, it, vi } from "vitest";

const built = vi.hoisted(() => [] as string[]);
/** Distinct values of each upload's largest matrix: what the measured weights hold. */
const levels = vi.hoisted(() => [] as number[]);
vi.mock("../../runtime/wasm-model.js", async (importOriginal) => {
  const m = await importOriginal<typeof import("../../runtime/wasm-model.js")>();
  class RecordingWeights extends m.WasmWeights {
    constructor(...a: ConstructorParameters<typeof m.WasmWeights>) {
      super(...a);
      built.push(this.quant);
      const [name, big] = [...a[1].tensors].filter(([, t]) => t.shape.length === 2).sort(([, x], [, y]) => y.data.length - x.data.length)[0];
      const q = a[3]?.quantized?.get(name); // a k-means matrix runs as its codebook and indices
      levels.push(q?.method === "kmeans" ? new Set(q.codebook).size : new Set(big.data).size);
      if (this.kmeans) built.push("packed");
    }
  }
  return { ...m, WasmWeights: RecordingWeights };
});

const { profileArch, profileFastest } = await import("../../runtime/profile.js");
const { protocolOf } = await import("../../runtime/protocol.js");
const { referenceProtocol } = await import("../../runtime/steady.js");
const { smallestArch } = await import("../../runtime/arch-sample.js");
const { DEMO_SPACE } = await import("../../runtime/spaces.js");

describe("profileArch at the protocol's quant", () => {
  const arch = smallestArch(DEMO_SPACE);
  const p = protocolOf({ vocab: 64, src_len: 3, tgt_len: 2, beam: 1, runs: 2, warmup: 0 });

  it("builds int8 weights for quant int8, f32 weights otherwise, and the result's protocol says which", () => {
    built.length = 0;
    const q = profileArch(arch, { ...p, quant: "int8" });
    const f = profileArch(arch, p);
    expect(built).toEqual(["int8", "f32"]);
    expect(q.protocol.quant).toBe("int8");
    expect(f.protocol.quant).toBe("f32");
    expect(q.decoder_ms).toBeGreaterThan(0);
    built.length = 0;
    profileFastest(arch, { ...p, quant: "int8", rounds: 2 });
    expect(built).toEqual(["int8", "int8"]);
  });

  it("linear8 / kmeans8 / kmeans4: the random matrices quantized as hat quantize would; k-means run packed", () => {
    built.length = 0; levels.length = 0;
    const k4 = profileArch(arch, { ...p, quant: "kmeans4" });
    profileArch(arch, { ...p, quant: "kmeans8" });
    profileArch(arch, { ...p, quant: "linear8" });
    profileArch(arch, p);
    expect(k4.protocol.quant).toBe("kmeans4");
    expect(built).toEqual(["kmeans4", "packed", "kmeans8", "packed", "linear8", "f32"]);
    expect(levels[0]).toBeLessThanOrEqual(16);
    expect(levels[1]).toBeLessThanOrEqual(256);
    expect(levels[3]).toBeGreaterThan(256); // f32: the random values themselves
  });

  it("the steady reference is measured at f32 whatever the quant: it gauges the machine", () => {
    expect(referenceProtocol({ ...p, quant: "int8" }).quant).toBe("f32");
    expect(referenceProtocol({ ...p, quant: "int8" })).toEqual(referenceProtocol(p));
  });
});
