import { describe, expect, it } from "vitest";
import { archKey, archParams } from "../../runtime/arch-features.js";
import type { Arch } from "../../runtime/types.js";
import { enumerateArchs } from "../../search/genome.js";
import { dominates, nonDominatedSort, nsga2Search, objectives, paretoFront } from "../../search/nsga2.js";
import { SearchProblem, type Evaluated } from "../../search/problem.js";
import { TINY_SPACE } from "../helpers.js";
import { FlopsLatency } from "./synthetic.js";

// 1152 SubTransformers: small enough for brute force
const space = { ...TINY_SPACE, encoderLayerChoices: [1], decoderLayerChoices: [1, 2], endeLayerChoices: [1] };
// a loss that falls with size, plus small per-gene terms that latency does not see: a front of ~50 points
const loss = (a: Arch) => 10 / Math.sqrt(archParams(a, 64)) +
  0.002 * a.decoderCrossHeads.reduce((s, h) => s + 1 / h, 0) + 0.001 * a.encoderHeads.reduce((s, h) => s + 1 / h, 0);
const devA = new FlopsLatency(10, 64), devB = new FlopsLatency(10, 2000, 0.5);

function bruteFront(devices: FlopsLatency[], maxMs?: number): Set<string> {
  const all = enumerateArchs(space);
  const lat = devices.map((d) => d.predict(all));
  const es: Evaluated[] = all.map((arch, i) => ({ arch, key: archKey(arch), loss: loss(arch), latency: lat.map((l) => l[i]), generation: 0, evaluation: i + 1 }));
  return new Set(paretoFront(es.filter((e) => maxMs === undefined || e.latency[0] <= maxMs)).map((e) => e.key));
}

describe("NSGA-II", () => {
  it("sorts points into fronts", () => {
    const pts = [[1, 5], [2, 2], [5, 1], [3, 3], [4, 4], [2, 2]];
    expect(nonDominatedSort(pts)).toEqual([[0, 1, 2, 5], [3], [4]]);
    expect(dominates([1, 1], [1, 2])).toBe(true);
    expect(dominates([1, 2], [1, 2])).toBe(false);
  });

  it("returns a non-dominated front equal to brute force on a tiny space", () => {
    const p = new SearchProblem(space, [{ name: "A", model: devA }], loss);
    const r = nsga2Search(p, { seed: 1, population: 40, parents: 10, mutations: 20, crossovers: 20, generations: 30 });
    const front = r.front!;
    for (const a of front) for (const b of r.evaluated) expect(dominates(objectives(b), objectives(a))).toBe(false);
    expect(r.evaluations).toBeLessThan(enumerateArchs(space).length);
    expect(new Set(front.map((e) => e.key))).toEqual(bruteFront([devA]));
    expect(r.history.at(-1)!.frontSize).toBe(front.length);
  });

  it("over two devices at once, under a constraint", () => {
    const all = enumerateArchs(space), lat = devA.predict(all);
    const maxMs = [...lat].sort((x, y) => x - y)[Math.floor(lat.length / 2)];
    const p = new SearchProblem(space, [{ name: "A", model: devA, maxMs }, { name: "B", model: devB }], loss);
    const r = nsga2Search(p, { seed: 2, population: 40, parents: 10, mutations: 20, crossovers: 20, generations: 30 });
    for (const e of r.evaluated) expect(e.latency[0]).toBeLessThanOrEqual(maxMs);
    expect(r.front![0].latency).toHaveLength(2);
    expect(new Set(r.front!.map((e) => e.key))).toEqual(bruteFront([devA, devB], maxMs));
  });

  it("is reproducible", () => {
    const run = () => nsga2Search(new SearchProblem(space, [{ name: "A", model: devA }], loss), { seed: 9, population: 20, generations: 5, mutations: 10, crossovers: 10, parents: 5 });
    expect(run().evaluated.map((e) => e.key)).toEqual(run().evaluated.map((e) => e.key));
  });
});
