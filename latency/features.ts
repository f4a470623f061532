/**
 * What a latency predictor sees of an architecture.
 *
 *   - "hat": HAT's 10 features (docs/method.md §5): embed dims, layer counts and per-layer
 *     averages.
 *   - "sums": the 10, then 12 per-stack sums computed from them. Latency is a sum over layers, and
 *     an average divided by the layer count hides it: `layers x average` is the stack's total (FFN
 *     units, heads, encoder layers attended) and `layers x embed x average FFN` its FFN work. On
 *     HAT's Raspberry Pi data, least squares on these 22 reaches about 52 ms RMSE where it reaches
 *     about 165-190 ms on the 10 (docs/latency.md). They need nothing beyond the 10, so HAT's
 *     datasets have them.
 *   - "layers": the 22, then every layer's own choices: per encoder layer i < Le_max [FFN dim,
 *     heads], per decoder layer j < Ld_max [FFN dim, self heads, cross heads, encoder layers
 *     attended]; zeros for layers the architecture does not have (real values are positive, so
 *     zero also says the layer is absent). Needs the full architecture, which our datasets carry
 *     and HAT's do not.
 *
 * The encoders here are the hot path of prediction in the search (>= 100k architectures/s): they
 * write into a caller's Float64Array and allocate nothing. `checkInSpace` is the fast form of
 * archInSpace (runtime/arch.ts) for the same reason.
 */
import { ArchError } from "../runtime/arch-error.js";
import { HAT_FEATURE_NAMES, type Arch, type Space } from "../runtime/types.js";
import type { LatencyRow } from "./dataset.js";

export type FeatureKind = "hat" | "sums" | "layers";
export const FEATURE_KINDS: readonly FeatureKind[] = ["hat", "sums", "layers"];

/** Names of the 12 per-stack sums of the "sums" encoding (L: layers, D: embed dim, F, H, K: averages). */
export const SUM_FEATURE_NAMES = [
  "enc_sum_embed", // Le De
  "enc_sum_ffn", // Le Fe
  "enc_sum_heads", // Le He
  "enc_sum_embed_x_ffn", // Le De Fe
  "dec_sum_embed", // Ld Dd
  "dec_sum_ffn", // Ld Fd
  "dec_sum_self_heads", // Ld Hs
  "dec_sum_cross_heads", // Ld Hc
  "dec_sum_ende_layers", // Ld K
  "dec_sum_embed_x_ffn", // Ld Dd Fd
  "dec_sum_ende_x_enc_embed", // Ld K De: cross-attention keys/values projected from the encoder
  "dec_sum_embed_sq", // Ld Dd^2
] as const;

export interface FeatureSpec {
  kind: FeatureKind;
  /** Layer slots of the "layers" encoding (the space's largest layer counts). */
  maxEncoderLayers: number;
  maxDecoderLayers: number;
}

/** HAT's fixed feature normalisation [640, 6, 2048, 6, 640, 6, 2048, 6, 6, 2] (for reference: we fit ours on the training split). */
export const HAT_FEATURE_NORM = [640, 6, 2048, 6, 640, 6, 2048, 6, 6, 2] as const;

/**
 * The space HAT's published latency datasets were sampled from, as read off their feature
 * values (../shared/data/hat-latency): wider than the search spaces (FFN 512..3072, heads 2..8),
 * so both the WMT'14 and the IWSLT'14 search spaces lie inside it.
 */
export const HAT_LATENCY_SPACE: Space = Object.freeze({
  encoderEmbedChoices: [640, 512],
  decoderEmbedChoices: [640, 512],
  encoderFfnChoices: [3072, 2048, 1024, 512],
  decoderFfnChoices: [3072, 2048, 1024, 512],
  encoderLayerChoices: [6],
  decoderLayerChoices: [6, 5, 4, 3, 2, 1],
  encoderHeadChoices: [8, 4, 2],
  decoderSelfHeadChoices: [8, 4, 2],
  decoderCrossHeadChoices: [8, 4, 2],
  endeLayerChoices: [1, 2, 3],
  qkvDim: 512,
});

export function featureCount(s: FeatureSpec): number {
  return s.kind === "hat" ? 10 : s.kind === "sums" ? 22 : 22 + 2 * s.maxEncoderLayers + 4 * s.maxDecoderLayers;
}

