/** `hat quantize` on a small model with a tokenizer, then `hat info` and `hat translate` on the result; bad flags. */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hat } from "./hat.js";
import { Bpe } from "../../data/bpe.js";
import { superDims } from "../../runtime/arch.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { loadServing } from "../../agent/models.js";
import { translateLines } from "../../runtime/decode.js";
import { supernetWithTokenizer } from "../model-files.js";

const dir = mkdtempSync(join(tmpdir(), "hat-quantize-"));
const text = ["the cat sat on the mat", "a dog runs in the park", "hello world", "the quick brown fox jumps", "over the lazy dog"];
const bpe = Bpe.train(text, { vocabSize: 60, byteFallback: false, minFrequency: 1 });
const d = superDims(DEMO_SPACE);
const model = join(dir, "m.hatm");
writeFileSync(model, supernetWithTokenizer(DEMO_SPACE, bpe, 1));
const input = join(dir, "src.txt");
writeFileSync(input, "the cat runs\nhello dog\nover the mat\n");

describe("hat quantize", () => {
  for (const [method, bits, ratio] of [["kmeans", "4", 5.5], ["linear", "8", 3]] as const) {
    it(`${method} ${bits} bits: a smaller file that hat info describes and hat translate runs`, async () => {
      const out = join(dir, `${method}${bits}.hatm`);
      const q = await hat("quantize", "--model", model, "--bits", bits, "--method", method, "--out", out, "--json");
      expect(q.code, q.err).toBe(0);
      const j = JSON.parse(q.out);
      expect(j).toMatchObject({ out, method, bits: Number(bits), bytes: statSync(out).size, in_bytes: statSync(model).size });
      expect(j.ratio).toBeGreaterThan(ratio);
      expect(j.rel_rmse).toBeGreaterThan(0);
      expect(j.rel_rmse).toBeLessThan(bits === "4" ? 0.2 : 0.02);

      const info = await hat("info", "--model", out, "--json");
      expect(info.code, info.err).toBe(0);
      const i = JSON.parse(info.out);
      expect(i).toMatchObject({ bytes: j.bytes, f32_bytes: j.f32_bytes, format_version: 2, params: j.params });
      expect(i.quantization).toEqual([{ method, bits: Number(bits), tensors: j.quantized_tensors, params: j.quantized_params }]);
      const text = await hat("info", "--model", out);
      expect(text.out).toMatch(new RegExp(`size: [\\d.]+ MiB on disk, [\\d.]+ MiB as f32 \\([\\d.]+x\\); quantized ${method} ${bits} bits: \\d+ matrices`));

      const t = await hat("translate", "--model", out, "--input", input, "--beam", "2");
      expect(t.code, t.err).toBe(0);
      expect(t.out.split("\n").length - 1).toBe(3); // one line out per line in

      // the agent's deployment path loads it as downloaded
      const serving = loadServing(new Uint8Array(readFileSync(out)), loadWasm(), "D1", "0".repeat(64));
      expect(translateLines(serving.sub, serving.bpe, ["hello dog"], { beam: 2 })).toHaveLength(1);
    });
  }

  it("--embed-bits 8: the embedding at 8 bits, the other matrices at 4; hat info lists both forms", async () => {
    const out = join(dir, "mixed.hatm");
    const q = await hat("quantize", "--model", model, "--bits", "4", "--embed-bits", "8", "--out", out);
    expect(q.code, q.err).toBe(0);
    expect(q.out).toMatch(/kmeans 4 bits \(the embedding 8 bits\)/);
    const i = JSON.parse((await hat("info", "--model", out, "--json")).out);
    expect(i.quantization.map((f: { method: string; bits: number; tensors: number }) => [f.method, f.bits, f.tensors > 1 ? "many" : f.tensors]))
      .toEqual([["kmeans", 8, 1], ["kmeans", 4, "many"]]);
  });

  it("--finetune-steps: k-means with its centroids fine-tuned on a corpus; the SuperTransformer's largest as a compact model", async () => {
    const out = join(dir, "ft.hatm"), src = join(dir, "tr.src"), tgt = join(dir, "tr.tgt");
    writeFileSync(src, text.join("\n") + "\n");
    writeFileSync(tgt, [...text].reverse().join("\n") + "\n");
    const q = await hat("quantize", "--model", model, "--bits", "4", "--finetune-steps", "3", "--src", src, "--tgt", tgt, "--valid-src", src, "--valid-tgt", tgt,
      "--threads", "1", "--out", out, "--json");
    expect(q.code, q.err).toBe(0);
    const j = JSON.parse(q.out);
    expect(j).toMatchObject({ out, method: "kmeans", bits: 4, steps: 3, bytes: statSync(out).size });
    for (const k of ["f32", "quantized", "finetuned"]) expect(Number.isFinite(j.valid_loss[k])).toBe(true);
    const i = JSON.parse((await hat("info", "--model", out, "--json")).out);
    expect(i).toMatchObject({ kind: "subtransformer", format_version: 2 });
    expect(i.quantization[0]).toMatchObject({ method: "kmeans", bits: 4 });
    const t = await hat("translate", "--model", out, "--input", input, "--beam", "2");
    expect(t.code, t.err).toBe(0);
    expect(t.out.split("\n").length - 1).toBe(3);
  });

  it("an f32 model's info says so", async () => {
    const i = JSON.parse((await hat("info", "--model", model, "--json")).out);
    expect(i).toMatchObject({ format_version: 1, quantization: [] });
    expect(i.f32_bytes).toBe(4 * i.params);
  });

  it("bad flags and a corrupt quantized file: one clear line, exit code 2", async () => {
    const out = join(dir, "x.hatm");
    await hat("quantize", "--model", model, "--bits", "4", "--out", out);
    const bytes = readFileSync(out);
    writeFileSync(join(dir, "cut.hatm"), bytes.subarray(0, bytes.length - 10));
    for (const [argv, re] of [
      [["quantize", "--model", model, "--bits", "3", "--out", out], /--bits must be 4 or 8, got '3'/],
      [["quantize", "--model", model, "--bits", "8", "--method", "pq", "--out", out], /--method must be kmeans or linear, got 'pq'/],
      [["quantize", "--model", model, "--out", out], /--bits is required/],
      [["quantize", "--model", model, "--bits", "4", "--embed-bits", "16", "--out", out], /--embed-bits must be 4, 8 or 32, got '16'/],
      [["quantize", "--model", model, "--bits", "4", "--init", "random", "--out", out], /--init must be uniform or quantile, got 'random'/],
      [["quantize", "--model", model, "--bits", "8", "--method", "linear", "--init", "quantile", "--out", out], /--init goes with --method kmeans/],
      [["quantize", "--model", model, "--bits", "8"], /--out is required/],
      [["quantize", "--model", model, "--bits", "4", "--demo", "--out", out], /--demo goes with --finetune-steps or --finetune-minutes/],
      [["quantize", "--model", model, "--bits", "8", "--method", "linear", "--finetune-steps", "3", "--demo", "--out", out], /fine-tuning keeps k-means assignments/],
      [["quantize", "--model", model, "--bits", "4", "--finetune-steps", "3", "--finetune-minutes", "1", "--demo", "--out", out], /give one of --finetune-steps and --finetune-minutes/],
      [["quantize", "--model", model, "--bits", "4", "--finetune-steps", "0", "--demo", "--out", out], /--finetune-steps/],
      [["quantize", "--model", join(dir, "cut.hatm"), "--bits", "8", "--out", out], /cut\.hatm: file is truncated/],
      [["info", "--model", join(dir, "cut.hatm")], /truncated/],
    ] as const) {
      const r = await hat(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
  });
});
