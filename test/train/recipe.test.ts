/** A recipe sized to a time budget (train/recipe.ts), on numbers: the 15-minute run, a long run, the user's settings kept. */
import { describe, expect, it } from "vitest";
import { EFFICIENCY, MIN_BATCH, probeDone, refineRecipe, sizeRecipe, TARGET_UPDATES, WARMUP_FRACTION } from "../../train/recipe.js";

const defaults = { maxTokens: 4096, warmup: 400, maxLr: 1e-3, fixed: [] as ("maxTokens" | "warmup" | "lr")[] };

describe("sizeRecipe", () => {
  it("a 15-minute CPU budget gets smaller batches, a short warm-up and hundreds of updates past it", () => {
    // measured in the issue: 4,096-token batches at ~880 tokens/s (4.66 s an update), 860 s left
    const r = sizeRecipe({ ...defaults, probe: { updates: 6, batchTokens: 4096, secPerUpdate: 4.66 }, remainingSec: 860 });
    expect(r.maxTokens).toBe(MIN_BATCH); // 756 tokens would make 1,000 updates: floored
    expect(r.expectedUpdates).toBeGreaterThan(700);
    expect(r.warmup).toBe(Math.round(WARMUP_FRACTION * r.expectedUpdates));
    expect(r.warmup).toBeLessThan(r.expectedUpdates / 5); // most updates past warm-up (the fixed recipe: 198 updates, all in warm-up)
    expect(r.maxLr).toBeCloseTo(1e-3 * Math.sqrt(1024 / 4096), 9); // square-root rule
  });

  it("a budget between the two sizes the batch for the target number of updates", () => {
    const r = sizeRecipe({ ...defaults, probe: { updates: 5, batchTokens: 4096, secPerUpdate: 1 }, remainingSec: 2000 });
    // 2000 s at 1 s per 4,096 tokens: 8.2M tokens / 1,000 updates = 8,192 tokens > 4,096: the full batch
    expect(r.maxTokens).toBe(4096);
    const s = sizeRecipe({ ...defaults, probe: { updates: 5, batchTokens: 4096, secPerUpdate: 1 }, remainingSec: 500 });
    expect(s.maxTokens).toBe(2048); // 2.05M tokens / 1,000 updates
    expect(Math.abs(s.expectedUpdates - 5 - TARGET_UPDATES)).toBeLessThan(5);
    expect(s.maxLr).toBeCloseTo(1e-3 * Math.SQRT1_2, 9);
  });

  it("a long budget keeps the full batch and warms up over 8 % of its updates, at most 4,000", () => {
    const r = sizeRecipe({ ...defaults, probe: { updates: 5, batchTokens: 4096, secPerUpdate: 4.66 }, remainingSec: 36_000 });
    expect(r.maxTokens).toBe(4096);
    expect(r.maxLr).toBe(1e-3);
    expect(r.warmup).toBe(Math.round(0.08 * r.expectedUpdates));
    const huge = sizeRecipe({ ...defaults, probe: { updates: 5, batchTokens: 4096, secPerUpdate: 0.1 }, remainingSec: 7 * 86_400 });
    expect(huge.warmup).toBe(4000);
  });

  it("keeps what the user set", () => {
    const r = sizeRecipe({ ...defaults, maxTokens: 3000, warmup: 50, maxLr: 7e-4, fixed: ["maxTokens", "warmup", "lr"], probe: { updates: 5, batchTokens: 3000, secPerUpdate: 4 }, remainingSec: 600 });
    expect([r.maxTokens, r.warmup, r.maxLr]).toEqual([3000, 50, 7e-4]);
    const lrOnly = sizeRecipe({ ...defaults, maxLr: 7e-4, fixed: ["lr"], probe: { updates: 5, batchTokens: 4096, secPerUpdate: 4 }, remainingSec: 600 });
    expect(lrOnly.maxTokens).toBe(MIN_BATCH);
    expect(lrOnly.maxLr).toBe(7e-4);
  });

  it("never sizes a batch above the given maximum or below 64 tokens", () => {
    const r = sizeRecipe({ ...defaults, maxTokens: 160, probe: { updates: 2, batchTokens: 160, secPerUpdate: 0.02 }, remainingSec: 3 });
    expect(r.maxTokens).toBe(160); // 3 s / (0.02/160 s a token x 1,000) = 24 tokens: floored at the smaller of MIN_BATCH and the maximum
    // 600 s at 3,000 tokens/s over 1,000 updates: 1,800 tokens, rounded down to 64s
    const mid = sizeRecipe({ ...defaults, maxTokens: 3000, probe: { updates: 2, batchTokens: 3000, secPerUpdate: 1 }, remainingSec: 600 });
    expect(mid.maxTokens).toBe(1792);
    expect(sizeRecipe({ ...defaults, probe: { updates: 2, batchTokens: 4096, secPerUpdate: 1 }, remainingSec: 0 }).maxTokens).toBe(1024);
  });
});

