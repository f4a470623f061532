/**
 * Latency profiling with HAT's protocol (docs/method.md §4): random weights, batch 1, a source
 * of `src_len` tokens encoded once, then `tgt_len` incremental decoder steps (self-attention cache,
 * output projection included) with the decoder batch replicated to the beam size. Warm up, time
 * `runs` runs, drop the fastest and slowest `trim` (10 %), average the rest (runtime/protocol.ts).
 * Encoder and decoder apart; the decoder's time includes projecting the encoder outputs to cross-attention keys/values.
 * The products are the protocol's `quant` (f32, or int8 on the random matrices quantized as a model's are;
 * linear8 / kmeans8 / kmeans4: the random matrices quantized as `hat quantize` would, dequantized, f32 products).
 */
import type { ValidArch } from "./types.js";
import { SPECIALS } from "./types.js";
import { checkProtocol, DEFAULT_PROTOCOL, type Protocol } from "./protocol.js";
import { isQuantizable, kmeansQuantize, quantForm, tensorOfForm, type KmeansTensor } from "./quant.js";
import { archTensorShapes, randomTensorSteps } from "./weights.js";
import { checkWasmFits, type HatWasm } from "./wasm.js";
import { ThreadsError } from "./threads.js";
import { loadWasm, preparedThreads, prepareThreads, wasmBuild } from "./wasm-node.js";
import { WasmSubTransformer, WasmWeights, weightsWasmBytes } from "./wasm-model.js";

/** What a measurement takes besides its protocol. */
export interface ProfileOptions {
  /** Seed of the random weights and tokens (default 1). */
  seed?: number;
  /** Called after each timed run. */
  onRun?: (done: number, total: number) => void;
  /** Reuse a wasm instance (its arena is released afterwards). */
  wasm?: HatWasm;
  /** The build of `wasm`, recorded in the result's protocol (default: the protocol's, else "(caller's instance)"). */
  build?: string;
}

/** One measurement: encoder and decoder latency (ms, the protocol's statistic) and their run-to-run spread. */
export interface Measurement {
  encoder_ms: number;
  decoder_ms: number;
  encoder_std_ms: number;
  decoder_std_ms: number;
}

export interface ProfileResult extends Measurement {
  total_ms: number;
  /** The protocol measured, with the build that ran. */
  protocol: Protocol;
  /** Parameters of the SubTransformer, shared embedding counted once. */
  params: number;
  /** Linear memory of the wasm instance after the runs. */
  wasm_memory_bytes: number;
}

/** The fastest (by total) of the protocol's `rounds` measurements of `arch`, back to back. */
export function profileFastest(arch: ValidArch, protocol: Protocol, o: ProfileOptions = {}): ProfileResult {
  let best = profileArch(arch, protocol, o);
  for (let r = 1; r < protocol.rounds; r++) {
    const m = profileArch(arch, protocol, o);
    if (m.total_ms < best.total_ms) best = m;
  }
  return best;
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

/**
 * One round of the protocol for one architecture in this process's wasm runtime (the caller
 * measures `rounds` of them and keeps the fastest: profileFastest, agent/profiler.ts, latency/campaign.ts).
 */
export function profileArch(arch: ValidArch, protocol: Protocol = DEFAULT_PROTOCOL, o: ProfileOptions = {}): ProfileResult {
  const g = profileSteps(arch, protocol, o);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** Options of the yielding measurement: how long it may hold the event loop. */
export interface YieldingOptions extends ProfileOptions {
  /**
   * Hand the event loop back (a macrotask: timers, I/O) after a timed run once this many ms have
   * passed since the last time (default 250). Between runs only: no run's timing includes it.
   */
  sliceMs?: number;
  /**
   * profileFastestYielding: a pause this long (ms) between rounds, so that they are taken at
   * different moments as a campaign's are (its rounds go across the lease's batch); back-to-back
   * rounds share one slow spell. Default 0.
   */
  roundGapMs?: number;
}

const DEFAULT_SLICE_MS = 250;
const nextMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));
/** When a yielding measurement last gave the event loop back: shared, so back-to-back short measurements yield too. */
let lastYield = performance.now();

/**
 * profileArch, giving the event loop back (every `sliceMs`, counted across calls, so a loop of
 * short measurements yields too) between runs and between a run's decoder steps, so timers and
 * I/O run while a long architecture is measured (the agent's heartbeats: agent/profiler.ts; one
 * run of the largest WMT SubTransformer takes 1.3 s here, several on a loaded machine). A pause
 * inside a run is not counted in its time. The same runs and statistic as profileArch.
 */
export async function profileArchYielding(arch: ValidArch, protocol: Protocol = DEFAULT_PROTOCOL, o: YieldingOptions = {}): Promise<ProfileResult> {
  const slice = o.sliceMs ?? DEFAULT_SLICE_MS;
  const clock = { pausedMs: 0 };
  if (!o.wasm && protocol.threads > 1) await prepareThreads(protocol.threads);
  const g = profileSteps(arch, protocol, o, clock);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    const t = performance.now();
    if (t - lastYield >= slice) {
      await nextMacrotask();
      lastYield = performance.now();
      clock.pausedMs += lastYield - t;
    }
  }
}

