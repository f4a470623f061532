import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allProducts, hatMatmulCalls, registerHatMatmul, unregisterHatMatmul } from "../../train/hat-matmul.js";
import { randArray, relErr } from "../helpers.js";

/** a · b on backend `name`, the flags as given; returns the values and the shape. */
async function product(name: string, aShape: number[], bShape: number[], tA: boolean, tB: boolean, seed: number) {
  await tf.setBackend(name);
  return tf.tidy(() => {
    const a = tf.tensor(randArray(tf.util.sizeFromShape(aShape), seed), aShape);
    const b = tf.tensor(randArray(tf.util.sizeFromShape(bShape), seed + 1), bShape);
    const y = tf.matMul(a, b, tA, tB);
    return { v: y.dataSync() as Float32Array, shape: y.shape };
  });
}

/** Shapes of A and B (untransposed: A [..., M, K], B [..., K, N]) for a few cases. */
const CASES: { a: number[]; b: number[] }[] = [
  { a: [1, 7, 5], b: [1, 5, 9] }, // batch 1, odd sizes
  { a: [3, 13, 17], b: [3, 17, 11] }, // batch 3
  { a: [2, 3, 9, 33], b: [2, 3, 33, 31] }, // rank 4 (attention-like)
  { a: [4, 10, 6], b: [1, 6, 19] }, // B broadcast
  { a: [1, 5, 8], b: [4, 8, 3] }, // A broadcast
  { a: [37, 65], b: [65, 40] }, // 2-d
  { a: [1, 1, 12], b: [1, 12, 1] }, // M = N = 1
];

