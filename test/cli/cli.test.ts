/** The `hat` CLI in-process: profile, init, export, info, and clear errors with exit code 2. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hat } from "./hat.js";
import { smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { hasShared, sharedData } from "../helpers.js";
import { encodeModel } from "../../runtime/format.js";
import { superDims } from "../../runtime/arch.js";
import { randomTensors, superTensorShapes } from "../../runtime/weights.js";
import { SPECIALS } from "../../runtime/types.js";

const dir = mkdtempSync(join(tmpdir(), "hat-cli-"));
const archFile = join(dir, "arch.json");
writeFileSync(archFile, JSON.stringify(smallestArch(DEMO_SPACE)));

describe("hat CLI", () => {
  it("profile --json prints one object with the protocol's timings", async () => {
    const r = await hat("profile", "--arch", archFile, "--vocab", "500", "--runs", "10", "--warmup", "1", "--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out.trim().split("\n").pop()!);
    expect(j.runs).toBe(10);
    expect(j.encoder_ms).toBeGreaterThan(0);
    expect(j.decoder_ms).toBeGreaterThan(j.encoder_ms * 0); // measured, positive
    expect(j.total_ms).toBeCloseTo(j.encoder_ms + j.decoder_ms, 6);
    expect(j.beam).toBe(5);
  });

  it("profile --quant kmeans4 measures (and says) the k-means 4-bit form", async () => {
    const r = await hat("profile", "--arch", archFile, "--vocab", "200", "--runs", "2", "--warmup", "0", "--src-len", "3", "--tgt-len", "2", "--quant", "kmeans4", "--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out.trim().split("\n").pop()!);
    expect(j.quant).toBe("kmeans4");
    expect(j.total_ms).toBeGreaterThan(0);
    const bad = await hat("profile", "--arch", archFile, "--quant", "kmeans2");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--quant must be one of f32, int8, linear8, kmeans8, kmeans4, got 'kmeans2'/);
  });

  it.skipIf(!hasShared)("profile reads HAT's own SubTransformer YAML", async () => {
    const f = join(sharedData, "hat-configs/wmt14.en-de/HAT_wmt14ende_xeon@137.9ms_bleu@25.8.yml");
    const r = await hat("profile", "--arch", f, "--vocab", "64", "--runs", "1", "--warmup", "0", "--src-len", "4", "--tgt-len", "2", "--json");
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).params).toBeGreaterThan(1e6);
  });

  it("init, export and info round-trip a model; the export holds only the SubTransformer's parameters", async () => {
    const sup = join(dir, "super.hatm"), sub = join(dir, "sub.hatm");
    expect((await hat("init", "--space", "demo", "--vocab", "300", "--out", sup)).code).toBe(0);
    const e = await hat("export", "--model", sup, "--arch", archFile, "--out", sub, "--json");
    expect(e.code, e.err).toBe(0);
    const info = await hat("info", "--model", sub, "--json");
    expect(info.code, info.err).toBe(0);
    const j = JSON.parse(info.out);
    expect(j.kind).toBe("subtransformer");
    expect(j.params).toBe(JSON.parse(e.out).params);
    const supInfo = JSON.parse((await hat("info", "--model", sup, "--json")).out);
    expect(supInfo.params).toBeGreaterThan(j.params);
  });

  it("bad input gives one clear line and exit code 2", async () => {
    const sup = join(dir, "super2.hatm");
    await hat("init", "--space", "demo", "--vocab", "100", "--out", sup);
    const bytes = readFileSync(sup);
    writeFileSync(join(dir, "cut.hatm"), bytes.subarray(0, bytes.length - 100));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"encoderEmbedDim": 128,');
    const cases: [string[], RegExp][] = [
      [["info", "--model", join(dir, "cut.hatm")], /truncated/],
      [["info", "--model", join(dir, "missing.hatm")], /ENOENT|no such file/],
      [["profile", "--arch", bad], /bad\.json.*(JSON|malformed)/i],
      [["profile", "--arch", archFile, "--runs", "zero"], /--runs must be an integer/],
      [["profile", "--arch", archFile, "--bogus"], /bogus/],
      [["profile"], /--arch is required/],
      [["nope"], /unknown command/],
    ];
    for (const [argv, re] of cases) {
      const r = await hat(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err.trim().split("\n")[0].length).toBeGreaterThan(5);
    }
  });

  it("a model with a valid checksum whose positionDims is huge is refused with one line, exit 2, memory staying small (issue 15, 3)", async () => {
    // a real SuperTransformer of the demo space, its header claiming sinusoid tables 400,000 wide:
    // [1026, 400000] floats each, 1.6 GB; the file itself is well-formed, its CRC correct
    const d = superDims(DEMO_SPACE);
    const craft = (positionDims: { encoder: number; decoder: number }, name: string) => {
      const f = join(dir, name);
      writeFileSync(f, encodeModel({ kind: "supertransformer", space: DEMO_SPACE, positionDims, vocab: { size: 120, ...SPECIALS } },
        randomTensors(superTensorShapes(DEMO_SPACE, 120), 1)));
      return f;
    };
    const rss0 = process.memoryUsage().rss;
    for (const [pd, re] of [
      [{ encoder: 400_000, decoder: d.decoderEmbedDim }, /positionDims\.encoder = 400000 is above the maximum embedding width 4096/],
      [{ encoder: d.encoderEmbedDim, decoder: 4096 }, /positionDims\.decoder = 4096 is wider than the space's largest decoder embedding/],
    ] as const) {
      const r = await hat("info", "--model", craft(pd, "wide.hatm"));
      expect(r.code, r.err).toBe(2);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).toMatch(re);
    }
    expect(process.memoryUsage().rss - rss0).toBeLessThan(200 * 2 ** 20);
    // the honest widths still load
    expect((await hat("info", "--model", craft({ encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim }, "ok.hatm"))).code).toBe(0);
  });
});
