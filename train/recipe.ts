/**
 * A training recipe sized to a time budget (docs/training.md "Recipes for a time budget").
 *
 * A fixed recipe (4,096-token batches, 400 warm-up updates) spends a 15-minute CPU budget in its
 * warm-up: at ~900 tokens/s that is ~200 updates, the rate never reaches its peak and never decays.
 * With `--minutes` the trainer times its first updates (the probe), then sizes what the user did
 * not set from the updates the rest of the budget allows:
 *
 *   U(b)    = remaining seconds / (seconds per update at the probe's batch b0 · b / b0)
 *   batch   b = clamp(b0 · U(b0) / TARGET_UPDATES, MIN_BATCH, b0), rounded down to 64s below b0
 *   warm-up W = clamp(WARMUP_FRACTION · U(b), 10, 4000)
 *   peak    lr = lr0 · sqrt(b / b0)      (Adam's square-root rule for a smaller batch)
 *
 * so a short budget makes ~TARGET_UPDATES updates of smaller batches, most of them past warm-up,
 * and a long one keeps the full batch and makes more updates. The cosine schedule then decays over
 * the time left after warm-up (train/trainer.ts), whatever the machine's speed turns out to be.
 *
 * An update also has a fixed cost (tfjs's kernel launches, Adam over every weight, the threads'
 * weight exchange: measured ~1 s an update for a d256 3+3 model at V 8000 on two cores), so a
 * batch a quarter the size is not four times faster. When the first estimate shrinks the batch,
 * the trainer times a few updates at that size too (the trial) and `refineRecipe` fits
 * t(b) = c + k·b through the two points: the batch is then the smaller of the first estimate's
 * and the one whose tokens/s is still EFFICIENCY of the full batch's, and the expected updates
 * and warm-up follow from t(b).
 */

/** Updates a budget is sized for when it cannot afford full batches. */
export const TARGET_UPDATES = 1000;
/** The smallest batch (padded tokens) the recipe shrinks to: below it per-update costs dominate. */
export const MIN_BATCH = 1024;
/** Share of the expected updates spent warming up (fairseq/HAT: 4k-10k of 40k-100k). */
export const WARMUP_FRACTION = 0.08;
/** The least tokens/s a smaller batch may keep of the full batch's (refineRecipe). */
export const EFFICIENCY = 0.85;
/** Timed updates of the trial at the recipe's batch (after one untimed). */
export const TRIAL_UPDATES = 3;

/** What the probe measured: `updates` updates of batches of `batchTokens`, `secPerUpdate` each (median). */
export interface Probe {
  updates: number;
  batchTokens: number;
  secPerUpdate: number;
}

/** The settings a recipe chose, and why: printed, kept in the checkpoint and in the result. */
export interface Recipe {
  maxTokens: number;
  warmup: number;
  maxLr: number;
  /** Updates the rest of the budget allows at `maxTokens`, as estimated from the probe. */
  expectedUpdates: number;
  probe: Probe;
  /** The trial at a smaller batch and the fixed cost of an update fitted from both (refineRecipe). */
  trial?: Probe;
  overheadSec?: number;
  /** Which settings the user fixed (the recipe left them as given). */
  fixed: ("maxTokens" | "warmup" | "lr")[];
}

export interface RecipeInput {
  probe: Probe;
  /** Training seconds left after the probe. */
  remainingSec: number;
  /** The user's settings, or the defaults; those named in `fixed` are kept. */
  maxTokens: number;
  warmup: number;
  maxLr: number;
  fixed: Recipe["fixed"];
}

/** Warm-up (WARMUP_FRACTION of the expected updates, 10..4000) and peak rate (the square-root rule below the full batch), unless given. */
function warmupAndRate(expectedUpdates: number, maxTokens: number, i: Pick<RecipeInput, "warmup" | "maxLr" | "maxTokens">, fixed: Recipe["fixed"]): { warmup: number; maxLr: number } {
  return {
    warmup: fixed.includes("warmup") ? i.warmup : Math.min(4000, Math.max(10, Math.round(WARMUP_FRACTION * expectedUpdates))),
    maxLr: fixed.includes("lr") || maxTokens >= i.maxTokens ? i.maxLr : i.maxLr * Math.sqrt(maxTokens / i.maxTokens),
  };
}

