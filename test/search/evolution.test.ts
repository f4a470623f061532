import { describe, expect, it } from "vitest";
import { archKey } from "../../runtime/arch-features.js";
import { sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { HAT_WMT_SPACE } from "../../runtime/spaces.js";
import { InfeasibleConstraintError } from "../../search/constraint.js";
import { evolutionSearch } from "../../search/evolution.js";
import { CachedLoss } from "../../search/fitness.js";
import { SearchProblem } from "../../search/problem.js";
import { randomSearch } from "../../search/random.js";
import { rng } from "../helpers.js";
import { distanceLoss, FlopsLatency } from "./synthetic.js";

const space = HAT_WMT_SPACE;
const lat = new FlopsLatency(10);
// a known optimum: a mid-size SubTransformer; the constraint sits just above its latency
const target = sampleArch(space, rng(11));
const targetMs = lat.predict([target])[0];
const limit = targetMs * 1.02;
const problem = (seed = 0, loss = new CachedLoss(distanceLoss(space, target))) =>
  new SearchProblem(space, [{ name: "flops", model: new FlopsLatency(10), maxMs: limit }], loss);

describe("evolutionary search", () => {
  it("finds the known optimum with HAT's defaults and beats random search at equal budget", () => {
    const evo = evolutionSearch(problem(), { seed: 1 });
    expect(evo.history).toHaveLength(30);
    expect(evo.best.loss).toBe(0);
    expect(evo.best.key).toBe(archKey(target));
    const rnd = randomSearch(problem(), { budget: evo.evaluations, seed: 1 });
    expect(rnd.evaluations).toBe(evo.evaluations);
    expect(rnd.best.loss).toBeGreaterThan(evo.best.loss + 1);
    // best loss never gets worse from one generation to the next (parents survive)
    for (let i = 1; i < evo.history.length; i++) expect(evo.history[i].bestLoss).toBeLessThanOrEqual(evo.history[i - 1].bestLoss);
  });

  it("beats random search at equal budget for every seed, with a small budget too", () => {
    for (const seed of [2, 3, 4]) {
      const evo = evolutionSearch(problem(), { seed, generations: 8, population: 40, parents: 10, mutations: 15, crossovers: 15 });
      const rnd = randomSearch(problem(), { budget: evo.evaluations, seed, batch: 40 });
      expect(evo.best.loss, `seed ${seed}`).toBeLessThan(rnd.best.loss);
    }
  });

  it("every candidate evaluated meets the latency constraint", () => {
    const evo = evolutionSearch(problem(), { seed: 5, generations: 10 });
    const check = new FlopsLatency(10).predict(evo.evaluated.map((e) => e.arch));
    check.forEach((ms, i) => {
      expect(ms).toBeLessThanOrEqual(limit);
      expect(evo.evaluated[i].latency[0]).toBe(ms);
    });
    expect(evo.evaluated.length).toBe(evo.evaluations);
  });

  it("is reproducible: the same seed gives the same search, another seed another", () => {
    const o = { generations: 6, population: 30, parents: 8, mutations: 10, crossovers: 10 };
    const a = evolutionSearch(problem(), { ...o, seed: 7 }), b = evolutionSearch(problem(), { ...o, seed: 7 });
    expect(b.evaluated.map((e) => e.key)).toEqual(a.evaluated.map((e) => e.key));
    expect(b.history.map((h) => [h.bestLoss, h.evaluations])).toEqual(a.history.map((h) => [h.bestLoss, h.evaluations]));
    const c = evolutionSearch(problem(), { ...o, seed: 8 });
    expect(c.evaluated.map((e) => e.key)).not.toEqual(a.evaluated.map((e) => e.key));
    const r1 = randomSearch(problem(), { budget: 100, seed: 7 }), r2 = randomSearch(problem(), { budget: 100, seed: 7 });
    expect(r2.evaluated.map((e) => e.key)).toEqual(r1.evaluated.map((e) => e.key));
  });

  it("scores each architecture once: the cache counts evaluations once across generations and searches", () => {
    let calls = 0;
    const f = distanceLoss(space, target);
    const loss = new CachedLoss((a) => { calls++; return f(a); });
    const evo = evolutionSearch(problem(0, loss), { seed: 3, generations: 10 });
    // parents are rescored every generation in HAT; here each architecture costs one call
    expect(calls).toBe(evo.evaluations);
    expect(loss.computed).toBe(evo.evaluations);
    const again = evolutionSearch(problem(0, loss), { seed: 3, generations: 10 });
    expect(calls).toBe(evo.evaluations); // all cached
    expect(again.evaluations).toBe(evo.evaluations); // a run's own budget still counts them
    const rnd = randomSearch(problem(0, loss), { budget: 200, seed: 3 });
    expect(calls).toBe(evo.evaluations + rnd.evaluated.filter((e) => !evo.evaluated.some((x) => x.key === e.key)).length);
  });

  it("refuses an infeasible constraint up front with the smallest reachable latency", () => {
    const minMs = lat.predict([smallestArch(space)])[0];
    const p = new SearchProblem(space, [{ name: "flops", model: new FlopsLatency(10), maxMs: minMs * 0.9 }], distanceLoss(space, target));
    let err: unknown;
    try { evolutionSearch(p, { seed: 1 }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(InfeasibleConstraintError);
    const e = err as InfeasibleConstraintError;
    expect(e.minimum[0].minMs).toBeCloseTo(minMs, 9);
    expect(e.minimum[0].arch).toEqual(smallestArch(space));
    expect(e.message).toContain(minMs.toFixed(3));
    expect(() => randomSearch(p, { budget: 10 })).toThrow(InfeasibleConstraintError);
  });

  it("ends with a warning, not a hang, when only a sliver of the space meets the constraint", () => {
    const minMs = lat.predict([smallestArch(space)])[0];
    const p = new SearchProblem(space, [{ name: "flops", model: new FlopsLatency(10), maxMs: minMs * 1.0001 }], distanceLoss(space, target));
    const t0 = performance.now();
    const evo = evolutionSearch(p, { seed: 1, generations: 3, triesPerCandidate: 20 });
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(evo.warnings.join("\n")).toMatch(/only \d+ of 125 candidates met the constraint/);
    expect(evo.best.latency[0]).toBeLessThanOrEqual(minMs * 1.0001);
  });

  it("rejects bad settings", () => {
    expect(() => evolutionSearch(problem(), { parents: 200 })).toThrow(/parents/);
    expect(() => evolutionSearch(problem(), { mutationProb: 1.5 })).toThrow(/probability/);
    expect(() => evolutionSearch(problem(), { generations: 0 })).toThrow(/generations/);
  });
});
