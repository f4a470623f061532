import { describe, expect, it } from "vitest";
import { archKey, hatFeatures } from "../../runtime/arch-features.js";
import { sampleArch } from "../../runtime/arch-sample.js";
import type { LatencyRow } from "../../latency/dataset.js";
import { closedLoop, topCandidates, type CandidateMeasurer } from "../../search/closed-loop.js";
import type { LatencyModel } from "../../search/constraint.js";
import type { Evaluated, SearchResult } from "../../search/problem.js";
import type { ValidArch } from "../../runtime/types.js";
import { rng, TINY_SPACE } from "../helpers.js";

// A pool of candidates with a true latency and a loss that falls as latency grows (bigger is better),
// searched by "returning every pool member the model predicts feasible".
function pool(n: number, seed = 1): { arch: ValidArch; trueMs: number; loss: number }[] {
  const r = rng(seed), seen = new Set<string>(), out: { arch: ValidArch; trueMs: number; loss: number }[] = [];
  while (out.length < n) {
    const arch = sampleArch(TINY_SPACE, r);
    if (seen.has(archKey(arch))) continue;
    seen.add(archKey(arch));
    const trueMs = 1 + hatFeatures(arch).reduce((s, v) => s + v, 0) / 100;
    out.push({ arch, trueMs, loss: 10 / trueMs });
  }
  return out;
}

function searcher(p: ReturnType<typeof pool>) {
  let calls = 0;
  const search = (maxMs: number, model: LatencyModel): SearchResult => {
    calls++;
    const pred = model.predict(p.map((c) => c.arch));
    const evaluated: Evaluated[] = p.map((c, i) => ({ arch: c.arch, key: archKey(c.arch), loss: c.loss, latency: [pred[i]], generation: 0, evaluation: i + 1 }))
      .filter((e) => e.latency[0] <= maxMs);
    if (evaluated.length === 0) throw new Error(`no candidate at ${maxMs} ms`);
    const best = [...evaluated].sort((a, b) => a.loss - b.loss)[0];
    return { method: "evolution", best, history: [], evaluated, evaluations: evaluated.length, seconds: 0, warnings: [] };
  };
  return { search, calls: () => calls };
}

/** Predicts the true latency times `factor` (a predictor that is wrong by a constant ratio). */
const scaled = (p: ReturnType<typeof pool>, factor: number): LatencyModel => {
  const t = new Map(p.map((c) => [archKey(c.arch), c.trueMs]));
  return { predict: (archs) => Float64Array.from(archs, (a) => t.get(archKey(a))! * factor) };
};

function measurer(p: ReturnType<typeof pool>, noise = 0): CandidateMeasurer & { asked: ValidArch[][] } {
  const t = new Map(p.map((c) => [archKey(c.arch), c.trueMs]));
  const asked: ValidArch[][] = [];
  return {
    where: "a stand-in device", asked,
    measure: async (archs) => {
      asked.push([...archs]);
      return archs.map((a, i): LatencyRow => {
        const ms = t.get(archKey(a))! * (1 + noise * ((i % 3) - 1));
        return { features: hatFeatures(a), encoder_ms: ms * 0.3, decoder_ms: ms * 0.7, encoder_std_ms: 0, decoder_std_ms: 0, arch: a };
      });
    },
  };
}

