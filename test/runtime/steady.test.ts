/**
 * runtime/steady.ts: the reference gauge, re-measurement in a slow spell (bounded), none on a
 * steady machine, the numbers against hand computation, reuse of a recent reference, and the
 * real default measurement; runtime/profile.ts profileArchYielding gives the event loop back.
 */
import { describe, expect, it } from "vitest";
import { smallestArch } from "../../runtime/arch-sample.js";
import { profileArch, profileArchYielding, profileFastestYielding } from "../../runtime/profile.js";
import { protocolOf } from "../../runtime/protocol.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import {
  MAX_REMEASURES, measureSteady, MIN_BASELINE, REFERENCE_ARCH, REFERENCE_REUSE_MS, referenceProtocol, SpeedGauge, STEADY_TOLERANCE,
} from "../../runtime/steady.js";
import { loadWasm } from "../../runtime/wasm-node.js";

const p = protocolOf({ runs: 3, warmup: 1, vocab: 64, src_len: 4, tgt_len: 3, beam: 2, build: "test" });
const arch = smallestArch(DEMO_SPACE);

/** A simulated machine: a clock, reference timings from a script (ms), measurements counted. */
function machine(refTimes: (i: number) => number) {
  let t = 0, refs = 0, measures = 0;
  const pauses: number[] = [];
  const gauge = new SpeedGauge(() => t);
  const o = {
    gauge,
    reference: () => { t += 10; return refTimes(refs++); },
    measure: () => { t += 2000; measures++; return { total_ms: 3, at: measures }; }, // longer than REFERENCE_REUSE_MS: no reuse
    sleep: async (ms: number) => { pauses.push(ms); t += ms; },
  };
  /** One measurement, a few seconds after the last (no reference reused). */
  const next = () => { t += 5000; return measureSteady(arch, p, o); };
  return { o, gauge, pauses, next, get refs() { return refs; }, get measures() { return measures; } };
}

describe("measureSteady", () => {
  it("a steady machine is never re-measured; speed 1", async () => {
    const m = machine(() => 1.0);
    for (let i = 0; i < 10; i++) {
      const r = await m.next();
      expect(r.remeasured).toBe(0);
      expect(r.speed).toBe(1);
      expect(r.ref_ms).toBe(1);
    }
    expect(m.measures).toBe(10);
    expect(m.refs).toBe(20); // before and after each
    expect(m.pauses).toEqual([]);
  });

  it("a slow spell triggers re-measurement, keeps the attempt at the lowest speed, and says its speed", async () => {
    // 6 normal timings (3 measurements), then the machine runs 1.5x slow for 3 reference timings, then normal again
    const m = machine((i) => (i >= 6 && i < 9 ? 1.5 : 1.0));
    for (let i = 0; i < 3; i++) expect((await m.next()).remeasured).toBe(0);
    const r = await m.next();
    // attempt 1: refs 1.5, 1.5 -> 1.5 / median(1 x6, 1.5 x2) = 1.5 > 1.15; attempt 2: refs 1.5, 1.0 -> 1.25 / median(.. 1.5 x3, 1 x7) = 1.25;
    // attempt 3: refs 1.0, 1.0 -> 1.0 / 1.0: the bound (2 re-measurements) is reached either way; the last is the steadiest
    expect(r.speeds).toEqual([1.5, 1.25, 1]);
    expect(r.remeasured).toBe(2);
    expect(r.speed).toBe(1);
    expect(r.result).toEqual({ total_ms: 3, at: 6 });
    expect(m.pauses).toEqual([500, 500]);
    // back to steady
    expect((await m.next()).remeasured).toBe(0);
  });

  it("the bound holds while the machine stays slow; the row carries its final speed", async () => {
    const m = machine((i) => (i < 20 ? 1.0 : 2.0));
    for (let i = 0; i < 10; i++) await m.next();
    const before = m.measures;
    const r = await m.next();
    expect(m.measures - before).toBe(1 + MAX_REMEASURES);
    expect(r.remeasured).toBe(MAX_REMEASURES);
    expect(r.speeds).toEqual([2, 2, 2]); // the median stays at 1 (20 timings of 1, 2-6 of 2)
    expect(r.speed).toBe(2);
    expect(r.speed).toBeGreaterThan(1 + STEADY_TOLERANCE);
    expect(r.result).toEqual({ total_ms: 3, at: 11 }); // the first of equally slow attempts
    expect(m.pauses).toEqual([500, 500]);
    // a slow spell that lasts becomes the baseline: the median of this process's timings
    for (let i = 0; i < 6; i++) await m.next();
    expect(m.gauge.baseline(p)).toBe(2);
    expect((await m.next()).remeasured).toBe(0);
  });

  it("judges nothing before the gauge holds MIN_BASELINE timings", async () => {
    const m = machine((i) => [1, 3][i] ?? 1);
    const r = await m.next();
    expect(MIN_BASELINE).toBeGreaterThan(2);
    expect(r.remeasured).toBe(0);
    expect(r.speed).toBe(1); // 2 / median(1, 3)
  });

  it("speed and ref_ms match a float64 computation; a recent reference is reused as the next 'before'", async () => {
    const times = [0.91, 1.07, 0.98, 1.13, 1.02, 1.19];
    let t = 0, i = 0;
    const gauge = new SpeedGauge(() => t);
    const o = { gauge, reference: () => { t += 5; return times[i++]; }, measure: () => { t += 100; return "m"; }, sleep: async () => {} };
    const a = await measureSteady(arch, p, o); // refs 0.91, 1.07
    const b = await measureSteady(arch, p, o); // before reused (1.07, 5 ms old), after 0.98
    expect(i).toBe(3);
    expect(a.ref_ms).toBe((0.91 + 1.07) / 2);
    expect(a.speed).toBe(((0.91 + 1.07) / 2) / ((0.91 + 1.07) / 2));
    expect(b.ref_ms).toBe((1.07 + 0.98) / 2);
    expect(b.speed).toBe(((1.07 + 0.98) / 2) / 0.98); // median of 0.91, 1.07, 0.98
    t += REFERENCE_REUSE_MS; // too old now: a fresh "before"
    const c = await measureSteady(arch, p, o); // 1.13, 1.02 -> median of 0.91, 0.98, 1.02, 1.07, 1.13 = 1.02
    expect(i).toBe(5);
    expect(c.speed).toBeCloseTo(((1.13 + 1.02) / 2) / 1.02, 14);
    expect(c.remeasured).toBe(0); // 1.0539 <= 1.15
  });

  it("the reference is constant: independent of the space, capped vocabulary, the protocol's build", () => {
    expect(referenceProtocol(protocolOf({ vocab: 32768 })).vocab).toBe(1024);
    expect(referenceProtocol(p)).toMatchObject({ vocab: 64, runs: 20, src_len: 10, tgt_len: 10, beam: 5, rounds: 1, build: "test" });
    expect(REFERENCE_ARCH.encoderLayers + REFERENCE_ARCH.decoderLayers).toBe(2);
  });

  it("the default measurement: real runs of the arch and of the reference", async () => {
    const wasm = loadWasm();
    const gauge = new SpeedGauge();
    const r = await measureSteady(arch, p, { gauge, profile: { wasm, build: "test" } });
    expect(r.result.total_ms).toBeGreaterThan(0);
    expect(r.result.protocol.runs).toBe(3);
    expect(r.ref_ms).toBeGreaterThan(0);
    expect(r.speed).toBeGreaterThan(0);
    expect(gauge.count(p)).toBe(2);
  });
});

