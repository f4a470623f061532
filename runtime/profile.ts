/**
 * Latency profiling with HAT's protocol (docs/method.md §4): random weights, batch 1, a source
 * of `srcLen` tokens encoded once, then `tgtLen` incremental decoder steps (self-attention cache,
 * output projection included) with the decoder batch replicated to the beam size. Warm up, time
 * `runs` runs, drop the fastest and slowest 10 %, average the rest. Encoder and decoder apart;
 * the decoder's time includes projecting the encoder outputs to cross-attention keys/values.
 */
import type { ValidArch } from "./types.js";
import { SPECIALS } from "./types.js";
import { archTensorShapes, randomTensors } from "./weights.js";
import { loadWasm, wasmBuild, type HatWasm } from "./wasm.js";
import { WasmSubTransformer, WasmWeights } from "./wasm-model.js";

export interface ProfileOptions {
  vocab?: number; // 32768
  srcLen?: number; // 30
  tgtLen?: number; // 30
  beam?: number; // 5
  runs?: number; // 300
  warmup?: number; // 5
  seed?: number;
  /** Called after each timed run. */
  onRun?: (done: number, total: number) => void;
  /** Reuse a wasm instance (its arena is released afterwards). */
  wasm?: HatWasm;
}

export interface ProfileResult {
  encoder_ms: number;
  decoder_ms: number;
  total_ms: number;
  encoder_std_ms: number;
  decoder_std_ms: number;
  runs: number;
  warmup: number;
  trim: number;
  vocab: number;
  src_len: number;
  tgt_len: number;
  beam: number;
  /** Parameters of the SubTransformer, shared embedding counted once. */
  params: number;
  /** Linear memory of the wasm instance after the runs. */
  wasm_memory_bytes: number;
  /** The wasm build measured: hat.wasm (SIMD) or hat-relaxed.wasm (SIMD with fused multiply-add). */
  build: string;
}

/** Mean of the values left after dropping `trim` of them at each end (sorted). */
export function trimmedMean(xs: number[], trim = 0.1): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = Math.floor(s.length * trim);
  const kept = s.slice(k, s.length - k);
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

export function std(xs: number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
}

function checkPositive(name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

/** Measure one architecture in this process's wasm runtime. */
export function profileArch(arch: ValidArch, o: ProfileOptions = {}): ProfileResult {
  const vocab = o.vocab ?? 32768, srcLen = o.srcLen ?? 30, tgtLen = o.tgtLen ?? 30;
  const beam = o.beam ?? 5, runs = o.runs ?? 300, warmup = o.warmup ?? 5;
  checkPositive("vocab", vocab, 8);
  checkPositive("srcLen", srcLen);
  checkPositive("tgtLen", tgtLen);
  checkPositive("beam", beam);
  checkPositive("runs", runs);
  checkPositive("warmup", warmup, 0);
  const shapes = archTensorShapes(arch, vocab);
  const tensors = randomTensors(shapes, o.seed ?? 1);
  let params = 0;
  for (const t of tensors.values()) params += t.data.length;
  const wasm = o.wasm ?? loadWasm();
  const mark = wasm.mark();
  try {
    const weights = new WasmWeights(wasm, {
      tensors, vocabSize: vocab,
      positionDims: { encoder: arch.encoderEmbedDim, decoder: arch.decoderEmbedDim },
    }, Math.max(srcLen, tgtLen));
    const model = new WasmSubTransformer(weights, arch);
    let seed = (o.seed ?? 1) * 7919;
    const tok = () => { seed = (seed * 1103515245 + 12345) >>> 0; return 4 + (seed % (vocab - 4)); };
    const src = [Array.from({ length: srcLen }, tok)];
    const stepTokens = new Int32Array(beam);
    const enc: number[] = [], dec: number[] = [];
    for (let r = 0; r < warmup + runs; r++) {
      const s = model.begin(src, { beam, maxLen: tgtLen });
      const t0 = performance.now();
      stepTokens.fill(SPECIALS.eos);
      for (let t = 0; t < tgtLen; t++) {
        s.step(stepTokens, t);
        for (let b = 0; b < beam; b++) stepTokens[b] = tok();
      }
      const steps = performance.now() - t0;
      s.release();
      if (r >= warmup) {
        enc.push(s.timings.encodeMs);
        dec.push(s.timings.crossKvMs + steps);
        o.onRun?.(r - warmup + 1, runs);
      }
    }
    const encoder_ms = trimmedMean(enc), decoder_ms = trimmedMean(dec);
    return {
      encoder_ms, decoder_ms, total_ms: encoder_ms + decoder_ms,
      encoder_std_ms: std(enc), decoder_std_ms: std(dec),
      runs, warmup, trim: 0.1, vocab, src_len: srcLen, tgt_len: tgtLen, beam, params,
      wasm_memory_bytes: wasm.memoryBytes, build: o.wasm ? "(caller's instance)" : wasmBuild(),
    };
  } finally {
    wasm.release(mark);
  }
}
