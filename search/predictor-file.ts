/**
 * Latency predictors for the search, from files: a fitted `Predictor`
 * (latency/predictor.ts) behind the search's small `LatencyModel` interface, with what the
 * search and its report need besides predictions: the device's name, the space the predictor
 * was fitted on, its held-out test set and the measurement protocol.
 */
import type { Quant, Protocol } from "../runtime/protocol.js";
import type { Arch, Space } from "../runtime/types.js";
import { deviceLabel, sameDevice, type DeviceInfo } from "../latency/dataset.js";
import { Predictor } from "../latency/predictor.js";
import type { LatencyModel } from "./constraint.js";
import { InputError } from "../runtime/errors.js";

/** Bad input to a search: a malformed predictor file, a space mismatch, missing data. CLI exit code 2. */
export class SearchInputError extends InputError {
  override name = "SearchInputError";
}

/** A predictor ready for the search. */
export interface LatencySource {
  path: string;
  name: string;
  model: LatencyModel;
  /** The space the predictor was fitted on, when it says. */
  space?: Space;
  testSet?: { measured: number[]; predicted: number[] };
  /** How the predictor's data was measured, when it says. */
  protocol?: Protocol;
  /** Where its data was measured: a machine (DeviceInfo), or only a name. */
  device?: DeviceInfo | string;
}

/** What the search uses of a Predictor (latency/predictor.ts), so that stand-ins can take its place. */
export interface PredictorLike {
  predict(archs: readonly Arch[]): Float64Array;
  readonly device?: unknown;
  readonly space?: Space;
  readonly testSet?: { measured: number[]; predicted: number[] };
  readonly protocol?: Protocol;
}

/** One line naming a device: a string as it is, a DeviceInfo as "CPU xN (arch platform)". */
export function deviceName(d: unknown, fallback: string): string {
  if (typeof d === "string" && d) return d;
  if (d && typeof d === "object" && "cpu" in d) return deviceLabel(d as DeviceInfo);
  return fallback;
}

/** Read a predictor file; every problem with the file is a SearchInputError naming it. */
export async function loadPredictorFile(path: string): Promise<LatencySource> {
  try {
    return fromPredictor(await Predictor.load(path), path);
  } catch (e) {
    const err = e as Error;
    if (err.name === "PredictorError" || err.name === "ArchError") throw new SearchInputError(err.message.startsWith(path) ? err.message : `${path}: ${err.message}`);
    throw e;
  }
}

/** A LatencySource from a Predictor-like object (also what tests build from stand-ins). */
export function fromPredictor(p: PredictorLike, path = "(in memory)"): LatencySource {
  return {
    path, name: deviceName(p.device, path), model: { predict: (archs) => p.predict(archs) },
    space: p.space, testSet: p.testSet, protocol: p.protocol, device: isDeviceInfo(p.device) || typeof p.device === "string" ? p.device : undefined,
  };
}

function isDeviceInfo(d: unknown): d is DeviceInfo {
  return typeof d === "object" && d !== null && "cpu" in d && "cores" in d && "arch" in d && "platform" in d;
}

/**
 * The predictor learnt latencies of the model's own workload (docs/method.md §4): the output
 * projection over the vocabulary is a large part of a decoder step, so a predictor measured at
 * another vocabulary predicts another model. Refused with both values; a predictor that does not
 * say its protocol (HAT's datasets) is taken with a warning.
 */
export function checkPredictorVocab(s: LatencySource, vocab: number, model: string, log: (line: string) => void): void {
  if (!s.protocol) {
    log(`warning: ${s.path} does not say how its latencies were measured; it is trusted to be at this model's vocabulary (${vocab})`);
    return;
  }
  if (s.protocol.vocab !== vocab) {
    throw new SearchInputError(`the predictor ${s.path} learnt latencies measured at vocabulary ${s.protocol.vocab}, but ${model} has vocabulary ${vocab}: measure a campaign at vocabulary ${vocab} (hat profile-campaign --supernet MODEL, or the server's campaign with "supernet")`);
  }
}