describe("probeDone", () => {
  it("waits for 4 timed updates and 10 s, or 5 % of the budget with 2", () => {
    expect(probeDone(3, 60, 900)).toBe(true); // 5 % of 900 s = 45 s
    expect(probeDone(3, 20, 900)).toBe(false);
    expect(probeDone(4, 10, 900)).toBe(true);
    expect(probeDone(1, 100, 900)).toBe(false);
    expect(probeDone(2, 0.2, 3)).toBe(true);
  });
});

describe("refineRecipe", () => {
  const probe = { updates: 6, batchTokens: 4096, secPerUpdate: 6.26 };
  const input = { ...defaults, remainingSec: 850 };

  it("with a fixed cost an update, keeps the batch whose tokens/s stays near the full batch's (measured: 6.26 s at 4,096, 2.29 s at 1,024)", () => {
    const first = sizeRecipe({ ...input, probe });
    expect(first.maxTokens).toBe(MIN_BATCH);
    const r = refineRecipe(first, { updates: 4, batchTokens: 1024, secPerUpdate: 2.29 }, input);
    const k = (6.26 - 2.29) / 3072, c = 6.26 - k * 4096;
    expect(r.overheadSec).toBeCloseTo(c, 6);
    const tps = (b: number) => b / (c + k * b);
    expect(tps(r.maxTokens)).toBeGreaterThanOrEqual(EFFICIENCY * tps(4096) - 1e-9);
    expect(tps(r.maxTokens - 64)).toBeLessThan(EFFICIENCY * tps(4096)); // the smallest such batch, in 64s
    expect(r.expectedUpdates).toBe(Math.floor(850 / (c + k * r.maxTokens)) + 10);
    expect(r.warmup).toBe(Math.round(WARMUP_FRACTION * r.expectedUpdates));
    expect(r.maxLr).toBeCloseTo(1e-3 * Math.sqrt(r.maxTokens / 4096), 9);
  });

  it("without a fixed cost keeps the first estimate's batch, and a noisy trial (k <= 0) changes nothing", () => {
    const first = sizeRecipe({ ...input, probe });
    const proportional = refineRecipe(first, { updates: 4, batchTokens: 1024, secPerUpdate: 6.26 / 4 }, input);
    expect(proportional.maxTokens).toBe(first.maxTokens);
    expect(proportional.overheadSec).toBeCloseTo(0, 9);
    const noisy = refineRecipe(first, { updates: 4, batchTokens: 1024, secPerUpdate: 7 }, input);
    expect([noisy.maxTokens, noisy.warmup, noisy.expectedUpdates]).toEqual([first.maxTokens, first.warmup, first.expectedUpdates]);
    expect(noisy.trial!.secPerUpdate).toBe(7);
  });

  it("a batch the user set stays as given", () => {
    const fixed = { ...input, fixed: ["maxTokens" as const] };
    const first = sizeRecipe({ ...fixed, maxTokens: 1024, probe: { ...probe, batchTokens: 1024, secPerUpdate: 2.29 } });
    expect(refineRecipe(first, { updates: 4, batchTokens: 512, secPerUpdate: 1.6 }, { ...fixed, maxTokens: 1024 }).maxTokens).toBe(1024);
  });
});
