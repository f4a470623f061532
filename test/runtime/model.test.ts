/**
 * The whole SubTransformer in the wasm runtime against the float64 reference (runtime/reference.ts)
 * on random SuperTransformer weights, and the runtime's own consistency: incremental = full-sequence
 * decoding, batch = one by one, beam 1 = greedy, sliced SuperTransformer = exported compact model,
 * beam search's reported log-prob = teacher-forced score of its output.
 * Tolerance: max abs error <= 1e-4 x max |reference logit|.
 */
import { describe, expect, it } from "vitest";
import { SPECIALS } from "../../runtime/types.js";
import { randomTensors, sliceSubTensors, superTensorShapes } from "../../runtime/weights.js";
import { WasmMemoryError } from "../../runtime/wasm.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { SPACE_LIMITS, validateArch } from "../../runtime/arch.js";
import { profileArch } from "../../runtime/profile.js";
import { protocolOf } from "../../runtime/protocol.js";
import { ModelShapeError, WasmSubTransformer, WasmWeights } from "../../runtime/wasm-model.js";
import { refDecode, refEncode } from "../../runtime/reference.js";
import { beamSearch, beamSearchNBest, greedy, score } from "../../runtime/decode.js";
import { relErr, rng, TINY_SPACE, validArch } from "../helpers.js";

const V = 41;
const space = TINY_SPACE;
const positionDims = { encoder: 32, decoder: 36 };
const arch = validArch({
  encoderEmbedDim: 24, decoderEmbedDim: 28, encoderLayers: 3, decoderLayers: 2,
  encoderFfnDims: [48, 20, 48], encoderHeads: [2, 4, 2],
  decoderFfnDims: [24, 44], decoderSelfHeads: [4, 2], decoderCrossHeads: [1, 4], decoderEndeLayers: [3, 1],
  qkvDim: 16,
});

const superT = randomTensors(superTensorShapes(space, V), 7);
const wasm = loadWasm();
const weights = new WasmWeights(wasm, { tensors: superT, vocabSize: V, positionDims });
const model = new WasmSubTransformer(weights, arch);

function sentence(r: () => number, n: number): number[] {
  return [...Array.from({ length: n - 1 }, () => 4 + Math.floor(r() * (V - 4))), SPECIALS.eos];
}

/** Teacher-forced logits [B·T, V] from the wasm runtime. */
function wasmLogits(m: WasmSubTransformer, src: number[][], prev: number[][]): Float32Array {
  const T = prev[0].length;
  const s = m.begin(src, { maxLen: T });
  try {
    const h = s.forwardHidden(Int32Array.from(prev.flat()), T);
    return wasm.f32(m.logitsOf(h, src.length * T), src.length * T * V).slice();
  } finally {
    s.release();
  }
}

