/**
 * The held-out check a predictor owes its users (docs/method.md §5: searched models came out
 * slower than their constraint, and nobody had checked the predictor): fresh random architectures
 * of the predictor's space, none of them in its training data, measured here with the protocol
 * the predictor's data was measured with, against the predictions.
 */
import { archKey } from "../runtime/arch-features.js";
import { largestArch, sampleArch } from "../runtime/arch-sample.js";
import { mulberry32 } from "../runtime/rng.js";
import type { ValidArch } from "../runtime/types.js";
import { DEFAULT_PROTOCOL, type Protocol } from "../runtime/protocol.js";
import { wasmMeasure, type Measure } from "./campaign.js";
import { metrics, type Metrics } from "./metrics.js";
import { PredictorError, type Predictor } from "./predictor.js";

export interface VerifyOptions {
  samples: number;
  seed?: number;
  /** Architecture keys (archKey) to leave out: the training data's. */
  exclude?: ReadonlySet<string>;
  /**
   * Default: the predictor's own protocol. Its rounds: measure each architecture this many times
   * (passes over the list) and keep the fastest, as a campaign does.
   */
  protocol?: Protocol;
  measure?: Measure;
  log?: (line: string) => void;
}

export interface VerifyResult {
  archs: ValidArch[];
  measured: number[];
  predicted: number[];
  metrics: Metrics;
  protocol: Protocol;
}

export async function verifyPredictor(p: Predictor, o: VerifyOptions): Promise<VerifyResult> {
  if (!p.space) throw new PredictorError("the predictor has no space to draw architectures from (fit it with --space)");
  const protocol = o.protocol ?? p.protocol;
  if (!protocol) throw new PredictorError(`the predictor does not say how its data was measured (no protocol): HAT's datasets were measured elsewhere; verify needs a campaign's predictor, or give the protocol (defaults ${JSON.stringify(DEFAULT_PROTOCOL)})`);
  const log = o.log ?? (() => {});
  const measure = o.measure ?? wasmMeasure();
  const rng = mulberry32(o.seed ?? 1000);
  const archs: ValidArch[] = [];
  const seen = new Set<string>();
  for (let draws = 0; archs.length < o.samples && draws < 1000 * o.samples; draws++) {
    const a = sampleArch(p.space, rng), k = archKey(a);
    if (seen.has(k) || o.exclude?.has(k)) continue;
    seen.add(k);
    archs.push(a);
  }
  if (archs.length < o.samples) log(`only ${archs.length} architectures of the space are not in the training data`);
  const predicted = Array.from(p.predict(archs));
  measure(largestArch(p.space), { ...protocol, runs: Math.max(10, Math.min(protocol.runs, 30)) }); // warm-up, unrecorded
  const measured = archs.map(() => Infinity);
  const rounds = protocol.rounds;
  for (let round = 0; round < rounds; round++) {
    archs.forEach((a, i) => {
      const m = measure(a, protocol);
      measured[i] = Math.min(measured[i], m.encoder_ms + m.decoder_ms);
      if (round === rounds - 1) log(`[${i + 1}/${archs.length}] measured ${measured[i].toFixed(3)} ms, predicted ${predicted[i].toFixed(3)} ms (${(100 * (predicted[i] - measured[i]) / measured[i]).toFixed(1)} %)`);
    });
  }
  return { archs, measured, predicted, metrics: metrics(measured, predicted), protocol };
}
