/**
 * Latency constraints: the devices a search runs for, each with its latency model (a predictor,
 * or any stand-in) and an optional constraint in ms; feasibility of candidates; and the bounded
 * feasibility check HAT lacks (docs/method.md §7: its rejection loop never ends when the
 * constraint is below what the space can reach). Before a search starts, `checkFeasible` finds
 * the smallest latency the space reaches on each device and refuses a constraint below it.
 */
import { archKey } from "../runtime/arch-features.js";
import { smallestArch } from "../runtime/arch-sample.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Arch, ValidArch } from "../runtime/types.js";
import { GeneLayout, type Genome } from "./genome.js";
import { InputError } from "../runtime/errors.js";

/** What the search needs from a latency predictor: total ms (encoder + decoder) per architecture. */
export interface LatencyModel {
  predict(archs: readonly Arch[]): Float64Array;
}

/** One target device: its name, latency model and (optionally) its latency constraint. */
export interface Device {
  name: string;
  model: LatencyModel;
  /** Candidates must have a predicted latency <= maxMs on this device. */
  maxMs?: number;
}

/** A constraint no SubTransformer of the space meets. */
export class InfeasibleConstraintError extends InputError {
  override name = "InfeasibleConstraintError";
  constructor(
    message: string,
    /** Per constrained device: the smallest predicted latency found and the arch reaching it. */
    readonly minimum: { device: string; maxMs: number; minMs: number; arch: ValidArch }[],
  ) {
    super(message);
  }
}

/** Predicted latencies of architectures on every device, cached by archKey. */
export class LatencyTable {
  readonly devices: readonly Device[];
  private readonly cache = new Map<string, number[]>();

  constructor(devices: readonly Device[]) {
    if (devices.length === 0) throw new RangeError("a search needs at least one device (latency model)");
    // each maxMs was checked where it entered (the CLI's flags, the server's schema): not again here
    this.devices = devices;
  }

  /** Latencies [arch][device] in ms. */
  of(archs: readonly ValidArch[]): number[][] {
    const keys = archs.map(archKey);
    const missing: ValidArch[] = [], missingKeys: string[] = [], asked = new Set<string>();
    keys.forEach((k, i) => {
      if (!this.cache.has(k) && !asked.has(k)) { missing.push(archs[i]); missingKeys.push(k); asked.add(k); }
    });
    if (missing.length > 0) {
      const per = this.devices.map((d) => {
        const p = d.model.predict(missing);
        if (p.length !== missing.length) throw new Error(`latency model of ${d.name} returned ${p.length} values for ${missing.length} architectures`);
        return p;
      });
      missingKeys.forEach((k, i) => {
        const lat = per.map((p, j) => {
          const v = p[i];
          if (!Number.isFinite(v)) throw new Error(`latency model of ${this.devices[j].name} predicted ${v} ms for ${k}`);
          return v;
        });
        this.cache.set(k, lat);
      });
    }
    return keys.map((k) => this.cache.get(k)!);
  }

  /** Under every device's constraint. */
  feasible(lat: readonly number[]): boolean {
    return this.devices.every((d, i) => d.maxMs === undefined || lat[i] <= d.maxMs);
  }

  /** How far over its constraint the worst device is: max over constrained devices of latency / maxMs (<= 1: feasible). */
  ratio(lat: readonly number[]): number {
    let r = 0;
    this.devices.forEach((d, i) => { if (d.maxMs !== undefined) r = Math.max(r, lat[i] / d.maxMs); });
    return r;
  }

  get constrained(): boolean {
    return this.devices.some((d) => d.maxMs !== undefined);
  }
}

export interface MinimumOptions {
  /** Random starting points besides the smallest SubTransformer (default 8). */
  restarts?: number;
  seed?: number;
}

/**
 * The smallest value of `cost` (over genomes) found by greedy descent: from the smallest
 * SubTransformer and `restarts` random genomes, move to the best single-gene change while it
 * lowers the cost. Exact for a latency that grows with every dimension (then the smallest
 * SubTransformer is the minimum); a bounded local search for any other predictor.
 */
export function minimize(layout: GeneLayout, cost: (archs: ValidArch[]) => number[], o: MinimumOptions = {}): { value: number; arch: ValidArch; genome: Genome } {
  const rng = mulberry32((o.seed ?? 1) * 2654435761);
  const starts: Genome[] = [layout.encode(smallestArch(layout.space))];
  for (let i = 0; i < (o.restarts ?? 8); i++) starts.push(layout.random(rng));
  let best: { value: number; arch: ValidArch; genome: Genome } | undefined;
  for (const start of starts) {
    let g = start, v = cost([layout.decode(g)])[0];
    for (let round = 0; round < 10 * layout.length; round++) {
      const ns = [...layout.neighbours(g)];
      if (ns.length === 0) break;
      const cs = cost(ns.map((n) => layout.decode(n)));
      let bi = -1;
      cs.forEach((c, i) => { if (c < v && (bi < 0 || c < cs[bi])) bi = i; });
      if (bi < 0) break;
      g = ns[bi];
      v = cs[bi];
    }
    if (!best || v < best.value) best = { value: v, arch: layout.decode(g), genome: g };
  }
  return best!;
}

/**
 * Refuses a constraint no SubTransformer meets: per constrained device, the smallest latency the
 * space reaches; jointly (several devices), the smallest worst-case ratio latency / constraint.
 * Returns a feasible genome (a seed for the search when random draws rarely meet the constraint).
 */
export function checkFeasible(layout: GeneLayout, table: LatencyTable, o: MinimumOptions = {}): Genome | undefined {
  if (!table.constrained) return undefined;
  const minimum = table.devices.flatMap((d, j) => {
    if (d.maxMs === undefined) return [];
    const m = minimize(layout, (archs) => table.of(archs).map((l) => l[j]), o);
    return [{ device: d.name, maxMs: d.maxMs, minMs: m.value, arch: m.arch }];
  });
  const below = minimum.filter((m) => m.minMs > m.maxMs);
  if (below.length > 0) {
    const parts = below.map((m) => `${m.device}: ${m.maxMs} ms is below the smallest predicted latency the space reaches, ${m.minMs.toFixed(3)} ms`);
    throw new InfeasibleConstraintError(`infeasible latency constraint (${parts.join("; ")})`, minimum);
  }
  const joint = minimize(layout, (archs) => table.of(archs).map((l) => table.ratio(l)), o);
  if (joint.value > 1) {
    throw new InfeasibleConstraintError(
      `infeasible latency constraints: each device's is reachable alone, but no SubTransformer found meets all (best worst-case latency/constraint ${joint.value.toFixed(3)})`,
      minimum,
    );
  }
  return joint.genome;
}

/**
 * Up to `n` feasible genomes from `propose`, trying at most `maxTries` times: rejection sampling
 * that always ends. Returns the feasible ones found (possibly fewer than n).
 */
export function drawFeasible(n: number, propose: () => Genome, layout: GeneLayout, table: LatencyTable, maxTries: number): { genomes: Genome[]; tries: number } {
  const genomes: Genome[] = [];
  let tries = 0;
  // propose in small batches: predictors are fastest on many architectures at once
  while (genomes.length < n && tries < maxTries) {
    const k = Math.min(maxTries - tries, Math.max(1, 2 * (n - genomes.length)));
    const batch = Array.from({ length: k }, propose);
    tries += k;
    const lat = table.of(batch.map((g) => layout.decode(g)));
    for (let i = 0; i < k && genomes.length < n; i++) if (table.feasible(lat[i])) genomes.push(batch[i]);
  }
  return { genomes, tries };
}
