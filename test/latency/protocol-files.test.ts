/**
 * The protocol in files: campaign CSVs, predictor files and search records of today round-trip
 * it, and those written before it had its later fields (trim, rounds, keep, threads, quant; a predictor's
 * build beside it; a record's camelCase protocol) still load, with the documented defaults.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateSpace } from "../../runtime/arch.js";
import { hatFeatures } from "../../runtime/arch-features.js";
import { smallestArch } from "../../runtime/arch-sample.js";
import { DEFAULT_PROTOCOL, protocolOf, UNRECORDED_DEFAULTS } from "../../runtime/protocol.js";
import type { Arch, Space } from "../../runtime/types.js";
import { runCampaign, type Measure } from "../../latency/campaign.js";
import { csvHeader, formatDataset, parseDataset, readDataset, type LatencyRow } from "../../latency/dataset.js";
import { Predictor } from "../../latency/predictor.js";
import { measuredRecord, type MeasuredRecord } from "../../search/report.js";
import { TINY_SPACE } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "hat-protocol-"));
const LATER = ["trim", "rounds", "keep", "threads", "quant"];

/** The CSV text without the later protocol columns: a file as an earlier version wrote it. */
function withoutLaterColumns(text: string): string {
  const lines = text.trimEnd().split("\n");
  const header = lines[0].split(",");
  const keep = header.map((c, i) => (LATER.includes(c) ? -1 : i)).filter((i) => i >= 0);
  return lines.map((l) => { const cells = l.split(","); return keep.map((i) => cells[i]).join(","); }).join("\n") + "\n";
}

