/**
 * The closed loop after the search (docs/method.md §11): a predictor is right on average, and the
 * winner sits where it is wrong the most — at the constraint's edge, where the search pushed it.
 * So before a winner is declared, the best K candidates the search found feasible are measured on
 * the device (the agents of its class, or this machine), their rows added to the device's data
 * and the predictor fitted again, and the winner is the lowest-loss candidate whose *measured*
 * latency meets the constraint. A round whose best candidate missed searches again, on the refitted
 * predictor and a constraint tightened by how far it still under-predicts the measured candidates;
 * at most `rounds` rounds. None met: said plainly (verdict "none_met"), and the fastest candidate
 * measured is the one handed on.
 *
 *   round r:  search(target_r, predictor_r) -> top K feasible, not yet measured, by loss
 *             measure them -> rows; winner so far = lowest loss with usual <= constraint
 *             (usual: the measurement at the machine's usual speed, measured / speed factor,
 *             runtime/steady.ts: a slow minute on the device is not the model's latency)
 *             stop if the round's best candidate met it (nothing better is left at this predictor)
 *             predictor_{r+1} = refit(data + every row so far)
 *             target_{r+1}    = constraint / max(1, median over the round of usual / predicted_{r+1})
 */
import { archKey } from "../runtime/arch-features.js";
import { atUsualSpeed } from "../runtime/steady.js";
import type { ValidArch } from "../runtime/types.js";
import { totalMs, type LatencyRow } from "../latency/dataset.js";
import type { LatencyModel } from "./constraint.js";
import type { Evaluated, SearchResult } from "./problem.js";
import type { VerificationRecord } from "./report.js";

/** Measures architectures on the device the constraint is for; rows carry their arch. */
export interface CandidateMeasurer {
  /** Where, in words ("this machine (…)", "agents of class pi4"). */
  readonly where: string;
  /** The rows measured, in any order; an architecture without a row was not measured. May throw: the loop stops, unverified. */
  measure(archs: readonly ValidArch[], round: number): Promise<LatencyRow[]>;
}

export interface LoopOptions {
  /** The constraint (ms) the winner's measured latency must meet. */
  maxMs: number;
  /** Candidates measured per round (>= 1). */
  k: number;
  /** At most this many rounds (>= 1). */
  rounds: number;
  measurer: CandidateMeasurer;
  /** The first round's search (already run) and its predictor. */
  first: { result: SearchResult; model: LatencyModel };
  /** A search at another constraint with another predictor (rounds after the first); throws when the constraint is infeasible. */
  search(maxMs: number, model: LatencyModel, round: number): SearchResult;
  /** The predictor fitted again on its data plus every row measured so far; absent: not refitted. */
  refit?(rows: readonly LatencyRow[], round: number): Promise<LatencyModel>;
  log?: (line: string) => void;
}

export interface Candidate {
  arch: ValidArch;
  round: number;
  validLoss: number;
  /** What the predictor of its round predicted. */
  predictedMs: number;
  /** Absent: the measurement failed. */
  measuredMs?: number;
  encoderMs?: number;
  decoderMs?: number;
  meets?: boolean;
  /** The machine's speed factor when it was measured (runtime/steady.ts; >1: slower than usual), when the row says. */
  speed?: number;
  /** measuredMs at the machine's usual speed (measured / speed; measured when the row has no factor): what `meets` compares. */
  usualMs?: number;
}

export type Verdict = "meets" | "none_met" | "unverified";

export interface LoopResult {
  candidates: Candidate[];
  /** The rows measured, as the measurer returned them. */
  rows: LatencyRow[];
  /** The lowest-loss candidate that met the constraint; with none: the fastest measured (or undefined when nothing was measured). */
  winner?: Candidate;
  verdict: Verdict;
  /** Rounds run (a search and its candidates measured), and the constraint each round's search used. */
  rounds: number;
  targets: number[];
  /** Why the loop stopped. */
  stopped: string;
}

