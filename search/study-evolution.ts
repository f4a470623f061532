/**
 * Evolution against random search at equal evaluations (docs/method.md §7, §12; paper Fig 9), as
 * a study of its own: for each seed, HAT's evolution (search/evolution.ts) under one constraint,
 * then random search (search/random.ts) with as many distinct architectures evaluated; the best
 * inherited loss after each generation of both, and which ended lower. One cache of losses
 * serves every run, so an architecture is scored once whoever asks.
 */
import type { Texts } from "../data/texts.js";
import type { Device } from "./constraint.js";
import { evolutionSearch } from "./evolution.js";
import { CachedLoss } from "./fitness.js";
import type { EvolutionSettings } from "./pipeline.js";
import { SearchProblem, type SearchResult } from "./problem.js";
import { randomSearch } from "./random.js";
import { SearchInputError } from "./predictor-file.js";
import { defaultConstraints, readStudyInputs } from "./study-inputs.js";

export interface EvolutionStudyOptions {
  supernet: string;
  predictor: string;
  /** The constraint, ms; default the middle of the default constraints (study-inputs.ts). */
  latencyMs?: number;
  valid: Texts;
  validMax?: number;
  /** The evolution's settings; its seed is replaced by each of `seeds`. */
  evolution: EvolutionSettings;
  /** Default [1, 2, 3]. */
  seeds?: number[];
  log?: (line: string) => void;
  onProgress?: (done: number, total: number, message: string) => void;
}

/** One curve: the best loss after each generation, by evaluations spent. */
export interface Curve {
  evaluations: number[];
  bestLoss: number[];
}

export interface EvolutionRun {
  seed: number;
  evolution: Curve;
  random: Curve;
  evolutionBest: number;
  randomBest: number;
  evaluations: number;
  randomEvaluations: number;
}

export interface EvolutionStudy {
  device: string;
  constraintMs: number;
  runs: EvolutionRun[];
  validPairs: number;
  /** Seeds where evolution ended lower than random, level, higher. */
  wins: number;
  ties: number;
  losses: number;
  seconds: number;
}

const curve = (r: SearchResult): Curve => ({ evaluations: r.history.map((h) => h.evaluations), bestLoss: r.history.map((h) => h.bestLoss) });

export async function evolutionStudy(o: EvolutionStudyOptions): Promise<EvolutionStudy> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const seeds = o.seeds ?? [1, 2, 3];
  if (seeds.length === 0 || seeds.length > 100) throw new SearchInputError(`give 1..100 seeds, got ${seeds.length}`);
  const inp = await readStudyInputs(o, log);
  const maxMs = o.latencyMs ?? defaultConstraints(inp.space, inp.source)[1];
  const devices: Device[] = [{ name: inp.source.name, model: inp.source.model, maxMs }];
  const loss = new CachedLoss(inp.inherited.loss);
  const runs: EvolutionRun[] = [];
  for (const [i, seed] of seeds.entries()) {
    const evo = evolutionSearch(new SearchProblem(inp.space, devices, loss), { ...o.evolution, seed });
    const rnd = randomSearch(new SearchProblem(inp.space, devices, loss), { budget: evo.evaluations, seed, batch: o.evolution.population });
    for (const w of [...evo.warnings, ...rnd.warnings]) log(`warning: ${w}`);
    runs.push({ seed, evolution: curve(evo), random: curve(rnd), evolutionBest: evo.best.loss, randomBest: rnd.best.loss, evaluations: evo.evaluations, randomEvaluations: rnd.evaluations });
    const line = `seed ${seed}: evolution ${evo.best.loss.toFixed(4)}, random ${rnd.best.loss.toFixed(4)} at ${evo.evaluations} evaluations`;
    log(line);
    o.onProgress?.(i + 1, seeds.length, line);
  }
  const eps = 1e-9;
  return {
    device: inp.source.name, constraintMs: maxMs, runs, validPairs: inp.valid.length,
    wins: runs.filter((r) => r.evolutionBest < r.randomBest - eps).length,
    ties: runs.filter((r) => Math.abs(r.evolutionBest - r.randomBest) <= eps).length,
    losses: runs.filter((r) => r.evolutionBest > r.randomBest + eps).length,
    seconds: (performance.now() - t0) / 1000,
  };
}

export function evolutionSummary(s: EvolutionStudy): Record<string, unknown> {
  return {
    device: s.device, constraint_ms: s.constraintMs, valid_pairs: s.validPairs, wins: s.wins, ties: s.ties, losses: s.losses, seconds: s.seconds,
    runs: s.runs.map((r) => ({
      seed: r.seed, evaluations: r.evaluations, random_evaluations: r.randomEvaluations, evolution_best: r.evolutionBest, random_best: r.randomBest,
      evolution_curve: { evaluations: r.evolution.evaluations, best_loss: r.evolution.bestLoss }, random_curve: { evaluations: r.random.evaluations, best_loss: r.random.bestLoss },
    })),
  };
}
