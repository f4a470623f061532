import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerGatherRows, unregisterGatherRows } from "../../train/wasm-gather.js";
import { registerSharedIdentity, unregisterSharedIdentity } from "../../train/wasm-identity.js";
import { randArray } from "../helpers.js";

/** tf.gather(x, idx, axis) on wasm, with our kernel registered or tfjs's own. */
function gather(ours: boolean, x: tf.Tensor, idx: tf.Tensor, axis: number): { v: Float32Array | Int32Array; shape: number[] } {
  if (ours) registerGatherRows();
  else unregisterGatherRows();
  return tf.tidy(() => {
    const y = tf.gather(x, idx, axis);
    return { v: y.dataSync() as Float32Array | Int32Array, shape: y.shape };
  });
}

describe("wasm kernels of the trainer", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
  });
  afterAll(() => {
    unregisterGatherRows();
    unregisterSharedIdentity();
  });

  const cases: Array<{ x: number[]; idx: number[]; axis: number; dtype: "float32" | "int32" }> = [
    { x: [50, 16], idx: [7, 30], axis: 0, dtype: "float32" }, // an embedding lookup [B, T]
    { x: [9, 3, 5], idx: [11], axis: 0, dtype: "float32" }, // rows of rank 2
    { x: [20], idx: [6], axis: 0, dtype: "int32" }, // scalars
    { x: [6, 10], idx: [4], axis: 1, dtype: "float32" }, // another axis: tfjs's own kernel
    { x: [5, 4], idx: [0], axis: 0, dtype: "float32" }, // no indices
  ];
  for (const c of cases) {
    it(`GatherV2 of ${c.dtype} [${c.x}] by [${c.idx}] on axis ${c.axis} equals tfjs-wasm's`, () => {
      const n = tf.util.sizeFromShape(c.x), dim = c.x[c.axis];
      const x = c.dtype === "float32" ? tf.tensor(randArray(n, n), c.x) : tf.tensor(Int32Array.from({ length: n }, (_, i) => i * 3 - 7), c.x, "int32");
      const idx = tf.tensor(Int32Array.from({ length: tf.util.sizeFromShape(c.idx) }, (_, i) => (i * 7 + 3) % dim), c.idx, "int32");
      const want = gather(false, x, idx, c.axis), got = gather(true, x, idx, c.axis);
      expect(got.shape).toEqual(want.shape);
      expect(Array.from(got.v)).toEqual(Array.from(want.v));
      tf.dispose([x, idx]);
    });
  }

  it("GatherV2 refuses an index outside the rows, naming it", () => {
    registerGatherRows();
    const x = tf.zeros([4, 3]), idx = tf.tensor1d([1, 4], "int32");
    expect(() => tf.gather(x, idx)).toThrow(/index value 4 is not in \[0, 3\]/);
    expect(() => tf.gather(x, tf.tensor1d([-1], "int32"))).toThrow(/index value -1/);
    tf.dispose([x, idx]);
  });

  it("the shared Identity: a clone keeps its values after the original is disposed, and the gradient tape still works", () => {
    registerSharedIdentity();
    const before = tf.memory().numBytes;
    const a = tf.tensor1d([1, 2, 3]);
    const c = tf.clone(a);
    expect(c.dataId).toBe(a.dataId); // one buffer for both
    a.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3]);
    c.dispose();
    expect(tf.memory().numBytes).toBe(before);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.square(x), tf.tensor1d([1, 10, 100]))))(tf.tensor1d([1, 2, 3]));
    expect(Array.from(g.dataSync())).toEqual([2, 40, 600]);
  });
});