/** profileFastest with profileArchYielding. */
export async function profileFastestYielding(arch: ValidArch, protocol: Protocol, o: YieldingOptions = {}): Promise<ProfileResult> {
  let best = await profileArchYielding(arch, protocol, o);
  for (let r = 1; r < protocol.rounds; r++) {
    if (o.roundGapMs) await new Promise<void>((resolve) => setTimeout(resolve, o.roundGapMs));
    const m = await profileArchYielding(arch, protocol, o);
    if (m.total_ms < best.total_ms) best = m;
  }
  return best;
}

/**
 * The measurement as steps: yields after each random tensor, after building the weights and
 * after every run (warm-up and timed), and with a `clock` after each decoder step too (the time
 * the driver paused there, clock.pausedMs, is taken out of the run's); returns the result.
 * profileArch runs it through; profileArchYielding pauses between steps.
 */
function* profileSteps(arch: ValidArch, protocol: Protocol, o: ProfileOptions, clock?: { pausedMs: number }): Generator<void, ProfileResult> {
  const p = checkProtocol(protocol);
  const { vocab, beam, runs, warmup } = p, S = p.src_len, T = p.tgt_len; // source tokens, decoder steps
  const shapes = archTensorShapes(arch, vocab);
  const positionDims = { encoder: arch.encoderEmbedDim, decoder: arch.decoderEmbedDim };
  // the instance first: a protocol of threads it does not run is refused before any work
  const wasm = o.wasm ?? (p.threads === 1 ? loadWasm() : preparedThreads(p.threads));
  if (!wasm) throw new ThreadsError(`measuring on ${p.threads} threads needs this process's threaded runtime started first (await prepareThreads(${p.threads}))`);
  if (wasm.threads !== p.threads) {
    throw new ThreadsError(`the protocol measures on ${p.threads} thread${p.threads === 1 ? "" : "s"} but the runtime instance runs ${wasm.threads} (loadWasmThreads(${p.threads}))`);
  }
  // the bytes first: an arch too large for the wasm is refused before its weights are made on the host
  checkWasmFits(weightsWasmBytes(shapes.values(), Math.max(S, T) + 2, positionDims), "this SubTransformer's weights", o.wasm);
  const tensors = yield* randomTensorSteps(shapes, o.seed ?? 1); // a step a tensor: the largest WMT SubTransformer's take 1.6 s
  const form = quantForm(p.quant), quantized = new Map<string, KmeansTensor>();
  if (form) { // linear8, kmeans8, kmeans4: as hat quantize would, a step a tensor (k-means of the WMT embedding: seconds)
    for (const [name, t] of tensors) {
      if (form.method === "kmeans" && isQuantizable(t)) quantized.set(name, kmeansQuantize(t, { bits: form.bits })); // run on its packed indices
      else tensors.set(name, tensorOfForm(name, t, p.quant));
      yield;
    }
  }
  let params = 0;
  for (const t of tensors.values()) params += t.data.length;
  yield;
  const mark = wasm.mark();
  try {
    const weights = new WasmWeights(wasm, {
      tensors, vocabSize: vocab,
      positionDims,
    }, Math.max(S, T), { quant: p.quant, formed: true, quantized }); // int8: the random matrices quantized linearly at 8 bits per output channel, as a model's are (runtime/wasm-model.ts)
    const model = new WasmSubTransformer(weights, arch);
    let seed = (o.seed ?? 1) * 7919;
    const tok = () => { seed = (seed * 1103515245 + 12345) >>> 0; return 4 + (seed % (vocab - 4)); };
    const src = [Array.from({ length: S }, tok)];
    const stepTokens = new Int32Array(beam);
    const enc: number[] = [], dec: number[] = [];
    for (let r = 0; r < warmup + runs; r++) {
      const s = model.begin(src, { beam, maxLen: T });
      const paused0 = clock?.pausedMs ?? 0;
      const t0 = performance.now();
      stepTokens.fill(SPECIALS.eos);
      for (let t = 0; t < T; t++) {
        s.step(stepTokens, t);
        for (let b = 0; b < beam; b++) stepTokens[b] = tok();
        if (clock) yield;
      }
      const steps = performance.now() - t0 - ((clock?.pausedMs ?? 0) - paused0);
      s.release();
      if (r >= warmup) {
        enc.push(s.timings.encodeMs);
        dec.push(s.timings.crossKvMs + steps);
        o.onRun?.(r - warmup + 1, runs);
      }
      yield;
    }
    const encoder_ms = trimmedMean(enc, p.trim), decoder_ms = trimmedMean(dec, p.trim);
    const build = o.wasm ? o.build ?? o.wasm.build ?? p.build ?? "(caller's instance)" : wasm.build ?? wasmBuild();
    return {
      encoder_ms, decoder_ms, total_ms: encoder_ms + decoder_ms,
      encoder_std_ms: std(enc), decoder_std_ms: std(dec),
      protocol: { ...p, build }, params, wasm_memory_bytes: wasm.memoryBytes,
    };
  } finally {
    wasm.release(mark);
  }
}