/**
 * The predictor learnt latencies of the products the deployment will run (the protocol's quant,
 * docs/latency.md): int8 products take a fraction of f32's time, so a predictor measured at one
 * predicts nothing about the other. Refused with both values; a predictor that does not say its
 * protocol (HAT's datasets) is taken as f32, with a warning when the target is not f32.
 */
export function checkPredictorQuant(s: LatencySource, quant: Quant, what: string, log: (line: string) => void): void {
  const learnt = s.protocol?.quant;
  if (learnt === undefined) {
    if (quant !== "f32") log(`warning: ${s.path} does not say how its latencies were measured (HAT's f32 products, most likely); ${what} targets ${quant} products`);
    return;
  }
  if (learnt !== quant) {
    throw new SearchInputError(`the predictor ${s.path} learnt latencies of ${learnt} products, but ${what} targets ${quant} products: search for ${learnt} (hat search --quant ${learnt}; the search job's "quant"), or measure a campaign at ${quant} (hat profile-campaign --quant ${quant}; the campaign job's "protocol": {"quant": "${quant}"}) and fit on it`);
  }
}

/** The predictor learnt latencies on `threads` threads (a predictor that does not say: 1, as every measurement was before threads). */
export function checkPredictorThreads(s: LatencySource, threads: number, what: string): void {
  const learnt = s.protocol?.threads ?? 1;
  if (learnt !== threads) {
    throw new SearchInputError(`the predictor ${s.path} learnt latencies on ${learnt} thread${learnt === 1 ? "" : "s"}, but ${what} targets ${threads}: search with --threads ${learnt} (the search job's "threads"), or measure a campaign on ${threads} threads (hat profile-campaign --threads ${threads}; the campaign job's "protocol": {"threads": ${threads}}) and fit on it`);
  }
}

/**
 * A measurement here checks the predictor only when its data was measured on this machine: a
 * predictor of another device is refused, naming both; one that names no machine gets a warning.
 */
export function checkMeasuredHere(s: LatencySource, here: DeviceInfo, log: (line: string) => void): void {
  if (isDeviceInfo(s.device)) {
    if (!sameDevice(s.device, here)) throw new SearchInputError(`--measure: the predictor ${s.path} is for ${deviceLabel(s.device)}, and this machine is ${deviceLabel(here)}: a latency measured here says nothing about that device (measure on it, or leave --measure out)`);
    return;
  }
  log(`warning: ${s.path} does not say which machine measured its data${s.device ? ` (only "${s.device}")` : ""}; measuring here as if it were this one (${deviceLabel(here)})`);
}

const CHOICE_KEYS = [
  "encoderEmbedChoices", "decoderEmbedChoices", "encoderFfnChoices", "decoderFfnChoices", "encoderLayerChoices",
  "decoderLayerChoices", "encoderHeadChoices", "decoderSelfHeadChoices", "decoderCrossHeadChoices", "endeLayerChoices",
] as const;

/**
 * The SuperTransformer's space must lie inside the predictor's (every choice one the predictor was
 * fitted on, same qkv-dim): a predictor says nothing reliable about dimensions it never saw.
 */
export function checkSpaceCovered(supernet: Space, predictor: Space, what: string): void {
  if (supernet.qkvDim !== predictor.qkvDim) {
    throw new SearchInputError(`the SuperTransformer's space differs from the space of ${what}: qkvDim ${supernet.qkvDim} vs ${predictor.qkvDim}`);
  }
  for (const k of CHOICE_KEYS) {
    const missing = supernet[k].filter((v) => !predictor[k].includes(v));
    if (missing.length > 0) {
      throw new SearchInputError(
        `the SuperTransformer's space differs from the space of ${what}: ${k} [${supernet[k].join(", ")}] includes ${missing.join(", ")}, which the predictor was not fitted on ([${predictor[k].join(", ")}])`,
      );
    }
  }
}
