/**
 * Structured progress: the numbers behind a job's progress message, carried by every `progress`
 * event (`data`) beside its `fraction` and `message`, so the SSE stream, the CLI and the dashboard
 * (server/ui) read numbers, never text. What each kind sends:
 *
 *   train, finetune  { step, total_steps, loss, lr, tokens_per_sec, elapsed_s, eta_s, valid_loss? }
 *                    total_steps is null while a time budget's total is not yet estimated
 *   search           { done, total, generation, best_loss, best_ms, evaluations, elapsed_s } per
 *                    generation (best_* null until a feasible candidate), then { done, total }
 *                    for the updates of fine-tuning
 *   campaign         { done, total, agents }  (architectures measured, on how many agents)
 *
 * The job child sends them over IPC (./spec.ts ChildMessage `progress`): the parent keeps only
 * what `progressData` lets through, so a child cannot grow the events table with what it sends.
 */
import type { Progress } from "../../train/pipeline.js";

/** Numbers by name; null: not known (yet). */
export type ProgressData = Record<string, number | null>;

/** At most this many fields in one event's data. */
export const MAX_PROGRESS_FIELDS = 16;
const FIELD = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * The fields of `raw` that are progress numbers: a name of a-z 0-9 _ (at most 32 characters) and
 * a finite number or null; at most MAX_PROGRESS_FIELDS of them. Undefined when none is left.
 */
export function progressData(raw: unknown): ProgressData | undefined {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const out: ProgressData = {};
  let n = 0;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (n >= MAX_PROGRESS_FIELDS) break;
    if (!FIELD.test(k) || !(v === null || (typeof v === "number" && Number.isFinite(v)))) continue;
    out[k] = v;
    n++;
  }
  return n > 0 ? out : undefined;
}

/** A training run's position as numbers (total_steps null while a time budget's total is unknown). */
export function trainProgressData(p: Progress): ProgressData {
  const d: ProgressData = {
    step: p.step, total_steps: p.totalSteps > 0 ? p.totalSteps : null, loss: p.loss, lr: p.lr,
    tokens_per_sec: p.tokensPerSec, elapsed_s: p.elapsedSec, eta_s: p.totalSteps > 0 ? p.etaSec : null,
  };
  if (p.validLoss !== undefined) d.valid_loss = p.validLoss;
  return progressData(d) ?? {};
}

/** The fraction done of a position `done` of `total`; undefined when the total is not known (0). */
export function positionFraction(done: number, total: number): number | undefined {
  return total > 0 && Number.isFinite(done) && Number.isFinite(total) ? Math.min(1, Math.max(0, done / total)) : undefined;
}

/** Lines that carry a position "N/M" (a child's own stdout or stderr, scraped). */
const POSITION = /\b(?:step|generation|update|epoch|architecture|row)s?\s+(\d+)\s*\/\s*(\d+)/i;

/**
 * The position a line of a child's output says ("step 3/10": { done: 3, total: 10, fraction 0.3 }),
 * undefined when it says none. A total of 0 is "not known yet", never 100 %.
 */
export function linePosition(line: string): { done: number; total: number; fraction: number | undefined } | undefined {
  const m = POSITION.exec(line);
  if (!m) return undefined;
  const done = Number(m[1]), total = Number(m[2]);
  return { done, total, fraction: positionFraction(done, total) };
}
