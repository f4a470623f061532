/**
 * The fleet load test (bench/fleet-load.ts) at small N: the real server over real HTTP against
 * 10 simulated agents on a 300-architecture campaign, with replayed chunks. Every index must be in
 * the campaign's dataset exactly once, with its own numbers, and no replay stored again. The
 * bench's options are checked like any input.
 */
import { describe, expect, it } from "vitest";
import { LoadOptionError, parseLoadArgs, runFleetLoad } from "../../bench/fleet-load.js";

describe("fleet load (N = 10)", () => {
  it("10 agents measure a campaign: 0 lost, 0 duplicate rows, replays answered with the first reply", async () => {
    const r = await runFleetLoad({ agents: 10, archs: 300, procs: 0, measureMs: 0, replay: 0.2, heartbeatEvery: 2, waitS: 2, maxS: 60, space: "wmt14" });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.rows_stored).toBe(300);
    expect(r.campaigns).toHaveLength(1);
    expect(r.campaigns[0]).toMatchObject({ state: "done", size: 300, dataset_rows: 300, lost: 0, duplicates: 0, mismatched: 0, db_lost: 0 });
    expect(r.lost).toBe(0);
    expect(r.duplicates).toBe(0);
    expect(r.acked_twice).toBe(0);
    expect(r.replays).toBeGreaterThan(0); // the idempotency path was exercised
    expect(r.replays_mismatched).toBe(0);
    expect(r.leases).toBeGreaterThanOrEqual(300 / 5);
    expect(r.latency_ms.lease.n).toBe(r.leases);
    expect(r.rows_per_s).toBeGreaterThan(0);
    expect(r.server.rss_peak_mb).toBeGreaterThan(0);
    const line = JSON.parse(JSON.stringify(r)) as typeof r; // the summary is one JSON line
    expect(line.bench).toBe("fleet-load");
  });

  it("bad options name the flag", () => {
    expect(parseLoadArgs(["--agents", "100", "--measure-ms", "5"])).toEqual({ agents: 100, measureMs: 5 });
    expect(() => parseLoadArgs(["--agents", "many"])).toThrow(/--agents: a number/);
    expect(() => parseLoadArgs(["--agnets", "3"])).toThrow(LoadOptionError);
    return expect(runFleetLoad({ agents: 0 })).rejects.toThrow(/--agents: an integer from 1/);
  });
});
