/**
 * Multi-objective search: NSGA-II (Deb et al. 2002) over (inherited loss, predicted latency on
 * each device), all minimised. HAT returns one model per constraint and device; this returns the
 * whole loss/latency Pareto front of one run, optionally over several devices at once.
 *
 * Generation loop: binary tournaments on (front rank, crowding distance) pick parents; children
 * are HAT's mutants and crossovers (same operators and counts as the evolution); parents and
 * children together are sorted into fronts and the population is refilled front by front, the
 * last front cut by crowding distance. Constraints, when given, still bound every candidate.
 * The front returned is the non-dominated set of everything the run evaluated.
 */
import { mulberry32 } from "../runtime/rng.js";
import type { Genome } from "./genome.js";
import { byLoss, feasibleFiller, Ledger, SearchProblem, type Evaluated, type GenerationStats, type SearchResult } from "./problem.js";
import { resolveEvolution, type EvolutionOptions } from "./evolution.js";

/** Objective vector of an evaluated candidate: loss, then latency per device. */
export function objectives(e: Evaluated): number[] {
  return [e.loss, ...e.latency];
}

/** a dominates b: no worse in every objective, better in one. */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

/** Fast non-dominated sort: fronts of indices, best first. */
export function nonDominatedSort(points: readonly (readonly number[])[]): number[][] {
  const n = points.length;
  const dominatedBy: number[][] = Array.from({ length: n }, () => []);
  const count = new Array<number>(n).fill(0);
  const fronts: number[][] = [[]];
  for (let p = 0; p < n; p++) {
    for (let q = 0; q < n; q++) {
      if (p === q) continue;
      if (dominates(points[p], points[q])) dominatedBy[p].push(q);
      else if (dominates(points[q], points[p])) count[p]++;
    }
    if (count[p] === 0) fronts[0].push(p);
  }
  for (let i = 0; fronts[i].length > 0; i++) {
    const next: number[] = [];
    for (const p of fronts[i]) for (const q of dominatedBy[p]) if (--count[q] === 0) next.push(q);
    fronts.push(next);
  }
  fronts.pop();
  return fronts;
}

/** Crowding distance of each member of one front (boundary points: Infinity). */
export function crowding(points: readonly (readonly number[])[], front: readonly number[]): Map<number, number> {
  const d = new Map<number, number>(front.map((i) => [i, 0]));
  if (front.length === 0) return d;
  const M = points[front[0]].length;
  for (let m = 0; m < M; m++) {
    const s = [...front].sort((a, b) => points[a][m] - points[b][m] || a - b);
    const lo = points[s[0]][m], hi = points[s[s.length - 1]][m];
    d.set(s[0], Infinity);
    d.set(s[s.length - 1], Infinity);
    if (hi === lo) continue;
    for (let k = 1; k < s.length - 1; k++) d.set(s[k], d.get(s[k])! + (points[s[k + 1]][m] - points[s[k - 1]][m]) / (hi - lo));
  }
  return d;
}

/** Adds `e` to a non-dominated archive (in place) unless a member dominates it; drops members it dominates. */
export function addToFront(front: Evaluated[], e: Evaluated): void {
  const x = objectives(e);
  if (front.some((f) => dominates(objectives(f), x))) return;
  for (let i = front.length - 1; i >= 0; i--) if (dominates(x, objectives(front[i]))) front.splice(i, 1);
  front.push(e);
}

/** The non-dominated members of a set (every one of them, ties included), by first latency. */
export function paretoFront(es: readonly Evaluated[]): Evaluated[] {
  const pts = es.map(objectives);
  const first = nonDominatedSort(pts)[0] ?? [];
  return first.map((i) => es[i]).sort((a, b) => a.latency[0] - b.latency[0] || byLoss(a, b));
}

export function nsga2Search(problem: SearchProblem, options: EvolutionOptions = {}): SearchResult {
  const o = resolveEvolution(options);
  const t0 = performance.now();
  const seedGenome = problem.check(o.seed);
  const { layout, latency } = problem;
  const rng = mulberry32((o.seed ^ 0x4e534741) >>> 0);
  const ledger = new Ledger(problem);
  const warnings: string[] = [];
  const history: GenerationStats[] = [];

  const fill = feasibleFiller(problem, o.triesPerCandidate, warnings);

  interface Member { g: Genome; e: Evaluated; rank: number; crowd: number }
  /** Distinct members, ranked; the best `n` by (rank, crowding). */
  const select = (gs: Genome[], gen: number, n: number): Member[] => {
    const es = ledger.score(gs, gen);
    const seen = new Map<string, Member>();
    es.forEach((e, i) => { if (!seen.has(e.key)) seen.set(e.key, { g: gs[i], e, rank: 0, crowd: 0 }); });
    const ms = [...seen.values()].sort((a, b) => byLoss(a.e, b.e)); // a fixed order whatever the input order
    const pts = ms.map((m) => objectives(m.e));
    const out: Member[] = [];
    nonDominatedSort(pts).forEach((front, rank) => {
      if (out.length >= n) return;
      const cd = crowding(pts, front);
      const members = front.map((i) => ({ ...ms[i], rank, crowd: cd.get(i)! }));
      members.sort((a, b) => b.crowd - a.crowd || byLoss(a.e, b.e));
      out.push(...members.slice(0, n - out.length));
    });
    return out;
  };
  const better = (a: Member, b: Member) => a.rank < b.rank || (a.rank === b.rank && a.crowd > b.crowd);
  const tournament = (pop: Member[]): Member => {
    const a = pop[Math.floor(rng() * pop.length)], b = pop[Math.floor(rng() * pop.length)];
    return better(b, a) ? b : a;
  };

  const archive: Evaluated[] = [];
  let archived = 0;
  const updateArchive = () => {
    for (; archived < ledger.evaluated.length; archived++) {
      const e = ledger.evaluated[archived];
      if (latency.feasible(e.latency)) addToFront(archive, e);
    }
  };

  let start = fill("initial population", o.population, () => layout.random(rng));
  if (start.length < o.population && seedGenome) start.push(seedGenome);
  let pop = select(start, 0, o.population);
  for (let gen = 0; gen < o.generations; gen++) {
    if (gen > 0) {
      const mutants = fill(`generation ${gen} mutations`, o.mutations, () => layout.mutate(tournament(pop).g, o.mutationProb, rng));
      const crosses = fill(`generation ${gen} crossovers`, o.crossovers, () => layout.crossover(tournament(pop).g, tournament(pop).g, rng));
      pop = select([...pop.map((m) => m.g), ...mutants, ...crosses], gen, o.population);
    }
    const best = ledger.best()!;
    updateArchive();
    history.push({ generation: gen, bestLoss: best.loss, bestLatency: best.latency, evaluations: ledger.size, seconds: (performance.now() - t0) / 1000, frontSize: archive.length });
    options.onGeneration?.(history[history.length - 1]);
  }
  const best = ledger.best();
  if (!best) throw new Error("no feasible candidate was evaluated");
  return {
    method: "nsga2", best, history, evaluated: ledger.evaluated, evaluations: ledger.size,
    seconds: (performance.now() - t0) / 1000, warnings,
    front: [...archive].sort((a, b) => a.latency[0] - b.latency[0] || byLoss(a, b)),
  };
}
