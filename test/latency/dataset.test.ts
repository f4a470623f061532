/**
 * latency/dataset.ts: HAT's CSV layout read and written (HAT's own files round-trip byte for byte
 * when ../shared is present), our extra columns, and clear errors on malformed files.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { archKey, hatFeatures } from "../../runtime/arch-features.js";
import { largestArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import {
  archFromCell, archToCell, csvHeader, formatDataset, formatRow, HAT_COLUMNS, latestPerArch, LatencyDataError, parseDataset,
  pyFloat, thisDevice, type LatencyRow,
} from "../../latency/dataset.js";
import { DEFAULT_PROTOCOL } from "../../runtime/protocol.js";
import { hasShared, sharedData } from "../helpers.js";

const latencyDir = join(sharedData, "hat-latency");
const HEADER = HAT_COLUMNS.join(",");
const ROW = "512,6,1877.3333333333333,6.0,640,3,1706.6666666666667,6.0,2.6666666666666665,1.3333333333333333,1990.0972843170166,5932.554125785828,413.8751029968262,45.89879512786865";

describe("latency datasets", () => {
  it("writes floats as Python's repr does", () => {
    expect([6, 1877.3333333333333, 5e-5, 0.0001, 1.5e-7, 0.0059604644775390625, 1e16].map(pyFloat))
      .toEqual(["6.0", "1877.3333333333333", "5e-05", "0.0001", "1.5e-07", "0.0059604644775390625", "1e+16"]);
  });

  it.skipIf(!hasShared)("reads HAT's published datasets and writes them back byte for byte", () => {
    const files = readdirSync(latencyDir).filter((f) => f.endsWith(".csv"));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const text = readFileSync(join(latencyDir, f), "utf8");
      const ds = parseDataset(text, f);
      expect(ds.rows).toHaveLength(2000);
      expect(ds.rows[0].arch).toBeUndefined();
      expect(formatDataset(ds.rows)).toBe(text);
    }
  });

  it("our rows carry the architecture, protocol and device, and stay readable by HAT's comma split", () => {
    const rows: LatencyRow[] = [smallestArch(DEMO_SPACE), largestArch(DEMO_SPACE)].map((arch, i) => ({
      features: hatFeatures(arch), encoder_ms: 1.5 + i, decoder_ms: 7.25 + i, encoder_std_ms: 0.1, decoder_std_ms: 0.2, arch,
      protocol: { ...DEFAULT_PROTOCOL, vocab: 1000, build: "hat.wasm" }, device: { ...thisDevice(), cpu: "Some CPU, Inc. @ 2GHz" },
      sample: i, seq: i, pass: 0, load1: 0.5, measured_at: "2025-01-01T00:00:00.000Z",
    }));
    const text = formatDataset(rows);
    const back = parseDataset(text).rows;
    expect(back.map((r) => archKey(r.arch!))).toEqual(rows.map((r) => archKey(r.arch!)));
    expect(back[1].decoder_ms).toBe(8.25);
    expect(back[0].protocol).toEqual(rows[0].protocol);
    expect(back[0].device!.cpu).toBe("Some CPU Inc. @ 2GHz"); // commas never reach a cell
    // HAT's reader: line.split(',')[:10] are the features, the next two the encoder and decoder means
    for (const line of text.trim().split("\n").slice(1)) {
      const cells = line.split(",");
      expect(cells).toHaveLength(csvHeader(true).split(",").length);
      expect(Number(cells[10]) + Number(cells[11])).toBeGreaterThan(0);
    }
    expect(archFromCell(archToCell(rows[1].arch!))).toEqual(rows[1].arch);
  });

  it("rows carry the machine's speed (speed, ref_ms); files without the columns still read; a bad value names line and column", () => {
    const arch = smallestArch(DEMO_SPACE);
    const base: LatencyRow = { features: hatFeatures(arch), encoder_ms: 1, decoder_ms: 2, encoder_std_ms: 0, decoder_std_ms: 0, arch, protocol: { ...DEFAULT_PROTOCOL, build: "hat.wasm" } };
    const rows: LatencyRow[] = [{ ...base, speed: 1.0712345678901234, ref_ms: 0.8125 }, { ...base, encoder_ms: 3 }];
    const text = formatDataset(rows);
    expect(csvHeader(true)).toMatch(/,replaced_total_ms,speed,ref_ms,arch\n$/);
    const back = parseDataset(text).rows;
    expect(back[0]).toMatchObject({ speed: 1.0712345678901234, ref_ms: 0.8125 }); // exact: written as Python's repr
    expect(back[1]).not.toHaveProperty("speed");
    // a file of before: no speed columns
    const cols = csvHeader(true).trim().split(",");
    const drop = (line: string) => line.split(",").filter((_, i) => cols[i] !== "speed" && cols[i] !== "ref_ms").join(",");
    const old = text.trim().split("\n").map(drop).join("\n") + "\n";
    expect(old).not.toMatch(/speed/);
    const oldRows = parseDataset(old, "old.csv").rows;
    expect(oldRows).toHaveLength(2);
    expect(oldRows[0]).not.toHaveProperty("speed");
    expect(oldRows[0].arch).toEqual(arch);
    // bad values
    const at = cols.indexOf("speed");
    const withSpeed = (v: string) => { const lines = text.split("\n"); const c = lines[1].split(","); c[at] = v; lines[1] = c.join(","); return lines.join("\n"); };
    expect(() => parseDataset(withSpeed("fast"), "s.csv")).toThrow(LatencyDataError);
    expect(() => parseDataset(withSpeed("fast"), "s.csv")).toThrow(/s\.csv:2: column speed: 'fast' is not a finite number/);
    expect(() => parseDataset(withSpeed("0"), "s.csv")).toThrow(/s\.csv:2: column speed: 0 is not a positive number/);
    expect(() => parseDataset(withSpeed("-1.5"), "s.csv")).toThrow(/column speed: -1\.5 is not a positive number/);
  });

  it("a later row of the same architecture replaces the earlier one in place", () => {
    const a = smallestArch(DEMO_SPACE), b = largestArch(DEMO_SPACE);
    const r = (arch: typeof a, ms: number): LatencyRow => ({ features: hatFeatures(arch), arch, encoder_ms: ms, decoder_ms: ms, encoder_std_ms: 0, decoder_std_ms: 0 });
    const out = latestPerArch([r(a, 1), r(b, 2), r(a, 3)], archKey);
    expect(out.map((x) => x.encoder_ms)).toEqual([3, 2]);
  });

  it("refuses malformed files with the line and column", () => {
    const bad: [string, RegExp][] = [
      ["", /empty file/],
      [HEADER + "\n", /no rows after the header/],
      [HEADER.replace(",latency_std_decoder", "") + "\n" + ROW + "\n", /missing column latency_std_decoder/],
      [HEADER + "\n" + ROW.replace("1990.0972843170166", "nan") + "\n", /x:2: column latency_mean_encoder: 'nan' is not a finite number/],
      [HEADER + "\n" + ROW.replace("1990.0972843170166", "") + "\n", /not a finite number/],
      [HEADER + "\n" + ROW.replace("512,6,", "512,0,") + "\n", /encoder_layer_num: 0 is not a positive/],
      [HEADER + "\n" + ROW + ",7\n", /x:2: 15 fields, the header has 14/],
      [HEADER + "\n" + ROW + "\n" + ROW.slice(0, 40), /incomplete/],
      [HEADER + "\n" + ROW.replace("1990.0972843170166", "-3") + "\n", /latencies must be positive/],
      [HEADER + "\n" + '"unterminated,' + ROW + "\n", /unterminated quote/],
      [HEADER + ",arch\n" + ROW + ",De=512 Le=6\n", /column arch/],
      [HEADER + ",runs\n" + ROW + ",300\n", /protocol columns warmup, vocab/],
    ];
    for (const [text, re] of bad) {
      expect(() => parseDataset(text, "x"), text.slice(0, 60)).toThrow(LatencyDataError);
      expect(() => parseDataset(text, "x")).toThrow(re);
    }
    // an arch that disagrees with the row's features
    const arch = largestArch(DEMO_SPACE);
    const row: LatencyRow = { features: hatFeatures(arch), encoder_ms: 1, decoder_ms: 2, encoder_std_ms: 0, decoder_std_ms: 0, arch };
    const line = formatRow({ ...row, features: [...row.features.slice(0, 9), 1] }, true);
    expect(() => parseDataset(csvHeader(true) + line, "y")).toThrow(/decoder_arbitrary_ende_attn_avg is 1 but the arch gives 2/);
    // a torn last line is dropped on request (the campaign repairs its file so)
    const ok = formatDataset([row]);
    const torn = parseDataset(ok + line.slice(0, 30), "z", { dropTruncatedTail: true });
    expect(torn.rows).toHaveLength(1);
    expect(torn.truncatedTail).toBe(line.slice(0, 30));
    expect(torn.completeBytes).toBe(Buffer.byteLength(ok));
  });
});
