/** Which weights a run keeps (train/keep.ts): the best by validation loss, the average of the last N, across a resume. */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeModel } from "../../runtime/format.js";
import { SPECIALS } from "../../runtime/types.js";
import type { TensorMap } from "../../runtime/weights.js";
import { averageTensors, Keeper } from "../../train/keep.js";
import { TINY_SPACE } from "../helpers.js";

/** Weights whose one tensor holds `x` everywhere: the step they were taken at, so averages are easy to read. */
const weights = (x: number): TensorMap => new Map([["w", { shape: [2, 3], data: new Float32Array(6).fill(x) }]]);
const encode = (tensors: TensorMap, meta: Record<string, unknown>) =>
  encodeModel({ kind: "supertransformer", space: TINY_SPACE, positionDims: { encoder: 8, decoder: 8 }, vocab: { size: 8, ...SPECIALS }, meta }, tensors);
/** A validation loss that is lowest for weights near 4.5. */
const validate = (t: TensorMap) => Math.abs(t.get("w")!.data[0] - 4.5);

describe("averageTensors", () => {
  it("averages element-wise and refuses sets that differ", () => {
    const a = averageTensors([weights(1), weights(2), weights(6)]);
    expect([...a.get("w")!.data]).toEqual(Array(6).fill(3));
    expect(() => averageTensors([weights(1), new Map([["w", { shape: [1], data: new Float32Array(1) }]])])).toThrow(/differ in tensor w/);
  });
});

describe("Keeper", () => {
  it("keeps the best by validation loss, or the average of the last N when it validates better", async () => {
    const k = new Keeper({ average: 3, fingerprint: "run", encode });
    for (const [step, loss] of [[1, 5], [2, 1], [3, 4], [4, 3], [5, 2]]) await k.offer(step, loss, weights(step));
    // the best snapshot is step 2 (loss 1); the last three with the final (step 6): 4, 5, 6 -> 5, loss 0.5
    const kept = await k.choose({ tensors: weights(6), step: 6, validLoss: 1.5 }, validate);
    expect(kept.kept).toBe("average");
    expect(kept.losses.best).toEqual({ step: 2, validLoss: 1 });
    expect(kept.losses.average!.steps).toEqual([4, 5, 6]);
    expect(kept.validLoss).toBeCloseTo(0.5, 6);
    expect(kept.tensors.get("w")!.data[0]).toBeCloseTo(5, 6);
    const noAvg = new Keeper({ average: 0, fingerprint: "run", encode });
    for (const [step, loss] of [[1, 5], [2, 1]]) await noAvg.offer(step, loss, weights(step));
    const best = await noAvg.choose({ tensors: weights(3), step: 3, validLoss: 2 }, validate);
    expect([best.kept, best.step, best.tensors.get("w")!.data[0]]).toEqual(["best", 2, 2]);
    const final = await noAvg.choose({ tensors: weights(3), step: 3, validLoss: 0.5 }, validate);
    expect(final.kept).toBe("final");
  });

  it("a resumed run keeps what the killed one took up to its checkpoint, in a ring of N files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hat-keep-"));
    try {
      const base = join(dir, "m.ckpt");
      const a = new Keeper({ average: 2, fingerprint: "run", base, encode });
      for (const [step, loss] of [[1, 3], [2, 2], [3, 2.5], [4, 9]]) await a.offer(step, loss, weights(step));
      expect([existsSync(`${base}.best`), existsSync(`${base}.snap0`), existsSync(`${base}.snap1`), existsSync(`${base}.snap2`)]).toEqual([true, true, true, false]);
      // killed; the checkpoint it resumes from is at step 3: step 4's snapshot is not part of that run any more
      const b = new Keeper({ average: 2, fingerprint: "run", base, encode });
      await b.restore(3);
      await b.offer(5, 8, weights(5)); // replaces the oldest of the ring's files (step 4's was dropped: its slot is free)
      const kept = await b.choose({ tensors: weights(6), step: 6, validLoss: 7 }, validate);
      expect(kept.losses.best).toEqual({ step: 2, validLoss: 2 });
      expect(kept.losses.average!.steps).toEqual([5, 6]);
      expect(kept.kept).toBe("average"); // (5 + 6) / 2 = 5.5 -> loss 1 < 2
      // another run's files are ignored
      const c = new Keeper({ average: 2, fingerprint: "other", base, encode });
      await c.restore(10);
      expect((await c.choose({ tensors: weights(1), step: 1, validLoss: 3 }, validate)).losses).toEqual({ final: 3 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an average outside 0..100", () => {
    expect(() => new Keeper({ average: 101, fingerprint: "x", encode })).toThrow(/0\.\.100/);
    expect(() => new Keeper({ average: 1.5, fingerprint: "x", encode })).toThrow(/integer/);
  });
});
