import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, describe, expect, it } from "vitest";
import { allProducts, hatMatmulCalls, registerHatMatmul, unregisterHatMatmul } from "../../train/hat-matmul.js";
import { layerNorm } from "../../train/layers.js";
import { randArray, relErr } from "../helpers.js";

/** float64 reference of layerNorm (eps 1e-5) and, for an upstream gradient dy, dx, dg and db. */
function reference(x: Float32Array, g: Float32Array, b: Float32Array, dy: Float32Array, R: number, D: number) {
  const y = new Float64Array(R * D), dx = new Float64Array(R * D), dg = new Float64Array(D), db = new Float64Array(D);
  for (let r = 0; r < R; r++) {
    let mean = 0, v = 0;
    for (let d = 0; d < D; d++) mean += x[r * D + d] / D;
    for (let d = 0; d < D; d++) v += (x[r * D + d] - mean) ** 2 / D;
    const s = 1 / Math.sqrt(v + 1e-5), n = new Float64Array(D), dn = new Float64Array(D);
    let mdn = 0, mdnn = 0;
    for (let d = 0; d < D; d++) {
      n[d] = (x[r * D + d] - mean) * s;
      y[r * D + d] = n[d] * g[d] + b[d];
      dn[d] = dy[r * D + d] * g[d];
      mdn += dn[d] / D;
      mdnn += (dn[d] * n[d]) / D;
      dg[d] += dy[r * D + d] * n[d];
      db[d] += dy[r * D + d];
    }
    for (let d = 0; d < D; d++) dx[r * D + d] = s * (dn[d] - mdn - n[d] * mdnn);
  }
  return { y, dx, dg, db };
}

describe("layerNorm's written-out gradient", () => {
  afterAll(() => unregisterHatMatmul());

  // Odd widths and an offset, scaled input (a large mean against a small spread) included.
  const shapes: Array<[number, number, number]> = [[7, 16, 0], [33, 24, 3], [5, 130, 40]];
  // "wasm+hat": our products registered, so dg and db are sums by a ones-row product (./matmul.ts sumRows).
  for (const backend of ["cpu", "wasm", "wasm+hat"]) {
    for (const [R, D, shift] of shapes) {
      it(`${backend}: value, dx, dg, db within 1e-4 of float64 for [${R}, ${D}] (offset ${shift})`, async () => {
        expect(await tf.setBackend(backend === "cpu" ? "cpu" : "wasm")).toBe(true);
        if (backend === "wasm+hat") registerHatMatmul(allProducts);
        else unregisterHatMatmul();
        const calls = hatMatmulCalls();
        const x = randArray(R * D, R + D).map((v) => v * 3 + shift), g = randArray(D, 7).map((v) => v + 1.5);
        const b = randArray(D, 8), dy = randArray(R * D, 9);
        const ref = reference(x, g, b, dy, R, D);
        const [y, dx, dg, db] = tf.tidy(() => {
          const xt = tf.tensor2d(x, [R, D]), gt = tf.tensor1d(g), bt = tf.tensor1d(b), dyt = tf.tensor2d(dy, [R, D]);
          const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => layerNorm(xi as tf.Tensor2D, gi as tf.Tensor1D, bi as tf.Tensor1D);
          const grads = tf.grads(f)([xt, gt, bt], dyt);
          return [f(xt, gt, bt), ...grads].map((t) => t.dataSync().slice());
        });
        expect(relErr(y, ref.y)).toBeLessThan(1e-4);
        expect(relErr(dx, ref.dx)).toBeLessThan(1e-4);
        expect(relErr(dg, ref.dg)).toBeLessThan(1e-4);
        expect(relErr(db, ref.db)).toBeLessThan(1e-4);
        expect(hatMatmulCalls() > calls).toBe(backend === "wasm+hat");
      });
    }
  }
});