describe("hat BatchMatMul on wasm", () => {
  beforeAll(async () => {
    registerHatMatmul(allProducts);
    expect(await tf.setBackend("wasm")).toBe(true);
  });
  afterAll(() => unregisterHatMatmul());

  for (const { a, b } of CASES) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        it(`${a.join("x")} · ${b.join("x")} transposeA=${tA} transposeB=${tB}`, async () => {
          const r = a.length;
          const aShape = tA ? [...a.slice(0, -2), a[r - 1], a[r - 2]] : a;
          const bShape = tB ? [...b.slice(0, -2), b[b.length - 1], b[b.length - 2]] : b;
          const seed = a.reduce((s, x) => s * 31 + x, 7) + (tA ? 1000 : 0) + (tB ? 2000 : 0);
          const want = await product("cpu", aShape, bShape, tA, tB, seed);
          const n0 = hatMatmulCalls();
          const got = await product("wasm", aShape, bShape, tA, tB, seed);
          expect(hatMatmulCalls()).toBe(n0 + 1);
          expect(got.shape).toEqual(want.shape);
          expect(relErr(got.v, want.v)).toBeLessThan(1e-5);
        });
      }
    }
  }

  // tf.fused.matMul (_FusedMatMul): bias of N values and linear / ReLU on ours; prelu and leaky
  // ReLU fall back to tfjs-wasm's kernel (the call count says which ran)
  for (const { a, b } of [{ a: [37, 65], b: [65, 40] }, { a: [3, 13, 17], b: [3, 17, 11] }, { a: [1, 9], b: [9, 1] }]) {
    for (const [tA, tB] of [[false, false], [true, false], [false, true]] as const) {
      for (const activation of ["linear", "relu"] as const) {
        for (const biasShape of [undefined, [b[b.length - 1]], [1, b[b.length - 1]]]) {
          it(`fused ${a.join("x")} · ${b.join("x")} tA=${tA} tB=${tB} ${activation} bias ${biasShape?.join("x") ?? "none"}`, async () => {
            const r = a.length, seed = a.reduce((s2, x) => s2 * 31 + x, 3) + (tA ? 100 : 0) + (tB ? 200 : 0);
            const aShape = tA ? [...a.slice(0, -2), a[r - 1], a[r - 2]] : a;
            const bShape = tB ? [...b.slice(0, -2), b[b.length - 1], b[b.length - 2]] : b;
            const run = async (name: string) => {
              await tf.setBackend(name);
              return tf.tidy(() => {
                const x = tf.tensor(randArray(tf.util.sizeFromShape(aShape), seed), aShape);
                const w = tf.tensor(randArray(tf.util.sizeFromShape(bShape), seed + 1), bShape);
                const bias = biasShape && tf.tensor(randArray(tf.util.sizeFromShape(biasShape), seed + 2), biasShape);
                return tf.fused.matMul({ a: x, b: w, transposeA: tA, transposeB: tB, bias, activation }).dataSync() as Float32Array;
              });
            };
            const want = await run("cpu");
            const n0 = hatMatmulCalls();
            const got = await run("wasm");
            expect(hatMatmulCalls()).toBe(n0 + 1);
            expect(relErr(got, want)).toBeLessThan(1e-5);
          });
        }
      }
    }
  }

  it("a fused product it does not take (leaky ReLU) runs on tfjs-wasm's kernel, correctly", async () => {
    const run = async (name: string) => {
      await tf.setBackend(name);
      return tf.tidy(() => {
        const x = tf.tensor(randArray(12 * 7, 5), [12, 7]), w = tf.tensor(randArray(7 * 5, 6), [7, 5]), bias = tf.tensor(randArray(5, 8), [5]);
        return tf.fused.matMul({ a: x, b: w, bias, activation: "leakyrelu", leakyreluAlpha: 0.1 }).dataSync() as Float32Array;
      });
    };
    const want = await run("cpu");
    const n0 = hatMatmulCalls();
    const got = await run("wasm");
    expect(hatMatmulCalls()).toBe(n0);
    expect(relErr(got, want)).toBeLessThan(1e-5);
  });

  it("gradients through a fused ReLU product (the trainer's linearOp) match the cpu backend", async () => {
    const { linearOp } = await import("../../train/matmul.js");
    const run = async (name: string) => {
      await tf.setBackend(name);
      return tf.tidy(() => {
        const x = tf.tensor(randArray(33 * 20, 21), [33, 20]) as tf.Tensor2D, w = tf.tensor(randArray(20 * 24, 22), [20, 24]) as tf.Tensor2D;
        const bias = tf.tensor(randArray(24, 23), [24]) as tf.Tensor1D, g = tf.tensor(randArray(33 * 24, 24), [33, 24]);
        const grads = tf.grads((p: tf.Tensor, q: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(linearOp(p as tf.Tensor2D, q as tf.Tensor2D, c as tf.Tensor1D, true), g)))([x, w, bias]);
        return grads.map((t) => t.dataSync() as Float32Array);
      });
    };
    const want = await run("cpu"), got = await run("wasm");
    want.forEach((w, i) => expect(relErr(got[i], w)).toBeLessThan(1e-5));
  });

  it("gradients of a batched product match the cpu backend", async () => {
    const run = async (name: string) => {
      await tf.setBackend(name);
      return tf.tidy(() => {
        const a = tf.tensor(randArray(2 * 3 * 5 * 7, 11), [2, 3, 5, 7]);
        const b = tf.tensor(randArray(2 * 3 * 6 * 7, 12), [2, 3, 6, 7]);
        const w = tf.tensor(randArray(2 * 3 * 5 * 6, 13), [2, 3, 5, 6]);
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, false, true), w)))([a, b]);
        return [ga.dataSync() as Float32Array, gb.dataSync() as Float32Array];
      });
    };
    const want = await run("cpu"), got = await run("wasm");
    expect(relErr(got[0], want[0])).toBeLessThan(1e-5);
    expect(relErr(got[1], want[1])).toBeLessThan(1e-5);
  });

  it("does not leak tensors on the wasm backend", async () => {
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    await product("wasm", [3, 5, 4], [3, 5, 6], true, false, 1);
    expect(tf.memory().numTensors).toBe(before);
  });
});
