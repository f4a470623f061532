/**
 * Random search, the baseline of HAT's Figure 9: feasible SubTransformers drawn uniformly (the
 * same rejection sampling as the evolution's initial population) until the evaluation budget
 * (distinct architectures scored) is spent. Progress is reported every `batch` evaluations, a
 * "generation" of the same size as the evolution's population by default.
 */
import { mulberry32 } from "../runtime/rng.js";
import { drawFeasible } from "./constraint.js";
import { Ledger, SearchProblem, type GenerationStats, type SearchResult } from "./problem.js";

export interface RandomSearchOptions {
  /** Distinct architectures to evaluate. */
  budget: number;
  /** Evaluations per reported generation (default 125). */
  batch?: number;
  seed?: number;
  triesPerCandidate?: number;
  onGeneration?: (s: GenerationStats) => void;
}

export function randomSearch(problem: SearchProblem, o: RandomSearchOptions): SearchResult {
  if (!Number.isInteger(o.budget) || o.budget < 1) throw new RangeError(`budget must be a positive integer, got ${o.budget}`);
  const batch = o.batch ?? 125, seed = o.seed ?? 1, tries = o.triesPerCandidate ?? 100;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const t0 = performance.now();
  const seedGenome = problem.check(seed);
  const { layout, latency } = problem;
  // a different stream from the evolution's with the same seed: the two searches are independent
  const rng = mulberry32((seed ^ 0x9e3779b9) >>> 0);
  const ledger = new Ledger(problem);
  const history: GenerationStats[] = [];
  const warnings: string[] = [];
  let stale = 0;
  for (let gen = 0; ledger.size < o.budget; gen++) {
    const target = Math.min(o.budget, ledger.size + batch);
    const before = ledger.size;
    while (ledger.size < target) {
      const need = target - ledger.size;
      const r = drawFeasible(need, () => layout.random(rng), layout, latency, tries * need);
      if (r.genomes.length === 0 && ledger.size === 0 && seedGenome) r.genomes.push(seedGenome);
      const n0 = ledger.size;
      ledger.score(r.genomes, gen);
      // the feasible space may be smaller than the budget, or too rarely drawn: stop, say so
      stale = ledger.size === n0 ? stale + 1 : 0;
      if (stale >= 20) break;
    }
    const best = ledger.best();
    if (best) {
      history.push({ generation: gen, bestLoss: best.loss, bestLatency: best.latency, evaluations: ledger.size, seconds: (performance.now() - t0) / 1000 });
      o.onGeneration?.(history[history.length - 1]);
    }
    if (stale >= 20 || ledger.size === before) {
      warnings.push(`random search stopped after ${ledger.size} of ${o.budget} evaluations: no new feasible architecture in 20 rounds of draws`);
      break;
    }
  }
  const best = ledger.best();
  if (!best) throw new Error("random search evaluated no feasible candidate");
  return { method: "random", best, history, evaluated: ledger.evaluated, evaluations: ledger.size, seconds: (performance.now() - t0) / 1000, warnings };
}