describe("the protocol in files", () => {
  const arch = smallestArch(validateSpace({ ...TINY_SPACE, endeLayerChoices: [1, 2] }));
  const row = (p = protocolOf({ runs: 3, vocab: 64, build: "hat.wasm" })): LatencyRow => ({
    features: hatFeatures(arch), encoder_ms: 1.5, decoder_ms: 2.5, encoder_std_ms: 0.1, decoder_std_ms: 0.2, arch, protocol: p,
  });

  it("campaign CSV: every field a column, round-tripped; an older file reads the later fields as UNRECORDED_DEFAULTS", () => {
    const p = protocolOf({ runs: 3, vocab: 64, rounds: 3, trim: 0.25, build: "hat-relaxed.wasm" });
    const text = formatDataset([row(p)]);
    for (const c of [...LATER, "build"]) expect(csvHeader(true).split(",")).toContain(c);
    expect(parseDataset(text).rows[0].protocol).toEqual(p);
    const old = withoutLaterColumns(text);
    expect(old.split("\n")[0].split(",")).not.toContain("rounds");
    expect(parseDataset(old).rows[0].protocol).toEqual({ ...p, ...UNRECORDED_DEFAULTS });
    expect(parseDataset(old).rows[0].protocol!.quant).toBe("f32"); // measured before int8 products
    // an int8 campaign's rows say so, and read back as int8
    const q = { ...p, quant: "int8" as const };
    const qText = formatDataset([row(q)]);
    expect(qText.split("\n")[1].split(",")[csvHeader(true).split(",").indexOf("quant")]).toBe("int8");
    expect(parseDataset(qText).rows[0].protocol).toEqual(q);
    // bad cells name the column
    expect(() => parseDataset(qText.replace(",int8,", ",int4,"), "x")).toThrow(/x:2: column quant: /);
    expect(() => parseDataset(text.replace(",fastest,", ",median,"), "x")).toThrow(/x:2: column keep: /);
    expect(() => parseDataset(text.replace(",0.25,3,", ",0.25,0,"), "x")).toThrow(/x:2: column rounds: /);
  });

  it("predictor files: the protocol with its build inside; an older file's (six numbers, build beside it) loads", () => {
    const p = protocolOf({ runs: 3, warmup: 1, vocab: 64, src_len: 4, tgt_len: 3, beam: 2, build: "hat.wasm" });
    const pred = new Predictor({
      device: "test", space: validateSpace({ ...TINY_SPACE, endeLayerChoices: [1, 2] }) as Space, protocol: p,
      features: { kind: "hat", maxEncoderLayers: 0, maxDecoderLayers: 0, mean: Array(10).fill(0), std: Array(10).fill(1), min: Array(10).fill(0), max: Array(10).fill(1e4) },
      target: { kind: "total", mean: [0], std: [1] }, sizes: [10, 1],
      weights: [{ w: new Float32Array(10).fill(0.01), b: Float32Array.from([0.5]) }], testSet: { measured: [1], predicted: [1] },
    });
    const json = JSON.parse(JSON.stringify(pred)) as Record<string, unknown>;
    expect(json.protocol).toEqual(p);
    expect(json.build).toBeUndefined();
    expect(Predictor.fromJSON(json).protocol).toEqual(p);
    const { trim: _t, rounds: _r, keep: _k, threads: _h, quant: _q, build, ...six } = p;
    const old = { ...json, protocol: six, build };
    expect(Predictor.fromJSON(old).protocol).toEqual(p); // the defaults are what it was measured with
    expect(Predictor.fromJSON({ ...json, protocol: six }).protocol).toEqual({ ...p, build: undefined });
    expect(() => Predictor.fromJSON({ ...json, protocol: { ...p, runs: 0 } })).toThrow(/protocol\.runs: /);
    // an int8 predictor says so in its file
    const q = Predictor.fromJSON(JSON.parse(JSON.stringify({ ...json, protocol: { ...p, quant: "int8" } })));
    expect(q.protocol!.quant).toBe("int8");
    expect((JSON.parse(JSON.stringify(q)) as { protocol: { quant: string } }).protocol.quant).toBe("int8");
    const noProtocol = { ...json };
    delete noProtocol.protocol;
    expect(Predictor.fromJSON(noProtocol).protocol).toBeUndefined(); // HAT's data says nothing
  });

  it("a campaign resumed on an older file: its rows checked with the defaults, the file rewritten in today's layout", async () => {
    const space = validateSpace({ ...TINY_SPACE, endeLayerChoices: [1, 2] });
    const out = join(dir, "old.csv");
    const measure: Measure = (a: Arch) => ({ encoder_ms: a.encoderEmbedDim / 10, decoder_ms: a.decoderEmbedDim / 5, encoder_std_ms: 0.01, decoder_std_ms: 0.01 });
    const device = { cpu: "Test CPU", cores: 2, arch: "x64", platform: "linux" };
    const o = { space, samples: 6, out, device, measure, remeasure: false, log: () => {} };
    const protocol = { runs: 3, warmup: 1, vocab: 64, src_len: 4, tgt_len: 3, beam: 2, build: "test", rounds: 2 };
    await runCampaign({ ...o, protocol, stopAfter: 3 });
    writeFileSync(out, withoutLaterColumns(readFileSync(out, "utf8")));
    const before = readDataset(out).rows;
    expect(before).toHaveLength(3);
    expect(before[0].protocol!.rounds).toBe(1); // an older file does not say
    const logs: string[] = [];
    const r = await runCampaign({ ...o, protocol, log: (l) => logs.push(l) });
    expect(r).toMatchObject({ complete: true, measured: 6 });
    expect(logs.some((l) => /rewritten with this version's columns \(3 rows kept\)/.test(l))).toBe(true);
    expect(readFileSync(out, "utf8").split("\n")[0] + "\n").toBe(csvHeader(true));
    const rows = readDataset(out).rows;
    expect(rows.every((x) => x.protocol!.rounds === 2 && x.protocol!.build === "test")).toBe(true);
    // another protocol is still refused, naming what differs
    await expect(runCampaign({ ...o, protocol: { ...protocol, trim: 0.2 } })).rejects.toThrow(/trim 0\.1 vs 0\.2/);
  });

  it("search records: today's carry the protocol; an older one's measurement (runs, build, camelCase) reads as one", () => {
    const p = { ...DEFAULT_PROTOCOL, vocab: 1000, build: "hat.wasm" };
    const now: MeasuredRecord = { device: "d", totalMs: 3, encoderMs: 1, decoderMs: 2, protocol: p, overConstraint: false };
    expect(measuredRecord(now)).toBe(now);
    const old = { device: "d", totalMs: 3, encoderMs: 1, decoderMs: 2, runs: 300, build: "hat.wasm", protocol: { vocab: 1000, srcLen: 30, tgtLen: 30, beam: 5 }, overConstraint: false };
    expect(measuredRecord(old as unknown as MeasuredRecord)).toEqual(now);
    const demo = { ...old, runs: 100, build: "hat.wasm on the 'pi' agent ag_1" };
    expect(measuredRecord(demo as unknown as MeasuredRecord)).toEqual({ ...now, protocol: { ...p, runs: 100 }, measuredOn: "the 'pi' agent ag_1" });
  });
});