describe("wasm SubTransformer vs float64 reference", () => {
  const r = rng(3);
  const src = sentence(r, 9), prev = [SPECIALS.eos, ...sentence(r, 7).slice(0, 6)];

  it("teacher-forced logits match (heterogeneous layers, De != Dd, arbitrary encoder-decoder attention)", () => {
    const ref = refDecode({ tensors: superT, arch, vocabSize: V, positionDims }, refEncode({ tensors: superT, arch, vocabSize: V, positionDims }, src), prev);
    const got = wasmLogits(model, [src], [prev]);
    const err = relErr(got, ref);
    console.log(`forward pass rel err vs f64: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
  });

  it("incremental decoding (KV cache) equals the full-sequence pass", () => {
    const full = wasmLogits(model, [src], [prev]);
    const s = model.begin([src], { maxLen: prev.length });
    try {
      for (let t = 0; t < prev.length; t++) {
        const step = s.step(Int32Array.of(prev[t]), t);
        expect(relErr(step, full.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-5);
      }
    } finally {
      s.release();
    }
  });

  it("a right-padded batch equals its sentences decoded one by one", () => {
    const r2 = rng(11);
    const srcs = [sentence(r2, 5), sentence(r2, 11), sentence(r2, 2)];
    const prevs = [0, 1, 2].map(() => [SPECIALS.eos, ...sentence(r2, 6).slice(0, 5)]);
    const batch = wasmLogits(model, srcs, prevs);
    srcs.forEach((s, b) => {
      const one = wasmLogits(model, [s], [prevs[b]]);
      expect(relErr(batch.subarray(b * 6 * V, (b + 1) * 6 * V), one)).toBeLessThan(1e-5);
    });
  });

  it("the sliced SuperTransformer equals the exported compact SubTransformer", () => {
    const compact = sliceSubTensors(superT, arch, V);
    const w2 = new WasmWeights(wasm, { tensors: compact, vocabSize: V, positionDims });
    const m2 = new WasmSubTransformer(w2, arch);
    const a = wasmLogits(model, [src], [prev]), b = wasmLogits(m2, [src], [prev]);
    expect(relErr(b, a)).toBeLessThan(1e-6);
    expect(greedy(m2, [src]).map((h) => h.tokens)).toEqual(greedy(model, [src]).map((h) => h.tokens));
  });

  it("a model too small for the architecture is refused, naming the tensor", () => {
    const compact = sliceSubTensors(superT, arch, V);
    const w2 = new WasmWeights(wasm, { tensors: compact, vocabSize: V, positionDims });
    const bigger = validArch({ ...arch, decoderFfnDims: [44, 44] });
    expect(() => new WasmSubTransformer(w2, bigger)).toThrow(ModelShapeError);
    expect(() => new WasmSubTransformer(w2, bigger)).toThrow(/dec\.0\.ffn\.fc1\.w.*\[28,24\].*\[28,44\]/);
  });

  it("bad tokens are refused before any wasm call", () => {
    expect(() => model.begin([[4, 5, V]], { maxLen: 4 })).toThrow(/not a token id/);
    expect(() => model.begin([[4, -1]], { maxLen: 4 })).toThrow(RangeError);
    expect(() => model.begin([[]], { maxLen: 4 })).toThrow(/empty source/);
  });
});

describe("decoding", () => {
  const r = rng(5);
  const srcs = [sentence(r, 8), sentence(r, 5), sentence(r, 12)];

  it("beam search with beam 1 equals greedy", () => {
    const g = greedy(model, srcs, { maxLen: 12 });
    const b = beamSearch(model, srcs, { beam: 1, maxLen: 12, lenpen: 1 });
    expect(b.map((h) => h.tokens)).toEqual(g.map((h) => h.tokens));
    b.forEach((h, i) => expect(h.logProb).toBeCloseTo(g[i].logProb, 3));
  });

  it("beam search's log-probs equal the teacher-forced score of its outputs, and beat greedy's", () => {
    const nbest = beamSearchNBest(model, srcs, { beam: 4, maxLen: 10, lenpen: 0 });
    const g = greedy(model, srcs, { maxLen: 10 });
    nbest.forEach((list, i) => {
      expect(list.length).toBeGreaterThan(0);
      for (const h of list.slice(0, 2)) {
        const sc = score(model, [srcs[i]], [h.tokens], 0);
        expect(Math.abs(-sc.nll - h.logProb)).toBeLessThan(1e-3);
      }
      // lenpen 0 ranks by total log-prob: the best beam is at least as likely as greedy
      expect(list[0].logProb).toBeGreaterThanOrEqual(g[i].logProb - 1e-4);
    });
  });

  it("minLen keeps eos away until that many tokens are out (greedy and beam)", () => {
    for (const h of [...greedy(model, srcs, { maxLen: 12, minLen: 6 }), ...beamSearch(model, srcs, { beam: 3, maxLen: 12, minLen: 6 })]) {
      expect(h.tokens.length).toBeGreaterThanOrEqual(6);
      expect(h.tokens).not.toContain(SPECIALS.eos);
    }
  });

  it("score() gives the reference's per-token log-probs and label-smoothed loss", () => {
    const tgt = [sentence(r, 6).slice(0, 5), sentence(r, 3).slice(0, 2)];
    const eps = 0.1;
    const res = score(model, srcs.slice(0, 2), tgt, eps);
    let nll = 0, loss = 0;
    tgt.forEach((y, b) => {
      const m = { tensors: superT, arch, vocabSize: V, positionDims };
      const prev = [SPECIALS.eos, ...y], target = [...y, SPECIALS.eos];
      const logits = refDecode(m, refEncode(m, srcs[b]), prev);
      target.forEach((tok, t) => {
        const row = Array.from(logits.subarray(t * V, (t + 1) * V)), mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
        const lp = row[tok] - lse;
        expect(Math.abs(res.tokenLogProbs[b][t] - lp)).toBeLessThan(1e-4);
        nll += -lp;
        loss += (1 - eps) * -lp + (eps / V) * row.reduce((a, v) => a + (lse - v), 0);
      });
    });
    expect(res.tokens).toBe(tgt[0].length + tgt[1].length + 2);
    expect(Math.abs(res.nll - nll) / nll).toBeLessThan(1e-4);
    expect(Math.abs(res.loss - loss) / loss).toBeLessThan(1e-4);
  });
});

describe("what the wasm memory cannot hold is refused before it is allocated (issue 15, 4)", () => {
  it("profileArch of a SubTransformer whose weights exceed 4 GiB: a WasmMemoryError naming the bytes, no allocation", () => {
    const big = validateArch({
      encoderEmbedDim: SPACE_LIMITS.embedDim, decoderEmbedDim: SPACE_LIMITS.embedDim, encoderLayers: 12, decoderLayers: 12,
      encoderFfnDims: Array(12).fill(SPACE_LIMITS.ffnDim), encoderHeads: Array(12).fill(16),
      decoderFfnDims: Array(12).fill(SPACE_LIMITS.ffnDim), decoderSelfHeads: Array(12).fill(16), decoderCrossHeads: Array(12).fill(16),
      decoderEndeLayers: Array(12).fill(1), qkvDim: SPACE_LIMITS.qkvDim,
    });
    const rss0 = process.memoryUsage().rss, t0 = performance.now();
    expect(() => profileArch(big, protocolOf({ vocab: 1000, runs: 1, warmup: 0 }))).toThrow(WasmMemoryError);
    expect(() => profileArch(big, protocolOf({ vocab: 1000, runs: 1, warmup: 0 }))).toThrow(/this SubTransformer's weights needs \d+ MiB of wasm memory, more than the wasm's 4096 MiB: refused before allocating/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 2 ** 20);
  });

  it("WasmWeights checks the bytes of every tensor and position table before the first copy", () => {
    const wasm = loadWasm(), before = wasm.usedBytes;
    const lying = new Map([["embed.tokens", { shape: [70_000, 16_384], data: new Float32Array(4) }]]);
    expect(() => new WasmWeights(wasm, { tensors: lying, vocabSize: 70_000, positionDims: { encoder: 64, decoder: 64 } })).toThrow(/the model's weights and position tables needs 4\d{3} MiB/);
    expect(wasm.usedBytes).toBe(before);
  });
});