describe("profileFastestYielding", () => {
  it("takes its rounds roundGapMs apart (at different moments, as a campaign's), the fastest kept", async () => {
    const wasm = loadWasm();
    const three = protocolOf({ ...p, rounds: 3 });
    const t0 = performance.now();
    const r = await profileFastestYielding(arch, three, { wasm, roundGapMs: 150 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * 150 - 5); // two gaps between three rounds
    expect(r.protocol.rounds).toBe(3);
    expect(r.total_ms).toBeGreaterThan(0);
  });
});

describe("profileArchYielding", () => {
  it("gives the event loop back between runs: a timer fires during one long measurement (it cannot with profileArch)", async () => {
    const wasm = loadWasm();
    const long = protocolOf({ runs: 200, warmup: 1, vocab: 64, src_len: 8, tgt_len: 8, beam: 2 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    try {
      const t0 = performance.now();
      profileArch(arch, long, { wasm });
      const syncMs = performance.now() - t0;
      const syncTicks = ticks;
      expect(syncTicks).toBe(0);
      ticks = 0;
      const r = await profileArchYielding(arch, long, { wasm, sliceMs: 10 });
      expect(r.protocol.runs).toBe(200);
      if (syncMs > 100) expect(ticks).toBeGreaterThan(1);
    } finally {
      clearInterval(timer);
    }
  });

  it("pauses inside a run (between decoder steps) are not counted in its time", async () => {
    const wasm = loadWasm();
    const q = protocolOf({ runs: 20, warmup: 2, vocab: 64, src_len: 8, tgt_len: 8, beam: 2 });
    profileArch(arch, q, { wasm }); // warm
    const sync = profileArch(arch, q, { wasm });
    let busyMs = 0;
    const spin = setInterval(() => { const t = performance.now(); while (performance.now() - t < 3); busyMs += performance.now() - t; }, 0);
    try {
      const y = await profileArchYielding(arch, q, { wasm, sliceMs: 0 }); // a pause at every step: the timer spins 3 ms in many of them
      expect(busyMs).toBeGreaterThan(10 * y.decoder_ms); // the spins alone would dwarf the runs
      expect(y.decoder_ms).toBeLessThan(3 * sync.decoder_ms + 0.5);
    } finally {
      clearInterval(spin);
    }
  });
});