export function featureNames(s: FeatureSpec): string[] {
  const names: string[] = [...HAT_FEATURE_NAMES];
  if (s.kind !== "hat") names.push(...SUM_FEATURE_NAMES);
  if (s.kind === "layers") {
    for (let i = 0; i < s.maxEncoderLayers; i++) names.push(`enc${i}_ffn`, `enc${i}_heads`);
    for (let j = 0; j < s.maxDecoderLayers; j++) names.push(`dec${j}_ffn`, `dec${j}_self_heads`, `dec${j}_cross_heads`, `dec${j}_ende_layers`);
  }
  return names;
}

/** The feature spec for `kind` fitted to a space, or to the architectures at hand. */
export function featureSpec(kind: FeatureKind, space?: Space, archs: readonly Arch[] = []): FeatureSpec {
  const maxE = Math.max(0, ...(space?.encoderLayerChoices ?? []), ...archs.map((a) => a.encoderLayers));
  const maxD = Math.max(0, ...(space?.decoderLayerChoices ?? []), ...archs.map((a) => a.decoderLayers));
  return { kind, maxEncoderLayers: kind === "layers" ? maxE : 0, maxDecoderLayers: kind === "layers" ? maxD : 0 };
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

/** Write the 12 per-stack sums after the 10 HAT features at out[off .. off+9]. */
function writeSums(out: Float64Array, off: number): void {
  const De = out[off], Le = out[off + 1], Fe = out[off + 2], He = out[off + 3];
  const Dd = out[off + 4], Ld = out[off + 5], Fd = out[off + 6], Hs = out[off + 7], Hc = out[off + 8], K = out[off + 9];
  const o = off + 10;
  out[o] = Le * De;
  out[o + 1] = Le * Fe;
  out[o + 2] = Le * He;
  out[o + 3] = Le * De * Fe;
  out[o + 4] = Ld * Dd;
  out[o + 5] = Ld * Fd;
  out[o + 6] = Ld * Hs;
  out[o + 7] = Ld * Hc;
  out[o + 8] = Ld * K;
  out[o + 9] = Ld * Dd * Fd;
  out[o + 10] = Ld * K * De;
  out[o + 11] = Ld * Dd * Dd;
}

/** Write the features of `a` at out[off ..]. Architectures with more layers than the spec's slots throw. */
export function encodeArch(a: Arch, s: FeatureSpec, out: Float64Array, off: number): void {
  const Le = a.encoderLayers, Ld = a.decoderLayers;
  out[off] = a.encoderEmbedDim;
  out[off + 1] = Le;
  out[off + 2] = sum(a.encoderFfnDims) / Le;
  out[off + 3] = sum(a.encoderHeads) / Le;
  out[off + 4] = a.decoderEmbedDim;
  out[off + 5] = Ld;
  out[off + 6] = sum(a.decoderFfnDims) / Ld;
  out[off + 7] = sum(a.decoderSelfHeads) / Ld;
  out[off + 8] = sum(a.decoderCrossHeads) / Ld;
  out[off + 9] = sum(a.decoderEndeLayers) / Ld;
  if (s.kind === "hat") return;
  writeSums(out, off);
  if (s.kind === "sums") return;
  if (Le > s.maxEncoderLayers || Ld > s.maxDecoderLayers) {
    throw new ArchError(Le > s.maxEncoderLayers ? "encoderLayers" : "decoderLayers", `${Le > s.maxEncoderLayers ? Le : Ld} layers: the predictor's encoding has ${Le > s.maxEncoderLayers ? s.maxEncoderLayers : s.maxDecoderLayers} slots`);
  }
  let o = off + 22;
  for (let i = 0; i < s.maxEncoderLayers; i++, o += 2) {
    const has = i < Le;
    out[o] = has ? a.encoderFfnDims[i] : 0;
    out[o + 1] = has ? a.encoderHeads[i] : 0;
  }
  for (let j = 0; j < s.maxDecoderLayers; j++, o += 4) {
    const has = j < Ld;
    out[o] = has ? a.decoderFfnDims[j] : 0;
    out[o + 1] = has ? a.decoderSelfHeads[j] : 0;
    out[o + 2] = has ? a.decoderCrossHeads[j] : 0;
    out[o + 3] = has ? a.decoderEndeLayers[j] : 0;
  }
}

/** The feature vector of a dataset row: from its 10 HAT features ("hat", "sums"), or from its arch ("layers"). */
export function encodeRow(r: LatencyRow, s: FeatureSpec): number[] {
  const out = new Float64Array(featureCount(s));
  if (s.kind === "layers") {
    if (!r.arch) throw new ArchError("arch", "the 'layers' features need each row's architecture (an `arch` column); HAT's datasets have only the 10 features: use --features sums or hat");
    encodeArch(r.arch, s, out, 0);
  } else {
    out.set(r.features);
    if (s.kind === "sums") writeSums(out, 0);
  }
  return Array.from(out);
}

function notAChoice(v: number, choices: readonly number[], field: string): never {
  throw new ArchError(field, `${v} is not one of the predictor's space's choices [${[...choices].sort((x, y) => x - y).join(", ")}]`);
}

function checkChoice(v: number, choices: readonly number[], field: string): void {
  if (!choices.includes(v)) notAChoice(v, choices, field);
}

function checkLayers(xs: readonly number[], n: number, choices: readonly number[], field: string): void {
  if (!Array.isArray(xs) || xs.length !== n) throw new ArchError(field, `has ${Array.isArray(xs) ? xs.length : "no"} entries, but the arch has ${n} layers`);
  for (let i = 0; i < n; i++) if (!choices.includes(xs[i])) notAChoice(xs[i], choices, `${field}[${i}]`);
}

/**
 * A fast check that `a` is a SubTransformer of `space` (the search calls predict on many
 * architectures): list lengths, and every choice from the space's lists. Throws an ArchError
 * naming the field. Allocates nothing unless it throws.
 */
export function checkInSpace(a: Arch, space: Space): void {
  checkChoice(a.encoderEmbedDim, space.encoderEmbedChoices, "encoderEmbedDim");
  checkChoice(a.decoderEmbedDim, space.decoderEmbedChoices, "decoderEmbedDim");
  checkChoice(a.encoderLayers, space.encoderLayerChoices, "encoderLayers");
  checkChoice(a.decoderLayers, space.decoderLayerChoices, "decoderLayers");
  checkLayers(a.encoderFfnDims, a.encoderLayers, space.encoderFfnChoices, "encoderFfnDims");
  checkLayers(a.encoderHeads, a.encoderLayers, space.encoderHeadChoices, "encoderHeads");
  checkLayers(a.decoderFfnDims, a.decoderLayers, space.decoderFfnChoices, "decoderFfnDims");
  checkLayers(a.decoderSelfHeads, a.decoderLayers, space.decoderSelfHeadChoices, "decoderSelfHeads");
  checkLayers(a.decoderCrossHeads, a.decoderLayers, space.decoderCrossHeadChoices, "decoderCrossHeads");
  checkLayers(a.decoderEndeLayers, a.decoderLayers, space.endeLayerChoices, "decoderEndeLayers");
  if (a.qkvDim !== space.qkvDim) throw new ArchError("qkvDim", `${a.qkvDim} does not equal the predictor's space's qkvDim ${space.qkvDim}`);
}

/** Does every row's feature vector fit the space? (an arch row: in the space; a HAT row: plausible ranges). */
export function rowOutsideSpace(r: LatencyRow, space: Space): string | undefined {
  if (r.arch) {
    try {
      checkInSpace(r.arch, space);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }
  const lim: [number, number][] = [
    [Math.min(...space.encoderEmbedChoices), Math.max(...space.encoderEmbedChoices)],
    [Math.min(...space.encoderLayerChoices), Math.max(...space.encoderLayerChoices)],
    [Math.min(...space.encoderFfnChoices), Math.max(...space.encoderFfnChoices)],
    [Math.min(...space.encoderHeadChoices), Math.max(...space.encoderHeadChoices)],
    [Math.min(...space.decoderEmbedChoices), Math.max(...space.decoderEmbedChoices)],
    [Math.min(...space.decoderLayerChoices), Math.max(...space.decoderLayerChoices)],
    [Math.min(...space.decoderFfnChoices), Math.max(...space.decoderFfnChoices)],
    [Math.min(...space.decoderSelfHeadChoices), Math.max(...space.decoderSelfHeadChoices)],
    [Math.min(...space.decoderCrossHeadChoices), Math.max(...space.decoderCrossHeadChoices)],
    [Math.min(...space.endeLayerChoices), Math.max(...space.endeLayerChoices)],
  ];
  const bad = r.features.findIndex((v, i) => v < lim[i][0] - 1e-9 || v > lim[i][1] + 1e-9);
  return bad < 0 ? undefined : `${HAT_FEATURE_NAMES[bad]} ${r.features[bad]} is outside the space's range [${lim[bad][0]}, ${lim[bad][1]}]`;
}
