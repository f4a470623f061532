/** search/predictor-file.ts checkPredictorQuant: a predictor of other products than the search targets is refused, naming both. */
import { describe, expect, it } from "vitest";
import { protocolOf } from "../../runtime/protocol.js";
import { checkPredictorQuant, SearchInputError, type LatencySource } from "../../search/predictor-file.js";

const source = (quant?: "f32" | "int8"): LatencySource => ({
  path: `pi-${quant ?? "hat"}.json`, name: "pi", model: { predict: (archs) => new Float64Array(archs.length).fill(1) },
  protocol: quant === undefined ? undefined : protocolOf({ vocab: 300, quant }),
});

describe("checkPredictorQuant", () => {
  it("refuses a predictor of the other products, naming both and what to do; accepts the same", () => {
    const logs: string[] = [];
    const log = (l: string) => logs.push(l);
    expect(() => checkPredictorQuant(source("int8"), "f32", "this search", log)).toThrow(SearchInputError);
    expect(() => checkPredictorQuant(source("int8"), "f32", "this search", log)).toThrow(/pi-int8\.json learnt latencies of int8 products, but this search targets f32 products: search for int8 \(hat search --quant int8.*hat profile-campaign --quant f32/);
    expect(() => checkPredictorQuant(source("f32"), "int8", "this search", log)).toThrow(/learnt latencies of f32 products, but this search targets int8 products/);
    checkPredictorQuant(source("int8"), "int8", "this search", log);
    checkPredictorQuant(source("f32"), "f32", "this search", log);
    expect(logs).toEqual([]);
  });

  it("a predictor that does not say its protocol (HAT's datasets) is taken as f32, with a warning for an int8 target", () => {
    const logs: string[] = [];
    checkPredictorQuant(source(), "f32", "this search", (l) => logs.push(l));
    expect(logs).toEqual([]);
    checkPredictorQuant(source(), "int8", "this search", (l) => logs.push(l));
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^warning: pi-hat\.json does not say .* targets int8 products/);
  });
});
