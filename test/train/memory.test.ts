/**
 * Training memory (train/memory.ts): the estimate against the engine's measured peak of one update
 * on shapes the coefficients were not fitted on, and the refusal of a space that cannot fit the
 * wasm backend's heap, with the batch that would.
 */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { largestArch } from "../../runtime/arch-sample.js";
import { HAT_WMT_SPACE } from "../../runtime/spaces.js";
import { SPECIALS, type Space } from "../../runtime/types.js";
import { selectBackend } from "../../train/backend.js";
import { padBatch } from "../../train/batch.js";
import { checkTrainingMemory, estimateTrainingMemory, HEAP_SLACK, largestFittingBatch, TrainingMemoryError, WASM_HEAP_BYTES } from "../../train/memory.js";
import { Adam } from "../../train/optim.js";
import { trainStep } from "../../train/step.js";
import { SuperTransformer } from "../../train/supertransformer.js";
import { train } from "../../train/trainer.js";
import { rng } from "../helpers.js";

const space = (D: number, F: number, L: number, H: number): Space => ({
  encoderEmbedChoices: [D], decoderEmbedChoices: [D], encoderFfnChoices: [F], decoderFfnChoices: [F], encoderLayerChoices: [L], decoderLayerChoices: [L],
  encoderHeadChoices: [H], decoderSelfHeadChoices: [H], decoderCrossHeadChoices: [H], endeLayerChoices: [1], qkvDim: D,
});

/** Peak bytes of the engine over one update (after a first one made Adam's moments): tf.profile's peak plus what was live before. */
async function measuredPeak(s: Space, V: number, N: number, T: number): Promise<number> {
  const st = new SuperTransformer(s, V, { seed: 1 }), opt = new Adam(), r = rng(3);
  const rows = Math.floor(N / T), word = () => 4 + Math.floor(r() * (V - 4));
  const batch = padBatch(Array.from({ length: rows }, () => [...Array.from({ length: T - 1 }, word), SPECIALS.eos]), Array.from({ length: rows }, () => Array.from({ length: T - 1 }, word)));
  const o = { lr: 1e-4, rates: { dropout: 0.1 } };
  trainStep(st, opt, largestArch(s), batch, o);
  const live = tf.memory().numBytes;
  const prof = await tf.profile(() => { trainStep(st, opt, largestArch(s), batch, o); });
  st.dispose();
  opt.dispose();
  return live + prof.peakBytes;
}

describe("estimateTrainingMemory", () => {
  it("is within 25 % of the measured peak on shapes it was not fitted on", async () => {
    await selectBackend("cpu", () => {});
    for (const [D, F, L, H, V, N, T] of [[32, 128, 2, 2, 600, 384, 16], [48, 256, 1, 4, 1500, 256, 32], [32, 64, 3, 4, 300, 512, 64]]) {
      const s = space(D, F, L, H);
      const want = await measuredPeak(s, V, N, T);
      const e = estimateTrainingMemory({ space: s, vocabSize: V, maxTokens: N, threads: 1, longest: T });
      const got = e.total / HEAP_SLACK;
      console.log(`D ${D} F ${F} L ${L} H ${H} V ${V} N ${N} T ${T}: measured ${(want / 1e6).toFixed(1)} MB, estimated ${(got / 1e6).toFixed(1)} MB`);
      expect(got / want).toBeGreaterThan(0.75);
      expect(got / want).toBeLessThan(1.25);
    }
  });

  it("shares the batch between threads and grows with the vocabulary", () => {
    const s = space(64, 256, 2, 4);
    const one = estimateTrainingMemory({ space: s, vocabSize: 8000, maxTokens: 4096, threads: 1 });
    const two = estimateTrainingMemory({ space: s, vocabSize: 8000, maxTokens: 4096, threads: 2 });
    expect(two.shardTokens).toBe(2048);
    expect(two.logits).toBeCloseTo(one.logits / 2, 0);
    expect(two.weights).toBe(one.weights);
    expect(estimateTrainingMemory({ space: s, vocabSize: 16000, maxTokens: 4096, threads: 1 }).logits).toBeCloseTo(2 * one.logits, 0);
  });
});

describe("checkTrainingMemory", () => {
  it("refuses HAT's WMT space at 4,096-token batches on wasm, names the limit and a batch that fits", () => {
    const input = { space: HAT_WMT_SPACE, vocabSize: 32768, maxTokens: 4096, threads: 2, longest: 100 };
    let err: unknown;
    try { checkTrainingMemory(input, "wasm"); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TrainingMemoryError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/4\.00 GiB heap/);
    expect(msg).toMatch(/largest part is activations/);
    const fits = Number(/--max-tokens (\d+) fits/.exec(msg)![1]);
    expect(fits).toBe(largestFittingBatch(input));
    expect(estimateTrainingMemory({ ...input, maxTokens: fits }).total).toBeLessThanOrEqual(WASM_HEAP_BYTES);
    expect(estimateTrainingMemory({ ...input, maxTokens: fits + 64 }).total).toBeGreaterThan(WASM_HEAP_BYTES);
    // the native backends have no wasm heap: not refused
    expect(() => checkTrainingMemory(input, "node")).not.toThrow();
    // a space whose weights alone do not fit: no batch fits, and the message says what to shrink
    const huge = { ...input, space: { ...HAT_WMT_SPACE, encoderEmbedChoices: [4096], decoderEmbedChoices: [4096], qkvDim: 4096 } };
    expect(() => checkTrainingMemory(huge, "wasm")).toThrow(/no batch fits: shrink the largest embed dim \(4096\)/);
  });

  it("the trainer refuses before allocating a SuperTransformer that cannot fit", async () => {
    const t0 = performance.now();
    await expect(train({
      space: HAT_WMT_SPACE, vocab: { size: 32768, ...SPECIALS }, train: [{ src: [5, 2], tgt: [6] }], valid: [{ src: [5, 2], tgt: [6] }],
      steps: 1, maxTokens: 65536, threads: 1, backend: "wasm", log: () => {},
    })).rejects.toThrow(TrainingMemoryError);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});
