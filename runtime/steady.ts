/**
 * Measurements that survive a noisy machine (issue 12 item 2). A shared VM's speed drifts (here
 * ~1.7-2x over minutes: one SubTransformer measured 4.24, 3.07 and 2.52 ms in three consecutive
 * runs), and a latency taken in a slow minute is a wrong latency. So every measurement is framed
 * by a fixed *reference* measurement that gauges how fast the machine is right then:
 *
 *   - REFERENCE_ARCH, a small constant SubTransformer (embed 64, one encoder and one decoder
 *     layer), measured with referenceProtocol(p): 20 runs after 2 warm-up of a 10-token source
 *     and 10 decoder steps at beam 5, the vocabulary min(p.vocab, REFERENCE_VOCAB_CAP), the same
 *     statistic (trimmed mean) and build, f32 products whatever p's quant (it gauges the machine,
 *     one baseline for a process's f32 and int8 measurements). It does not depend on the campaign's space and costs
 *     ~15-20 ms here (a demo-space measurement of 100 runs: 300-500 ms; of wmt14: seconds).
 *   - measureSteady(arch, p, o): the reference right before and right after the measurement (a
 *     reference taken less than REFERENCE_REUSE_MS before serves as the "before": back-to-back
 *     measurements share it), `ref_ms` = their mean, and `speed` = ref_ms / the gauge's baseline
 *     (>1: the machine is slower now than usual; 1.3: the reference took 30 % longer).
 *   - SpeedGauge: the baseline, the median of every reference timing seen so far by this process
 *     (per reference protocol), so the first measurements bootstrap it; a process started in a
 *     slow minute corrects itself as timings accumulate (the median of the campaign).
 *   - A measurement taken at speed > 1 + STEADY_TOLERANCE (15 %) is measured again (reference,
 *     measurement, reference), after a pause of REMEASURE_PAUSE_MS, at most MAX_REMEASURES times;
 *     of the attempts the one taken at the lowest speed is kept, and it carries its speed either
 *     way (a row still taken at 1.4 after the retries says so). No verdict before the gauge holds
 *     MIN_BASELINE timings (the first measurement has nothing to be slower than); primeGauge,
 *     after a process's warm-up, times the reference that often first.
 *
 * Everything is injectable (the measurement, the reference, the clock, the pause) for tests.
 * The rows of campaigns and fleets carry `speed` and `ref_ms` (latency/dataset.ts columns,
 * runtime/fleet-protocol.ts fields), so a fit can use them (docs/latency.md "Steady measurements").
 */
import { validateArch } from "./arch.js";
import { profileArchYielding, profileFastestYielding, type ProfileResult, type YieldingOptions } from "./profile.js";
import { checkProtocol, type Protocol } from "./protocol.js";
import type { ValidArch } from "./types.js";

/** A measurement taken while the reference ran more than this fraction slower than its baseline is measured again. */
export const STEADY_TOLERANCE = 0.15;
/** At most this many re-measurements of one measurement. */
export const MAX_REMEASURES = 2;
/** The pause before a re-measurement (a slow spell of a few hundred ms may pass). */
export const REMEASURE_PAUSE_MS = 500;
/** Reference timings the gauge needs before it judges a measurement slow. */
export const MIN_BASELINE = 4;
/** A reference timing this recent serves as the next measurement's "before". */
export const REFERENCE_REUSE_MS = 1000;
/** The reference's vocabulary: the protocol's, at most this (its output projection is part of every step). */
export const REFERENCE_VOCAB_CAP = 1024;

/** The reference SubTransformer: constant, small, cheap. */
export const REFERENCE_ARCH: ValidArch = validateArch({
  encoderEmbedDim: 64, decoderEmbedDim: 64, encoderLayers: 1, decoderLayers: 1,
  encoderFfnDims: [128], encoderHeads: [2], decoderFfnDims: [128], decoderSelfHeads: [2], decoderCrossHeads: [2],
  decoderEndeLayers: [1], qkvDim: 64,
});

/** How the reference is measured alongside a measurement with protocol `p`. */
export function referenceProtocol(p: Protocol): Protocol {
  return checkProtocol({
    runs: 20, warmup: 2, vocab: Math.min(p.vocab, REFERENCE_VOCAB_CAP), src_len: 10, tgt_len: 10, beam: 5,
    trim: p.trim, rounds: 1, keep: "fastest", threads: p.threads, quant: "f32", ...(p.build !== undefined ? { build: p.build } : {}),
  });
}

const referenceKey = (p: Protocol): string => {
  const r = referenceProtocol(p);
  return `${r.vocab}/${r.trim}/${r.build ?? ""}`;
};

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length & 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** The reference timings of this process, per reference protocol: the baseline is their median. */
export class SpeedGauge {
  private readonly seen = new Map<string, { all: number[]; last?: { ms: number; at: number } }>();

  /** `now`: the clock (ms) that dates timings, for reuse (default performance.now). */
  constructor(readonly now: () => number = () => performance.now()) {}

  private of(p: Protocol) {
    const k = referenceKey(p);
    let e = this.seen.get(k);
    if (!e) this.seen.set(k, (e = { all: [] }));
    return e;
  }