/** The best `k` distinct candidates of a search feasible at `maxMs` (first device), by loss, leaving out `skip`. */
export function topCandidates(evaluated: readonly Evaluated[], maxMs: number, k: number, skip: ReadonlySet<string>): Evaluated[] {
  const seen = new Set(skip), out: Evaluated[] = [];
  const feasible = evaluated.filter((e) => e.latency[0] <= maxMs).sort((a, b) => a.loss - b.loss || a.evaluation - b.evaluation);
  for (const e of feasible) {
    if (out.length >= k) break;
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    out.push(e);
  }
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function closedLoop(o: LoopOptions): Promise<LoopResult> {
  const log = o.log ?? (() => {});
  const candidates: Candidate[] = [], rows: LatencyRow[] = [], measuredKeys = new Set<string>(), targets: number[] = [];
  let result = o.first.result, model = o.first.model, target = o.maxMs, stopped = `${o.rounds} round(s) run`;
  for (let round = 0; round < o.rounds; round++) {
    if (round > 0) {
      try {
        result = o.search(target, model, round);
      } catch (e) {
        stopped = `round ${round + 1}'s search at ${target.toFixed(3)} ms failed: ${(e as Error).message}`;
        break;
      }
    }
    const picked = topCandidates(result.evaluated, target, o.k, measuredKeys);
    if (picked.length === 0) { stopped = `round ${round + 1}: no candidate left to measure`; break; }
    targets.push(target);
    log(`verify round ${round + 1}/${o.rounds}: measuring ${picked.length} candidate(s) on ${o.measurer.where} (search constraint ${target.toFixed(3)} ms)`);
    let got: LatencyRow[];
    try {
      got = await o.measurer.measure(picked.map((e) => e.arch), round);
    } catch (e) {
      stopped = `round ${round + 1}: the measurement failed: ${(e as Error).message}`;
      log(`verify: ${stopped}`);
      break;
    }
    const byKey = new Map(got.filter((r) => r.arch).map((r) => [archKey(r.arch!), r]));
    const round_: Candidate[] = picked.map((e) => {
      measuredKeys.add(e.key);
      const r = byKey.get(e.key);
      const c: Candidate = { arch: e.arch, round, validLoss: e.loss, predictedMs: e.latency[0] };
      if (r) {
        rows.push(r);
        const usual = atUsualSpeed(totalMs(r), r.speed);
        Object.assign(c, { measuredMs: totalMs(r), encoderMs: r.encoder_ms, decoderMs: r.decoder_ms, usualMs: usual, meets: usual <= o.maxMs, ...(r.speed !== undefined ? { speed: r.speed } : {}) });
      }
      return c;
    });
    candidates.push(...round_);
    for (const c of round_) {
      log(`  loss ${c.validLoss.toFixed(4)}: predicted ${c.predictedMs.toFixed(3)} ms, measured ${c.measuredMs === undefined ? "(failed)" : `${c.measuredMs.toFixed(3)} ms`}${c.speed !== undefined ? ` (speed ${c.speed.toFixed(2)}: ${c.usualMs!.toFixed(3)} ms at the usual speed)` : ""}${c.meets === undefined ? "" : c.meets ? "" : ` OVER ${o.maxMs} ms`}`);
    }
    if (round_[0].meets) { stopped = `round ${round + 1}'s best candidate met the constraint`; break; }
    if (round === o.rounds - 1) break;
    if (o.refit && rows.length > 0) {
      try {
        model = await o.refit(rows, round);
      } catch (e) {
        log(`verify: the refit failed (${(e as Error).message}); the next round keeps the predictor`);
      }
    }
    // how far the predictor (refitted) still under-predicts this round's measured candidates
    const measured = round_.filter((c) => c.measuredMs !== undefined);
    if (measured.length > 0) {
      const pred = model.predict(measured.map((c) => c.arch));
      const ratio = median(measured.map((c, i) => c.usualMs! / Math.max(pred[i], 1e-9)));
      target = o.maxMs / Math.max(1, ratio);
    }
  }
  const met = candidates.filter((c) => c.meets).sort((a, b) => a.validLoss - b.validLoss);
  const measured = candidates.filter((c) => c.measuredMs !== undefined);
  const winner = met[0] ?? [...measured].sort((a, b) => a.usualMs! - b.usualMs!)[0];
  const verdict: Verdict = met.length > 0 ? "meets" : measured.length > 0 ? "none_met" : "unverified";
  return { candidates, rows, winner, verdict, rounds: targets.length, targets, stopped };
}

/** The loop as the search record keeps it. */
export function verificationRecord(loop: LoopResult, meta: Pick<VerificationRecord, "k" | "where" | "device" | "maxMs">): VerificationRecord {
  const i = loop.winner ? loop.candidates.indexOf(loop.winner) : -1;
  return {
    ...meta, rounds: loop.rounds, targets: loop.targets, verdict: loop.verdict, stopped: loop.stopped,
    candidates: loop.candidates.map(({ arch, round, validLoss, predictedMs, measuredMs, usualMs, meets, speed }) => ({ arch, round, validLoss, predictedMs, measuredMs, usualMs, meets, speed })),
    ...(i >= 0 ? { winner: i } : {}),
  };
}

/** The loop in the search's JSON summary (snake_case): the verdict, the constraint, and every candidate predicted beside measured. */
export function loopSummary(v: VerificationRecord): Record<string, unknown> {
  return {
    verdict: v.verdict, constraint_ms: v.maxMs, verified_on: v.where, verify_rounds: v.rounds,
    candidates: v.candidates.map((c, i) => ({
      round: c.round + 1, valid_loss: c.validLoss, predicted_ms: c.predictedMs, measured_ms: c.measuredMs ?? null, usual_ms: c.usualMs ?? null, meets: c.meets ?? null, speed: c.speed ?? null, winner: i === v.winner, arch: c.arch,
    })),
  };
}
