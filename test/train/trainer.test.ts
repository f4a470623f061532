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

  it("refuses a run without a budget and an arch outside the space", async () => {
    await expect(train({ ...base() })).rejects.toThrow(/steps or minutes/);
    await expect(train({ ...base(), steps: 1, arch: validArch({ ...smallestArch(space), encoderEmbedDim: 16 }) })).rejects.toThrow(/encoderEmbedDim/);
  });
});