  /** Record a reference timing (ms) taken alongside protocol `p`. */
  record(p: Protocol, ms: number): void {
    if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`a reference timing must be a positive number of ms, got ${ms}`);
    const e = this.of(p);
    e.all.push(ms);
    e.last = { ms, at: this.now() };
  }

  /** The median of the timings so far (undefined before the first). */
  baseline(p: Protocol): number | undefined {
    const all = this.of(p).all;
    return all.length ? median(all) : undefined;
  }

  count(p: Protocol): number {
    return this.of(p).all.length;
  }

  /** The last timing, if taken less than `withinMs` ago. */
  recent(p: Protocol, withinMs: number): number | undefined {
    const l = this.of(p).last;
    return l && this.now() - l.at < withinMs ? l.ms : undefined;
  }
}

export interface SteadyOptions<R> {
  gauge: SpeedGauge;
  /** One measurement of `arch` (default: profileFastestYielding with `profile`, i.e. the protocol's rounds). */
  measure?: (arch: ValidArch, p: Protocol) => R | Promise<R>;
  /** One reference timing, ms (default: REFERENCE_ARCH with referenceProtocol(p), total, profileArchYielding with `profile`). */
  reference?: (p: Protocol) => number | Promise<number>;
  /** For the default measure and reference: the wasm instance, build, slices. */
  profile?: YieldingOptions;
  tolerance?: number;
  maxRemeasures?: number;
  pauseMs?: number;
  /** The pause (default: a timer). */
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

export interface SteadyResult<R> {
  /** The measurement kept: the attempt at the lowest speed. */
  result: R;
  /** Its reference (mean of before and after) over the baseline; >1: the machine was slower than usual. */
  speed: number;
  /** Its reference timing, ms (mean of the timings before and after). */
  ref_ms: number;
  /** Re-measurements made (0..maxRemeasures). */
  remeasured: number;
  /** Every attempt's speed, in order. */
  speeds: number[];
}

/**
 * Time the reference until the gauge holds `n` timings for `protocol` (default MIN_BASELINE):
 * after a process's warm-up, so that its first measurements can be judged too.
 */
export async function primeGauge(gauge: SpeedGauge, protocol: Protocol, o: Pick<SteadyOptions<unknown>, "reference" | "profile"> = {}, n = MIN_BASELINE): Promise<void> {
  const refP = referenceProtocol(protocol);
  const reference = o.reference ?? (async () => (await profileArchYielding(REFERENCE_ARCH, refP, o.profile)).total_ms);
  while (gauge.count(protocol) < n) gauge.record(protocol, await reference(protocol));
}

/** Measure `arch` framed by the reference; re-measure (bounded) while the machine runs slow (see the file's header). */
export async function measureSteady<R = ProfileResult>(arch: ValidArch, protocol: Protocol, o: SteadyOptions<R>): Promise<SteadyResult<R>> {
  const { gauge } = o;
  const tolerance = o.tolerance ?? STEADY_TOLERANCE, maxRemeasures = o.maxRemeasures ?? MAX_REMEASURES;
  const pauseMs = o.pauseMs ?? REMEASURE_PAUSE_MS;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const measure = o.measure ?? ((a: ValidArch, p: Protocol) => profileFastestYielding(a, p, o.profile) as Promise<R>);
  const refP = referenceProtocol(protocol);
  const reference = o.reference ?? (async () => (await profileArchYielding(REFERENCE_ARCH, refP, o.profile)).total_ms);
  const timeRef = async (): Promise<number> => {
    const ms = await reference(protocol);
    gauge.record(protocol, ms);
    return ms;
  };

  let best: SteadyResult<R> | undefined;
  const speeds: number[] = [];
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(pauseMs);
    const before = (attempt === 0 ? gauge.recent(protocol, REFERENCE_REUSE_MS) : undefined) ?? await timeRef();
    const result = await measure(arch, protocol);
    const after = await timeRef();
    const ref_ms = (before + after) / 2;
    const speed = ref_ms / gauge.baseline(protocol)!;
    speeds.push(speed);
    if (!best || speed < best.speed) best = { result, speed, ref_ms, remeasured: attempt, speeds };
    const judged = gauge.count(protocol) >= MIN_BASELINE;
    if (!judged || speed <= 1 + tolerance || attempt >= maxRemeasures) {
      best.remeasured = attempt;
      return best;
    }
    o.log?.(`the reference ran ${((speed - 1) * 100).toFixed(0)} % slower than its baseline (${ref_ms.toFixed(3)} vs ${gauge.baseline(protocol)!.toFixed(3)} ms): measuring again (${attempt + 1} of ${maxRemeasures})`);
  }
}

/**
 * A latency at the machine's usual speed (docs/method.md §11): measured / speed when the machine
 * ran slower than its baseline (speed > 1: something else took the CPU meanwhile), as measured
 * otherwise. Contention only ever slows a measurement down: a factor below 1 says the baseline
 * itself was taken in slower minutes (seen here: 0.72 while the model measured as it had a minute
 * before), not that the model ran faster than it can, so it never scales a latency up. Without a
 * factor, the latency as measured.
 */
export function atUsualSpeed(ms: number, speed: number | null | undefined): number {
  return speed !== undefined && speed !== null && speed > 1 ? ms / speed : ms;
}
