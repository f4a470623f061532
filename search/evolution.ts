/**
 * HAT's evolutionary search (docs/method.md §7), with its defaults as parameters: a population
 * of 125 feasible SubTransformers; each generation keeps the 25 of lowest inherited validation
 * loss as parents, and adds 50 mutants (each gene redrawn with probability 0.3) of random parents
 * and 50 crossovers (each gene from one of two distinct random parents); 30 generations. Only
 * candidates whose predicted latency meets the constraint enter the population; unlike HAT's,
 * the rejection sampling is bounded and an infeasible constraint is refused before anything runs.
 *
 * Two departures from HAT, both about duplicates: parents are distinct architectures (HAT could
 * keep the same one several times among its 25), and an architecture is scored once (cache).
 */
import { mulberry32 } from "../runtime/rng.js";
import type { Genome } from "./genome.js";
import { byLoss, feasibleFiller, Ledger, SearchProblem, type GenerationStats, type SearchResult } from "./problem.js";

export interface EvolutionOptions {
  generations?: number;
  population?: number;
  parents?: number;
  mutations?: number;
  /** Probability that a mutation redraws a gene. */
  mutationProb?: number;
  crossovers?: number;
  seed?: number;
  /** Rejection sampling gives up after this many draws per wanted candidate (default 100). */
  triesPerCandidate?: number;
  onGeneration?: (s: GenerationStats) => void;
}

/** HAT's settings (its WMT and IWSLT search configs). */
export const EVOLUTION_DEFAULTS = { generations: 30, population: 125, parents: 25, mutations: 50, mutationProb: 0.3, crossovers: 50 } as const;

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

export function resolveEvolution(o: EvolutionOptions): Required<Omit<EvolutionOptions, "onGeneration">> {
  const r = {
    generations: o.generations ?? EVOLUTION_DEFAULTS.generations, population: o.population ?? EVOLUTION_DEFAULTS.population,
    parents: o.parents ?? EVOLUTION_DEFAULTS.parents, mutations: o.mutations ?? EVOLUTION_DEFAULTS.mutations,
    mutationProb: o.mutationProb ?? EVOLUTION_DEFAULTS.mutationProb, crossovers: o.crossovers ?? EVOLUTION_DEFAULTS.crossovers,
    seed: o.seed ?? 1, triesPerCandidate: o.triesPerCandidate ?? 100,
  };
  checkInt("generations", r.generations, 1);
  checkInt("population", r.population, 1);
  checkInt("parents", r.parents, 1);
  checkInt("mutations", r.mutations, 0);
  checkInt("crossovers", r.crossovers, 0);
  checkInt("seed", r.seed, 0);
  checkInt("triesPerCandidate", r.triesPerCandidate, 1);
  if (r.parents > r.population) throw new RangeError(`parents (${r.parents}) cannot exceed the population (${r.population})`);
  if (!(r.mutationProb >= 0 && r.mutationProb <= 1)) throw new RangeError(`mutation probability must be in [0, 1], got ${r.mutationProb}`);
  return r;
}

/** Run the evolutionary search; `best` is the feasible SubTransformer of lowest loss found. */
export function evolutionSearch(problem: SearchProblem, options: EvolutionOptions = {}): SearchResult {
  const o = resolveEvolution(options);
  const t0 = performance.now();
  const seedGenome = problem.check(o.seed);
  const { layout } = problem;
  const rng = mulberry32(o.seed);
  const ledger = new Ledger(problem);
  const warnings: string[] = [];
  const history: GenerationStats[] = [];

  const fill = feasibleFiller(problem, o.triesPerCandidate, warnings);

  let popu = fill("initial population", o.population, () => layout.random(rng));
  if (popu.length < o.population && seedGenome) popu.push(seedGenome); // never start empty: the feasibility check found one
  for (let gen = 0; gen < o.generations; gen++) {
    const scored = ledger.score(popu, gen);
    // distinct architectures, best first; keep the first genome seen for each
    const genomeOf = new Map<string, Genome>();
    scored.forEach((e, i) => { if (!genomeOf.has(e.key)) genomeOf.set(e.key, popu[i]); });
    const ranked = [...new Map(scored.map((e) => [e.key, e])).values()].sort(byLoss);
    const parents = ranked.slice(0, o.parents);
    const best = ledger.best() ?? parents[0];
    history.push({ generation: gen, bestLoss: best.loss, bestLatency: best.latency, evaluations: ledger.size, seconds: (performance.now() - t0) / 1000 });
    options.onGeneration?.(history[history.length - 1]);
    if (gen === o.generations - 1) break;

    const pg = parents.map((p) => genomeOf.get(p.key)!);
    const anyParent = () => pg[Math.floor(rng() * pg.length)];
    const mutants = fill(`generation ${gen + 1} mutations`, o.mutations, () => layout.mutate(anyParent(), o.mutationProb, rng));
    const crosses = fill(`generation ${gen + 1} crossovers`, o.crossovers, () => {
      const i = Math.floor(rng() * pg.length);
      let j = Math.floor(rng() * (pg.length - 1));
      if (j >= i) j++;
      return pg.length < 2 ? pg[0] : layout.crossover(pg[i], pg[j], rng);
    });
    popu = [...pg, ...mutants, ...crosses];
  }
  const best = ledger.best();
  if (!best) throw new Error("no feasible candidate was evaluated"); // unreachable: the population holds only feasible ones
  return { method: "evolution", best, history, evaluated: ledger.evaluated, evaluations: ledger.size, seconds: (performance.now() - t0) / 1000, warnings };
}
