/**
 * A whole model with int8 products (HatModel / WasmWeights `quant: "int8"`), in both builds: a
 * `--method linear --bits 8` file run with int8 products against the same file run in f32 (its
 * dequantized weights: the error the activations' quantization adds) and against the f32 model it
 * was quantized from (weights and activations), on a random SuperTransformer of the demo space,
 * its largest SubTransformer and a smaller one (front slices: the int8 matrices are packed per
 * slice). The error is the norm-wise relative error of the decoder steps' logits,
 * ||a - b|| / ||b||.
 *
 * Measured (2026-12-02; random weights, V 300): the file's 8-bit weights alone (dequantized f32 vs
 * f32) 8.6e-3 .. 1.1e-2; int8 vs the dequantized f32 8.8e-3 .. 9.7e-3 (baseline build, 256 levels
 * of activations) and 1.7e-2 .. 2.0e-2 (relaxed build, 128 levels: its products' second operand is
 * 7-bit); int8 vs the original f32 1.2e-2 .. 1.4e-2 (baseline), 1.8e-2 .. 2.2e-2 (relaxed).
 * Tolerance 4e-2 (about 2x the worst measured; the per-product bound is test/assembly/int8.test.ts's),
 * and above 1e-5 against the dequantized f32 (int8 products did run: an f32 fallback would match
 * it to rounding).
 *
 * Then the options: an unknown quant refused, profileArch's quant (the protocol's), `hat profile --quant` and
 * `hat translate --quant int8` on a linear 8-bit file with a tokenizer.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadWasm } from "../../runtime/wasm-node.js";
import { HatModel, quantizeModel, randomSuperTransformer } from "../../runtime/model.js";
import { largestArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { SPECIALS, type ValidArch } from "../../runtime/types.js";
import { InputError } from "../../runtime/errors.js";
import { profileArch } from "../../runtime/profile.js";
import { DEFAULT_PROTOCOL } from "../../runtime/protocol.js";
import { rng, runnableBuilds } from "../helpers.js";
import { hat } from "../cli/hat.js";
import { Bpe } from "../../data/bpe.js";
import { decodeModel } from "../../runtime/format.js";
import { supernetWithTokenizer } from "../model-files.js";

const builds = runnableBuilds();

const V = 300;
const superBytes = randomSuperTransformer(DEMO_SPACE, V, 5);
const linear8 = quantizeModel(decodeModel(superBytes), { bits: 8, method: "linear" }).bytes;

/** Logits of 4 decoder steps, beam 2, over 2 source sentences: one Float32Array of them all. */
function stepLogits(model: HatModel, arch: ValidArch): Float32Array {
  const r = rng(11);
  const tok = () => 4 + Math.floor(r() * (V - 4));
  const src = [[tok(), tok(), tok(), tok(), tok(), SPECIALS.eos], [tok(), tok(), tok(), SPECIALS.eos]];
  const s = model.subnet(arch).begin(src, { beam: 2, maxLen: 8 });
  const out: number[] = [];
  const tokens = new Int32Array(s.rows).fill(SPECIALS.eos);
  for (let t = 0; t < 4; t++) {
    out.push(...s.step(tokens, t));
    for (let b = 0; b < s.rows; b++) tokens[b] = tok();
  }
  s.release();
  return Float32Array.from(out);
}

const relNorm = (a: Float32Array, b: Float32Array) => {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i] - b[i]) ** 2; n += b[i] ** 2; }
  return Math.sqrt(d / n);
};