describe("closedLoop", () => {
  const p = pool(60);
  const sorted = [...p].sort((a, b) => a.trueMs - b.trueMs);
  const maxMs = sorted[30].trueMs; // half the pool truly meets it

  it("a predictor 25 % low: round 1's candidates miss, the loop tightens and keeps a candidate whose measured latency meets it", async () => {
    const s = searcher(p), m = measurer(p), model = scaled(p, 0.75);
    const loop = await closedLoop({ maxMs, k: 3, rounds: 3, measurer: m, first: { result: s.search(maxMs, model), model }, search: s.search });
    expect(loop.candidates.slice(0, 3).every((c) => c.meets === false)).toBe(true); // the bug: predicted feasible, measured over
    expect(loop.verdict).toBe("meets");
    expect(loop.winner!.measuredMs!).toBeLessThanOrEqual(maxMs);
    expect(loop.rounds).toBeGreaterThan(1);
    expect(loop.targets[1]).toBeCloseTo(maxMs * 0.75, 9); // measured / predicted = 1/0.75 on every candidate
    // the winner is the best loss among what was measured and met
    const met = loop.candidates.filter((c) => c.meets);
    expect(loop.winner!.validLoss).toBe(Math.min(...met.map((c) => c.validLoss)));
    // every candidate: predicted beside measured
    for (const c of loop.candidates) {
      expect(c.measuredMs).toBeCloseTo(p.find((q) => archKey(q.arch) === archKey(c.arch))!.trueMs, 9);
      expect(c.predictedMs).toBeCloseTo(c.measuredMs! * 0.75, 9);
    }
    // no architecture measured twice
    const keys = m.asked.flat().map(archKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("an accurate predictor: one round, the search's best is the winner", async () => {
    const s = searcher(p), m = measurer(p), model = scaled(p, 1);
    const first = s.search(maxMs, model);
    const loop = await closedLoop({ maxMs, k: 3, rounds: 3, measurer: m, first: { result: first, model }, search: s.search });
    expect(loop.rounds).toBe(1);
    expect(s.calls()).toBe(1);
    expect(loop.verdict).toBe("meets");
    expect(archKey(loop.winner!.arch)).toBe(first.best.key);
  });

  it("no candidate meets it: bounded rounds, the verdict says so, the fastest measured is handed on", async () => {
    const s = searcher(p), m = measurer(p), model = scaled(p, 0.1);
    const tiny = sorted[0].trueMs * 0.5; // below every true latency
    const loop = await closedLoop({ maxMs: tiny, k: 2, rounds: 3, measurer: m, first: { result: s.search(tiny, model), model }, search: s.search });
    expect(loop.verdict).toBe("none_met");
    expect(m.asked.length).toBeLessThanOrEqual(3);
    expect(loop.winner!.measuredMs).toBe(Math.min(...loop.candidates.map((c) => c.measuredMs!)));
  });

  it("a failed measurement: unverified, no winner", async () => {
    const s = searcher(p), model = scaled(p, 1);
    const dead: CandidateMeasurer = { where: "nowhere", measure: () => Promise.reject(new Error("no agent online")) };
    const loop = await closedLoop({ maxMs, k: 3, rounds: 3, measurer: dead, first: { result: s.search(maxMs, model), model }, search: s.search });
    expect(loop.verdict).toBe("unverified");
    expect(loop.winner).toBeUndefined();
    expect(loop.stopped).toMatch(/no agent online/);
  });

  it("refits on every row measured so far, and the next round searches with the refitted predictor", async () => {
    const s = searcher(p), m = measurer(p), low = scaled(p, 0.75);
    const refits: number[] = [];
    const loop = await closedLoop({
      maxMs, k: 3, rounds: 3, measurer: m, first: { result: s.search(maxMs, low), model: low }, search: s.search,
      refit: async (rows) => { refits.push(rows.length); return scaled(p, 1); },
    });
    expect(refits[0]).toBe(3);
    // the refitted predictor is exact: round 2's target is the constraint itself, and its best meets it
    expect(loop.targets[1]).toBeCloseTo(maxMs, 9);
    expect(loop.rounds).toBe(2);
    expect(loop.verdict).toBe("meets");
  });

  it("judges a measurement at the machine's usual speed: a slow minute (speed 1.5) is not the model's latency", async () => {
    const s = searcher(p), model = scaled(p, 1), base = measurer(p);
    const slow: CandidateMeasurer = { where: "a busy device", measure: async (archs, r) => (await base.measure(archs, r)).map((row) => ({ ...row, encoder_ms: row.encoder_ms * 1.5, decoder_ms: row.decoder_ms * 1.5, speed: 1.5 })) };
    const loop = await closedLoop({ maxMs, k: 1, rounds: 1, measurer: slow, first: { result: s.search(maxMs, model), model }, search: s.search });
    const c = loop.candidates[0];
    expect(c.measuredMs).toBeGreaterThan(maxMs); // as measured, in the slow minute
    expect(c.usualMs).toBeCloseTo(c.measuredMs! / 1.5, 9);
    expect(c.meets).toBe(true);
    expect(loop.verdict).toBe("meets");
    // a factor below 1 (the baseline was taken in slower minutes) never scales a latency up
    const fast: CandidateMeasurer = { where: "a device", measure: async (archs, r) => (await base.measure(archs, r)).map((row) => ({ ...row, speed: 0.7 })) };
    const f = (await closedLoop({ maxMs, k: 1, rounds: 1, measurer: fast, first: { result: s.search(maxMs, model), model }, search: s.search })).candidates[0];
    expect(f.usualMs).toBe(f.measuredMs);
  });

  it("topCandidates: feasible, distinct, by loss, skipping what was measured", () => {
    const e = (key: string, loss: number, ms: number, i: number): Evaluated => ({ arch: p[0].arch, key, loss, latency: [ms], generation: 0, evaluation: i });
    const ev = [e("a", 3, 1, 1), e("b", 1, 5, 2), e("c", 2, 1, 3), e("c", 2, 1, 4), e("d", 0.5, 0.9, 5)];
    expect(topCandidates(ev, 2, 2, new Set()).map((x) => x.key)).toEqual(["d", "c"]);
    expect(topCandidates(ev, 2, 5, new Set(["d"])).map((x) => x.key)).toEqual(["c", "a"]);
  });
});
