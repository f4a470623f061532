/**
 * What every search shares: the space's genes, the devices and their constraints, the cached
 * fitness, and a ledger of the architectures one run has evaluated (each counted once, in the
 * order evaluated, with the generation that first asked for it).
 */
import { validateSpace } from "../runtime/arch.js";
import { archKey } from "../runtime/arch-features.js";
import type { Space, ValidArch } from "../runtime/types.js";
import { checkFeasible, drawFeasible, LatencyTable, type Device } from "./constraint.js";
import { CachedLoss, type LossFn } from "./fitness.js";
import { GeneLayout, type Genome } from "./genome.js";

/** One evaluated SubTransformer. */
export interface Evaluated {
  arch: ValidArch;
  key: string;
  /** Inherited validation loss (or whatever loss the search minimises). */
  loss: number;
  /** Predicted latency per device, ms, in the problem's device order. */
  latency: number[];
  /** Generation that first evaluated it (0: the initial population). */
  generation: number;
  /** 1-based rank in this run's evaluation order: the evaluation budget spent when it was scored. */
  evaluation: number;
}

/** Per-generation progress of a search. */
export interface GenerationStats {
  generation: number;
  /** Best loss so far (feasible candidates) and its latencies. */
  bestLoss: number;
  bestLatency: number[];
  /** Distinct architectures evaluated so far. */
  evaluations: number;
  /** Wall time since the search started, s. */
  seconds: number;
  /** Size of the current Pareto front (multi-objective search). */
  frontSize?: number;
}

export interface SearchResult {
  method: "evolution" | "random" | "nsga2";
  /** Lowest loss found (feasible). */
  best: Evaluated;
  history: GenerationStats[];
  /** Every architecture evaluated, in evaluation order. */
  evaluated: Evaluated[];
  evaluations: number;
  seconds: number;
  /** Things the user should know (e.g. a constraint so tight that populations could not be filled). */
  warnings: string[];
  /** Multi-objective search: the non-dominated evaluated candidates, by latency on the first device. */
  front?: Evaluated[];
}

export class SearchProblem {
  readonly layout: GeneLayout;
  readonly latency: LatencyTable;
  readonly fitness: CachedLoss;
  private feasibleSeed: Genome | undefined | null = null;

  /** `loss` is a plain function or a CachedLoss to share between searches (e.g. evolution and random). */
  readonly space: Space;

  constructor(space: Space, devices: readonly Device[], loss: LossFn | CachedLoss) {
    this.space = validateSpace(space); // every genome of a valid space decodes to a valid SubTransformer
    this.layout = new GeneLayout(this.space);
    this.latency = new LatencyTable(devices);
    this.fitness = loss instanceof CachedLoss ? loss : new CachedLoss(loss);
  }

  get devices(): readonly Device[] {
    return this.latency.devices;
  }

  /**
   * Throws InfeasibleConstraintError when no SubTransformer meets the constraints; returns a
   * feasible genome (undefined when nothing is constrained). Computed once.
   */
  check(seed = 1): Genome | undefined {
    if (this.feasibleSeed === null) this.feasibleSeed = checkFeasible(this.layout, this.latency, { seed });
    return this.feasibleSeed;
  }
}

/** The architectures one search run evaluated. */
export class Ledger {
  readonly evaluated: Evaluated[] = [];
  private readonly byKey = new Map<string, Evaluated>();

  constructor(private readonly problem: SearchProblem) {}

  get size(): number {
    return this.evaluated.length;
  }

  /** Evaluate genomes (cached); each distinct architecture enters the ledger once. */
  score(genomes: readonly Genome[], generation: number): Evaluated[] {
    const archs = genomes.map((g) => this.problem.layout.decode(g));
    const lat = this.problem.latency.of(archs);
    return archs.map((arch, i) => {
      const key = archKey(arch);
      let e = this.byKey.get(key);
      if (!e) {
        e = { arch, key, loss: this.problem.fitness.loss(arch, key), latency: lat[i], generation, evaluation: this.evaluated.length + 1 };
        this.byKey.set(key, e);
        this.evaluated.push(e);
      }
      return e;
    });
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** The feasible entry of lowest loss (ties: fewer evaluations, then key). */
  best(): Evaluated | undefined {
    let b: Evaluated | undefined;
    for (const e of this.evaluated) {
      if (!this.problem.latency.feasible(e.latency)) continue;
      if (!b || e.loss < b.loss) b = e;
    }
    return b;
  }
}

/** Sort by loss; ties broken by key so that results never depend on engine sort details. */
export function byLoss(a: Evaluated, b: Evaluated): number {
  return a.loss - b.loss || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * A bounded filler of feasible candidates: `fill(what, n, propose)` draws up to n genomes that meet
 * every constraint in at most `triesPerCandidate x n` proposals; a shortfall is a warning, never a hang.
 */
export function feasibleFiller(problem: SearchProblem, triesPerCandidate: number, warnings: string[]) {
  return (what: string, n: number, propose: () => Genome): Genome[] => {
    if (n === 0) return [];
    const r = drawFeasible(n, propose, problem.layout, problem.latency, triesPerCandidate * n);
    if (r.genomes.length < n) warnings.push(`${what}: only ${r.genomes.length} of ${n} candidates met the constraint in ${r.tries} draws`);
    return r.genomes;
  };
}
