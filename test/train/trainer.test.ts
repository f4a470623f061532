/**
 * The training loop end to end on tiny data: it learns (loss falls), a killed run resumed from its
 * checkpoint ends bit-identical to an uninterrupted one, a fixed SubTransformer trains only its
 * slices, and bad options are refused.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { smallestArch } from "../../runtime/arch-sample.js";
import type { Space } from "../../runtime/types.js";
import { SPECIALS } from "../../runtime/types.js";
import type { TokenPair } from "../../train/batching.js";
import { makeBatches } from "../../train/batching.js";
import { train, type TrainOptions } from "../../train/trainer.js";
import { rng, validArch } from "../helpers.js";

const V = 60;
const space: Space = {
  encoderEmbedChoices: [32, 24], decoderEmbedChoices: [32, 24], encoderFfnChoices: [48, 32], decoderFfnChoices: [48, 32],
  encoderLayerChoices: [2], decoderLayerChoices: [2, 1], encoderHeadChoices: [4, 2], decoderSelfHeadChoices: [4, 2],
  decoderCrossHeadChoices: [4, 2], endeLayerChoices: [1, 2], qkvDim: 32,
};
const vocab = { size: V, ...SPECIALS };

/** A copy task with a twist: the target is the source reversed. */
function pairs(n: number, seed: number): TokenPair[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const s = Array.from({ length: 3 + Math.floor(r() * 5) }, () => 4 + Math.floor(r() * (V - 4)));
    return { src: [...s, SPECIALS.eos], tgt: [...s].reverse() };
  });
}

const base = (): TrainOptions => ({
  space, vocab, train: pairs(64, 1), valid: pairs(16, 2), maxTokens: 160, dropout: 0, seed: 3,
  lr: { maxLr: 3e-3, warmup: 5 }, log: () => {},
});