/** The recipe for the rest of a budget (pure: tested on numbers). */
export function sizeRecipe(i: RecipeInput): Recipe {
  const { probe, fixed } = i;
  const remaining = Math.max(0, i.remainingSec);
  const per = Math.max(1e-6, probe.secPerUpdate) / probe.batchTokens; // seconds per padded token
  let maxTokens = i.maxTokens;
  if (!fixed.includes("maxTokens")) {
    const want = remaining / (per * TARGET_UPDATES);
    const b = Math.min(i.maxTokens, Math.max(Math.min(MIN_BATCH, i.maxTokens), want));
    maxTokens = b >= i.maxTokens ? i.maxTokens : Math.min(i.maxTokens, Math.max(64, Math.floor(b / 64) * 64));
  }
  const expectedUpdates = Math.max(1, Math.floor(remaining / (per * maxTokens))) + probe.updates;
  return { maxTokens, ...warmupAndRate(expectedUpdates, maxTokens, i, fixed), expectedUpdates, probe, fixed };
}

/**
 * The recipe once a trial at `first.maxTokens` was timed: t(b) = c + k·b through the probe and the
 * trial, the batch no smaller than the first estimate's nor than the one that keeps EFFICIENCY of
 * the full batch's tokens/s, the expected updates and the warm-up from t(b). Falls back to `first`
 * when the two points do not give a positive k (noise).
 */
export function refineRecipe(first: Recipe, trial: Probe, i: Omit<RecipeInput, "probe">): Recipe {
  const { probe } = first;
  const b0 = probe.batchTokens, b1 = trial.batchTokens;
  const k = (probe.secPerUpdate - trial.secPerUpdate) / (b0 - b1);
  if (!(b0 > b1) || !(k > 0)) return { ...first, trial };
  const c = Math.max(0, probe.secPerUpdate - k * b0);
  const remaining = Math.max(0, i.remainingSec);
  let maxTokens = first.maxTokens;
  if (!first.fixed.includes("maxTokens")) {
    const efficient = (EFFICIENCY * b0 * c) / (c + k * b0 * (1 - EFFICIENCY)); // b/(c+kb) >= EFFICIENCY·b0/(c+kb0)
    const target = (remaining / TARGET_UPDATES - c) / k; // the batch that makes TARGET_UPDATES updates
    const b = Math.min(i.maxTokens, Math.max(first.maxTokens, efficient, target));
    maxTokens = b >= i.maxTokens ? i.maxTokens : Math.min(i.maxTokens, Math.ceil(b / 64) * 64);
  }
  const updatesDone = probe.updates + trial.updates;
  const expectedUpdates = Math.max(1, Math.floor(remaining / (c + k * maxTokens))) + updatesDone;
  return { maxTokens, ...warmupAndRate(expectedUpdates, maxTokens, i, first.fixed), expectedUpdates, probe, trial, overheadSec: c, fixed: first.fixed };
}

/** When the probe has seen enough: >= 4 timed updates and 10 s, or 5 % of the budget (>= 2 updates). */
export function probeDone(timedUpdates: number, elapsedSec: number, budgetSec: number): boolean {
  if (timedUpdates >= 4 && elapsedSec >= 10) return true;
  return timedUpdates >= 2 && elapsedSec >= 0.05 * budgetSec;
}

/** One line for the log. */
export function describeRecipe(r: Recipe): string {
  const mark = (k: Recipe["fixed"][number]) => (r.fixed.includes(k) ? " (given)" : "");
  const trial = r.trial ? `; trial: ${r.trial.updates} of ${r.trial.batchTokens}, ${r.trial.secPerUpdate.toFixed(2)} s each${r.overheadSec !== undefined ? `, ${r.overheadSec.toFixed(2)} s of an update fixed` : ""}` : "";
  return `recipe: batches of ${r.maxTokens} tokens${mark("maxTokens")}, ${r.warmup} warm-up updates${mark("warmup")}, peak lr ${r.maxLr.toExponential(2)}${mark("lr")}, ` +
    `~${r.expectedUpdates} updates in the budget (probe: ${r.probe.updates} updates of ${r.probe.batchTokens} tokens, ${r.probe.secPerUpdate.toFixed(2)} s each${trial})`;
}
