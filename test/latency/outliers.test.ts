/** latency/outliers.ts: the warm-up prefix and spikes, on synthetic data and on HAT's Raspberry Pi dataset. */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readDataset } from "../../latency/dataset.js";
import { findOutliers } from "../../latency/outliers.js";
import { hasShared, sharedData } from "../helpers.js";
import { syntheticRows } from "./synthetic.js";

describe("outliers", () => {
  it("finds an injected warm-up period and spikes, and nothing in clean data", () => {
    const clean = syntheticRows(300, 2, 0.02);
    expect(findOutliers(clean).flagged.filter(Boolean)).toHaveLength(0);
    const rows = clean.map((r) => ({ ...r }));
    // warm-up: the first 30 rows' encoder 8x slow (a few normal ones among them) and decoder 10 % slow
    for (let i = 0; i < 30; i++) {
      if (i % 7 !== 3) rows[i].encoder_ms *= 8;
      rows[i].decoder_ms *= 1.1;
    }
    for (const i of [100, 200, 250]) rows[i].decoder_ms *= 2; // spikes
    const r = findOutliers(rows);
    // the prefix ends where a quiet window starts: the last warm-up rows may count as spikes instead
    expect(r.warmupPrefix).toBeGreaterThanOrEqual(25);
    expect(r.warmupPrefix).toBeLessThan(40);
    expect(r.flagged.slice(0, 30).every(Boolean)).toBe(true);
    expect([100, 200, 250].every((i) => r.flagged[i])).toBe(true);
    expect(r.flagged.filter(Boolean).length).toBe(33);
    expect(r.summary).toMatch(/warm-up: the first \d+ rows; \d+ spikes/);
  });

  it("leaves tiny datasets alone", () => {
    expect(findOutliers(syntheticRows(50)).summary).toMatch(/not checked/);
  });

  it.skipIf(!hasShared)("HAT's Raspberry Pi data: a warm-up period of 144 rows, then 48 encoder spikes", () => {
    const rows = readDataset(join(sharedData, "hat-latency/wmt14ende_cpu_raspberrypi_all.csv")).rows;
    const r = findOutliers(rows);
    expect(r.warmupPrefix).toBe(144);
    expect(r.spikes).toBe(48);
    // the warm-up rows' encoders run ~10x their reference
    expect(r.residual.encoder.slice(0, 100).filter((x) => x > 5).length).toBeGreaterThan(70);
    const xeon = readDataset(join(sharedData, "hat-latency/wmt14ende_cpu_xeon_all.csv")).rows;
    expect(findOutliers(xeon).flagged.filter(Boolean)).toHaveLength(0);
  });
});