for (const build of builds) describe(`${build.name}: a model with int8 products`, () => {
  for (const [which, arch] of [["largest", largestArch(DEMO_SPACE)], ["smallest", smallestArch(DEMO_SPACE)]] as const) {
    it(`a linear 8-bit file's logits with int8 products are within 4e-2 of f32 (${which} SubTransformer)`, () => {
      const f32 = stepLogits(HatModel.fromBytes(superBytes, loadWasm(build.bytes)), arch);
      const deq = stepLogits(HatModel.fromBytes(linear8, loadWasm(build.bytes)), arch);
      const int8Model = HatModel.fromBytes(linear8, loadWasm(build.bytes), { quant: "int8" });
      const int8 = stepLogits(int8Model, arch);
      expect(int8Model.weights.quant).toBe("int8");
      const vsDeq = relNorm(int8, deq), vsF32 = relNorm(int8, f32);
      console.log(`${build.name} ${which}: logits rel error int8 vs dequantized f32 ${vsDeq.toExponential(2)}, vs original f32 ${vsF32.toExponential(2)}, dequantized vs f32 ${relNorm(deq, f32).toExponential(2)}`);
      expect(vsDeq).toBeGreaterThan(1e-5);
      expect(vsDeq).toBeLessThan(4e-2);
      expect(vsF32).toBeLessThan(4e-2);
      // a second session over the same packed matrices gives the same logits
      expect(Array.from(stepLogits(int8Model, arch))).toEqual(Array.from(int8));
    });
  }
});

describe("int8 options", () => {
  it("an unknown quant is refused, naming the field", () => {
    expect(() => HatModel.fromBytes(superBytes, loadWasm(), { quant: "int4" as never })).toThrow(InputError);
    expect(() => HatModel.fromBytes(superBytes, loadWasm(), { quant: "int4" as never })).toThrow(/quant must be one of f32, int8, linear8, kmeans8, kmeans4, got int4/);
  });

  it("hat profile's measurement runs int8 products on random weights and says so", () => {
    const arch = smallestArch(DEMO_SPACE);
    const p = { ...DEFAULT_PROTOCOL, vocab: 200, src_len: 6, tgt_len: 4, runs: 3, warmup: 1 };
    const r = profileArch(arch, { ...p, quant: "int8" });
    expect(r.protocol.quant).toBe("int8");
    expect(r.decoder_ms).toBeGreaterThan(0);
    expect(profileArch(arch, p).protocol.quant).toBe("f32");
  });
});

describe("hat profile --quant", () => {
  const archFile = join(mkdtempSync(join(tmpdir(), "hat-int8-")), "arch.json");
  writeFileSync(archFile, JSON.stringify(smallestArch(DEMO_SPACE)));

  it("--quant int8 measures int8 products and says so in --json", async () => {
    const r = await hat("profile", "--arch", archFile, "--vocab", "200", "--runs", "2", "--warmup", "0", "--src-len", "4", "--tgt-len", "2", "--quant", "int8", "--json");
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).quant).toBe("int8");
  });

  it("an unknown --quant is a usage error naming the flag", async () => {
    const r = await hat("profile", "--arch", archFile, "--quant", "int4");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--quant must be one of f32, int8, linear8, kmeans8, kmeans4, got 'int4'/);
  });
});

describe("hat translate --quant int8", () => {
  it("translates a linear 8-bit model with a tokenizer, one line out per line in; an unknown --quant is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hat-int8-tr-"));
    const text = ["the cat sat on the mat", "a dog runs in the park", "hello world", "over the lazy dog"];
    const bpe = Bpe.train(text, { vocabSize: 60, byteFallback: false, minFrequency: 1 });
    const f32 = supernetWithTokenizer(DEMO_SPACE, bpe, 1);
    const model = join(dir, "linear8.hatm"), input = join(dir, "src.txt");
    writeFileSync(model, quantizeModel(decodeModel(f32), { bits: 8, method: "linear" }).bytes);
    writeFileSync(input, "the cat runs\nhello dog\nover the mat\n");
    const t = await hat("translate", "--model", model, "--input", input, "--beam", "2", "--quant", "int8");
    expect(t.code, t.err).toBe(0);
    expect(t.out.split("\n").length - 1).toBe(3);
    const bad = await hat("translate", "--model", model, "--input", input, "--quant", "fp16");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--quant must be one of f32, int8, linear8, kmeans8, kmeans4, got 'fp16'/);
  });
});
