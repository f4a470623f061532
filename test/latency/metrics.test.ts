/** latency/metrics.ts and latency/linear.ts against values computed by hand. */
import { describe, expect, it } from "vitest";
import { kendallTau, mape, metrics, rmse } from "../../latency/metrics.js";
import { fitLinear, predictLinear } from "../../latency/linear.js";

describe("metrics", () => {
  it("RMSE and MAPE", () => {
    // errors 1, -2, 0, 3: mean square (1 + 4 + 0 + 9) / 4 = 3.5
    expect(rmse([10, 20, 30, 40], [11, 18, 30, 43])).toBeCloseTo(Math.sqrt(3.5), 12);
    // |1/10| + |2/20| + 0 + |3/40| = 0.1 + 0.1 + 0 + 0.075 = 0.275 -> 6.875 %
    expect(mape([10, 20, 30, 40], [11, 18, 30, 43])).toBeCloseTo(6.875, 12);
    expect(() => mape([0, 1], [1, 1])).toThrow(/undefined/);
    expect(() => rmse([1, 2], [1])).toThrow(/2 values/);
    expect(() => rmse([], [])).toThrow(/no values/);
  });

  it("Kendall's tau-b, with and without ties", () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [40, 30, 20, 10])).toBe(-1);
    // x = 1 2 3 4, y = 1 3 2 4: pairs 6, one discordant (2-3): (5 - 1) / 6
    expect(kendallTau([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 12);
    // ties: x = 1 1 2 3, y = 1 2 3 3. Pairs: (0,1) tie in x; (2,3) tie in y; the other 4 concordant.
    // tau-b = 4 / sqrt((6 - 1) (6 - 1)) = 0.8
    expect(kendallTau([1, 1, 2, 3], [1, 2, 3, 3])).toBeCloseTo(0.8, 12);
    expect(kendallTau([1, 1, 1], [1, 2, 3])).toBe(0);
    const m = metrics([1, 2, 3], [1, 2, 3]);
    expect(m).toEqual({ rmse_ms: 0, mape: 0, kendall_tau: 1, n: 3 });
  });

  it("least squares recovers a linear function; a constant feature does not make it singular", () => {
    const X: number[][] = [], y: number[] = [];
    for (let i = 0; i < 30; i++) {
      const x = [i % 7, (i * 3) % 11, 6]; // the last feature is constant, like HAT's encoder layer count
      X.push(x);
      y.push(2 + 3 * x[0] - 0.5 * x[1]);
    }
    const m = fitLinear(X, y);
    for (let i = 0; i < 30; i++) expect(predictLinear(m, X[i])).toBeCloseTo(y[i], 6);
    expect(predictLinear(m, [100, 0, 6])).toBeCloseTo(302, 4);
  });
});
