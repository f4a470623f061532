import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../train/backend.js";
import { Adam, clipFactor, cosineLr, inverseSqrtLr } from "../../train/optim.js";
import { randArray } from "../helpers.js";

beforeAll(async () => {
  await selectBackend("cpu", () => {});
});

describe("Adam", () => {
  it("matches the update written out by hand, with a step count per variable", () => {
    const a = tf.variable(tf.tensor1d([1, -2]), true, "adam-a");
    const b = tf.variable(tf.tensor1d([3]), true, "adam-b");
    const vars = new Map([["a", a], ["b", b]]);
    const opt = new Adam();
    const lr = 0.1, b1 = 0.9, b2 = 0.98, eps = 1e-8;
    // step 1: both; step 2: only a (b was not in the sampled SubTransformer)
    opt.apply(vars, new Map([["a", tf.tensor1d([0.5, -1])], ["b", tf.tensor1d([2])]]), lr);
    opt.apply(vars, new Map([["a", tf.tensor1d([0.25, 0])]]), lr);
    const hand = (p: number, gs: number[]) => {
      let m = 0, v = 0;
      gs.forEach((g, i) => {
        const t = i + 1;
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        p -= (lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t)) * m / (Math.sqrt(v) + eps);
      });
      return p;
    };
    const got = a.dataSync();
    expect(got[0]).toBeCloseTo(hand(1, [0.5, 0.25]), 6);
    expect(got[1]).toBeCloseTo(hand(-2, [-1, 0]), 6);
    expect(b.dataSync()[0]).toBeCloseTo(hand(3, [2]), 6);
    expect(opt.state().steps).toEqual({ a: 2, b: 1 });
  });

  it("state round-trips: a resumed optimiser continues identically", () => {
    const mk = (n: string) => new Map([["w", tf.variable(tf.tensor1d([0.3, 0.7, -0.2]), true, n)]]);
    const g = () => new Map([["w", tf.tensor1d([0.1, -0.4, 0.05])]]);
    const va = mk("resume-a"), vb = mk("resume-b");
    const A = new Adam();
    A.apply(va, g(), 0.01);
    const B = new Adam();
    B.loadState(A.state());
    vb.get("w")!.assign(va.get("w")!);
    A.apply(va, g(), 0.01);
    B.apply(vb, g(), 0.01);
    expect(vb.get("w")!.dataSync()).toEqual(va.get("w")!.dataSync());
  });
});

describe("Adam over flat buffers", () => {
  it("matches a float64 reference on random weights and gradients, scaled, over several steps (rel. 1e-6)", () => {
    const shape = [37, 21], n = 37 * 21, lr = 3e-3, scale = 0.7, b1 = 0.9, b2 = 0.98, eps = 1e-8;
    const w0 = randArray(n, 11);
    const p = tf.variable(tf.tensor(w0, shape), true, "adam-flat");
    const opt = new Adam();
    const ref = Float64Array.from(w0), m = new Float64Array(n), v = new Float64Array(n);
    for (let t = 1; t <= 4; t++) {
      const g = randArray(n, 100 + t);
      // a tensor on odd steps, its values on even ones: the same update either way
      const ss = opt.apply(new Map([["w", p]]), new Map([["w", t % 2 ? tf.tensor(g, shape) : g]]), lr, scale);
      expect(ss).toBeCloseTo(g.reduce((s, x) => s + x * x, 0), 8);
      const k = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
      for (let i = 0; i < n; i++) {
        const gi = g[i] * scale;
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        ref[i] -= (k * m[i]) / (Math.sqrt(v[i]) + eps);
      }
    }
    const got = p.dataSync();
    let err = 0, mx = 0;
    for (let i = 0; i < n; i++) { err = Math.max(err, Math.abs(got[i] - ref[i])); mx = Math.max(mx, Math.abs(ref[i])); }
    expect(err / mx).toBeLessThan(1e-6);
    expect(p.shape).toEqual(shape);
    expect(opt.state().m.get("w")!.shape).toEqual(shape);
  });

  it("refuses a gradient of the wrong size, naming the variable", () => {
    const p = tf.variable(tf.zeros([3]), true, "adam-size");
    expect(() => new Adam().apply(new Map([["w", p]]), new Map([["w", new Float32Array(4)]]), 0.1)).toThrow(/w has 4 values, the variable 3/);
  });
});

describe("clipFactor", () => {
  it("gives the global norm (float64) and maxNorm / norm when the norm is larger, else 1", () => {
    const grads = [Float32Array.from([3, 0]), Float32Array.from([4])];
    const c = clipFactor(grads, 1);
    expect(c.norm).toBeCloseTo(5, 6);
    expect(c.scale).toBeCloseTo(1 / (5 + 1e-6), 9);
    expect(clipFactor(grads, 10).scale).toBe(1);
    expect(clipFactor(grads, 0)).toEqual({ norm: 5, scale: 1 });
    // odd and even lengths, against a plain float64 sum
    const r = [randArray(101, 5), randArray(64, 6)];
    let ss = 0;
    for (const g of r) for (const x of g) ss += x * x;
    expect(clipFactor(r, 0).norm).toBeCloseTo(Math.sqrt(ss), 10);
  });
});

describe("learning-rate schedules", () => {
  const cos = { warmupSteps: 100, warmupInitLr: 1e-7, maxLr: 1e-3, minLr: 1e-7, totalSteps: 1100 };
  it("cosine: linear warm-up from 1e-7, peak, half-way, floor", () => {
    expect(cosineLr(0, cos)).toBe(1e-7);
    expect(cosineLr(50, cos)).toBeCloseTo((1e-7 + 1e-3) / 2, 12);
    expect(cosineLr(100, cos)).toBeCloseTo(1e-3, 12);
    expect(cosineLr(600, cos)).toBeCloseTo((1e-3 + 1e-7) / 2, 12);
    expect(cosineLr(1100, cos)).toBeCloseTo(1e-7, 12);
    expect(cosineLr(5000, cos)).toBeCloseTo(1e-7, 12);
    for (let s = 101; s < 1100; s += 97) expect(cosineLr(s, cos)).toBeLessThan(cosineLr(s - 1, cos));
  });
  it("inverse sqrt: warm-up to lr, then lr·sqrt(warmup / step)", () => {
    const s = { warmupSteps: 400, warmupInitLr: 1e-7, lr: 5e-4 };
    expect(inverseSqrtLr(0, s)).toBe(1e-7);
    expect(inverseSqrtLr(400, s)).toBeCloseTo(5e-4, 12);
    expect(inverseSqrtLr(1600, s)).toBeCloseTo(2.5e-4, 12);
  });
});