describe("trainer", () => {
  it("token batching keeps every padded batch within the budget (one over-long pair alone)", () => {
    const p = [...pairs(50, 5), { src: Array(40).fill(5), tgt: Array(40).fill(6) }];
    const batches = makeBatches(p, 64);
    expect(batches.flat().sort((a, b) => a - b)).toEqual(p.map((_, i) => i));
    for (const b of batches) {
      const longest = Math.max(...b.map((i) => Math.max(p[i].src.length, p[i].tgt.length + 1)));
      expect(b.length === 1 || longest * b.length <= 64).toBe(true);
    }
  });

  it("learns: the validation loss falls well below its start", async () => {
    const first = await train({ ...base(), steps: 1 });
    const r = await train({ ...base(), steps: 80 });
    expect(r.validLoss).toBeLessThan(first.validLoss * 0.8);
    expect(r.tokensPerSec).toBeGreaterThan(0);
  });

  it("a run resumed from its checkpoint ends identical to an uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hat-train-"));
    try {
      const whole = await train({ ...base(), steps: 8 });
      const ck = join(dir, "m.ckpt");
      // the same command, stopped after update 4 (a checkpoint is written every update)
      const stop = new AbortController();
      const part = await train({ ...base(), steps: 8, checkpoint: ck, checkpointSeconds: 0, signal: stop.signal, onProgress: (p) => { if (p.step === 4) stop.abort(); } });
      expect(part.steps).toBe(4);
      const resumed = await train({ ...base(), steps: 8, checkpoint: ck });
      expect(resumed.resumedFrom).toBe(4);
      expect(resumed.steps).toBe(8);
      for (const [name, t] of whole.tensors) expect(Array.from(resumed.tensors.get(name)!.data), name).toEqual(Array.from(t.data));
      // another run's checkpoint is refused, not silently mixed in
      await expect(train({ ...base(), seed: 4, steps: 9, checkpoint: ck })).rejects.toThrow(/different run/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a fixed SubTransformer trains only its slices", async () => {
    const init = (await train({ ...base(), steps: 1 })).tensors;
    const arch = smallestArch(space);
    const r = await train({ ...base(), arch, init, steps: 3 });
    const w0 = init.get("enc.0.ffn.fc1.w")!, w1 = r.tensors.get("enc.0.ffn.fc1.w")!; // [32, 48], the arch uses [24, 32]
    let insideChanged = false;
    for (let i = 0; i < 32; i++) for (let j = 0; j < 48; j++) {
      const k = i * 48 + j, changed = w0.data[k] !== w1.data[k];
      if (i < 24 && j < 32) insideChanged ||= changed;
      else expect(changed, `(${i},${j}) outside the slice`).toBe(false);
    }
    expect(insideChanged).toBe(true);
    expect(Array.from(r.tensors.get("dec.1.ffn.fc1.w")!.data)).toEqual(Array.from(init.get("dec.1.ffn.fc1.w")!.data)); // layer not in the arch
  });

  it("a time budget ends on time with the cosine annealed to its floor", async () => {
    const lrs: number[] = [];
    const t0 = performance.now();
    const r = await train({ ...base(), minutes: 0.05, threads: 1, onProgress: (p) => lrs.push(p.lr) });
    const secs = (performance.now() - t0) / 1000;
    expect(r.seconds).toBeGreaterThanOrEqual(3);
    expect(secs).toBeLessThan(20); // 3 s of updates, then validation and the last checkpoint
    expect(r.steps).toBeGreaterThan(5); // past warm-up
    expect(Math.max(...lrs)).toBeCloseTo(3e-3, 3);
    expect(lrs[lrs.length - 1]).toBeLessThan(3e-3 * 0.2); // decayed by time, whatever the speed
  });

  it("a time budget alone is sized by a recipe from its first updates, validated on time, and the recipe survives a resume", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hat-recipe-"));
    try {
      const lines: string[] = [], ck = join(dir, "m.ckpt");
      const stop = new AbortController();
      const o: TrainOptions = { ...base(), maxTokens: 4096, minutes: 0.12, threads: 1, validEverySec: 1, average: 2, checkpoint: ck, checkpointSeconds: 0, log: (l) => lines.push(l) };
      let recipeSeen = -1;
      const part = await train({ ...o, signal: stop.signal, onProgress: (p) => { if (recipeSeen < 0 && lines.some((l) => l.startsWith("recipe:"))) recipeSeen = p.step; if (recipeSeen > 0 && p.step >= recipeSeen + 3) stop.abort(); } });
      expect(part.recipe, lines.join("\n")).toBeDefined();
      const r = part.recipe!;
      expect(r.probe.batchTokens).toBe(4096);
      expect(r.probe.updates).toBeGreaterThanOrEqual(3);
      // the probe's updates are timed; the whole tiny corpus fits one batch of 4,096 tokens, so the
      // budget is sized down to MIN_BATCH-or-less batches only when it cannot afford 1,000 of them
      expect(r.maxTokens).toBeLessThanOrEqual(4096);
      expect(r.warmup).toBe(Math.min(4000, Math.max(10, Math.round(0.08 * r.expectedUpdates))));
      expect(r.fixed).toEqual([]);
      const resumed = await train({ ...o, log: (l) => lines.push(l) });
      expect(resumed.resumedFrom).toBe(part.steps);
      expect(resumed.recipe).toEqual(r); // not probed again
      expect(lines.filter((l) => l.startsWith("recipe:")).length).toBe(1);
      expect(resumed.kept.losses.final).toBeGreaterThan(0);
      expect(resumed.kept.losses.best).toBeDefined(); // validated every second
      expect(resumed.validLoss).toBeLessThanOrEqual(resumed.kept.losses.final);
      // with steps, or --recipe fixed, nothing is sized
      expect((await train({ ...base(), steps: 3 })).recipe).toBeUndefined();
      expect((await train({ ...base(), minutes: 0.02, recipe: false })).recipe).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a run without a budget and an arch outside the space", async () => {
    await expect(train({ ...base() })).rejects.toThrow(/steps or minutes/);
    await expect(train({ ...base(), steps: 1, arch: validArch({ ...smallestArch(space), encoderEmbedDim: 16 }) })).rejects.toThrow(/encoderEmbedDim/);
  });
});
