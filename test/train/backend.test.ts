import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../train/backend.js";
import { randArray, relErr, rng } from "../helpers.js";

/** d/dE of sum(E[idx] * W): gather's gradient (UnsortedSegmentSum) on the active backend. */
function embeddingGrad(E: Float32Array, V: number, D: number, idx: Int32Array, W: Float32Array): Float32Array {
  return tf.tidy(() => {
    const e = tf.tensor2d(E, [V, D]);
    const ids = tf.tensor2d(idx, [2, idx.length / 2], "int32");
    const w = tf.tensor3d(W, [2, idx.length / 2, D]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, ids), w)))(e);
    return g.dataSync() as Float32Array;
  });
}

describe("selectBackend", () => {
  const saved = process.env.HAT_BACKEND;
  afterAll(() => {
    if (saved === undefined) delete process.env.HAT_BACKEND;
    else process.env.HAT_BACKEND = saved;
  });

  it("picks the best available backend and says why it skipped the others", async () => {
    delete process.env.HAT_BACKEND;
    const lines: string[] = [];
    const c = await selectBackend(undefined, (l) => lines.push(l));
    expect(["node-gpu", "node", "wasm", "cpu"]).toContain(c.name);
    expect(tf.getBackend()).toBe(c.tfName);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(c.name);
    // every backend before the chosen one is accounted for
    const order = ["node-gpu", "node", "wasm", "cpu"];
    expect(c.skipped.map((s) => s.split(":")[0])).toEqual(order.slice(0, order.indexOf(c.name)));
  });

  it("HAT_BACKEND forces a backend; unknown names are refused", async () => {
    process.env.HAT_BACKEND = "cpu";
    expect((await selectBackend(undefined, () => {})).name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    await expect(selectBackend("tpu", () => {})).rejects.toThrow(/unknown backend "tpu"/);
  });

  it("wasm: the gradient of an embedding lookup equals the cpu backend's (and the sum written out)", async () => {
    const V = 37, D = 24, N = 2 * 50;
    const r = rng(7);
    // repeated indices on purpose: several rows of the gradient are sums
    const idx = Int32Array.from({ length: N }, () => Math.floor(r() * 12));
    const E = randArray(V * D, 1), W = randArray(N * D, 2);
    const byHand = new Float32Array(V * D);
    for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) byHand[idx[i] * D + d] += W[i * D + d];
    await selectBackend("cpu", () => {});
    const want = embeddingGrad(E, V, D, idx, W);
    expect(relErr(want, byHand)).toBeLessThan(1e-6);
    await selectBackend("wasm", () => {});
    const got = embeddingGrad(E, V, D, idx, W);
    expect(relErr(got, want)).toBeLessThan(1e-6);
    // rows never gathered get exactly zero
    const used = new Set(idx);
    for (let v = 0; v < V; v++) if (!used.has(v)) expect(got.subarray(v * D, (v + 1) * D).every((x) => x === 0)).toBe(true);
    expect(Math.max(...got.map(Math.abs))).toBeGreaterThan(0.5);
  });
});
