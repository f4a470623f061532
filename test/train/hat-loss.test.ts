import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enableFusedLoss, fusedLossActive } from "../../train/hat-loss.js";
import { labelSmoothedLoss } from "../../train/loss.js";
import { registerSegmentSum } from "../../train/segment-sum.js";
import { randArray, relErr } from "../helpers.js";

const PAD = 1;

/** float64 reference: summed label-smoothed loss, summed NLL and d loss / d logits over non-pad rows. */
function reference(x: Float32Array, t: number[], R: number, V: number, eps: number) {
  let loss = 0, nll = 0;
  const grad = new Float64Array(R * V);
  for (let r = 0; r < R; r++) {
    if (t[r] === PAD) continue;
    let m = -Infinity, s = 0, sum = 0;
    for (let v = 0; v < V; v++) m = Math.max(m, x[r * V + v]);
    for (let v = 0; v < V; v++) { s += Math.exp(x[r * V + v] - m); sum += x[r * V + v]; }
    const lse = m + Math.log(s), n = lse - x[r * V + t[r]];
    nll += n;
    loss += (1 - eps) * n + (eps / V) * (V * lse - sum);
    for (let v = 0; v < V; v++) grad[r * V + v] = Math.exp(x[r * V + v] - lse) - eps / V - (v === t[r] ? 1 - eps : 0);
  }
  return { loss, nll, grad };
}

/** Loss, NLL and gradient by ./loss.ts on the wasm backend, fused or not. */
function measured(x: Float32Array, t: number[], R: number, V: number, eps: number, fused: boolean) {
  enableFusedLoss(fused);
  expect(fusedLossActive()).toBe(fused);
  return tf.tidy(() => {
    const logits = tf.tensor2d(x, [R, V]), target = tf.tensor1d(t, "int32");
    let nll = 0;
    const g = tf.grad((l: tf.Tensor) => {
      const res = labelSmoothedLoss(l as tf.Tensor2D, target, eps, PAD);
      nll = res.nll.dataSync()[0];
      return res.loss;
    })(logits);
    const loss = labelSmoothedLoss(logits, target, eps, PAD).loss.dataSync()[0];
    return { loss, nll, grad: g.dataSync() as Float32Array };
  });
}

describe("label-smoothed loss on the fused wasm kernel", () => {
  beforeAll(async () => {
    registerSegmentSum("wasm"); // the tfjs path's gather gradient
    expect(await tf.setBackend("wasm")).toBe(true);
  });
  afterAll(() => enableFusedLoss(false));

  // V not a multiple of 4 (the kernel's scalar tail), pad rows, large logits (the max shift)
  for (const [R, V, scale] of [[7, 13, 1], [33, 1001, 3], [5, 4000, 20]] as const) {
    it(`${R} rows x V ${V} (logits x${scale}): fused and tfjs paths within 2e-5 of float64`, () => {
      const x = randArray(R * V, R * 7 + V).map((v) => v * scale);
      const t = Array.from({ length: R }, (_, r) => (r % 5 === 3 ? PAD : (r * 7919 + 3) % V));
      const want = reference(x, t, R, V, 0.1);
      for (const fused of [true, false]) {
        const got = measured(x, t, R, V, 0.1, fused);
        expect(Math.abs(got.loss - want.loss) / Math.abs(want.loss)).toBeLessThan(2e-5);
        expect(Math.abs(got.nll - want.nll) / Math.abs(want.nll)).toBeLessThan(2e-5);
        expect(relErr(got.grad, Float32Array.from(want.grad))).toBeLessThan(2e-5);
      }
    });
  }

  it("refuses a target outside the vocabulary", () => {
    enableFusedLoss(true);
    expect(() => tf.tidy(() => labelSmoothedLoss(tf.zeros([2, 5]) as tf.Tensor2D, tf.tensor1d([3, 5], "int32"), 0.1, PAD).loss))
      .toThrow(/target 5 of row 1 is outside the vocabulary \(5\)/);
  });
});
