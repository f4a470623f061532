/**
 * The models HAT's latency study compares (docs/method.md §12, paper Fig 7 and Table 4), and the
 * one protocol every one of them goes through, so that only the architecture differs:
 *
 *   - baselines "scaled by layer count": the largest SubTransformer's widths (embed, FFN, heads,
 *     encoder layers attended) with fewer encoder and decoder layers;
 *   - baselines "scaled by dimension": every layer kept, embed, FFN and heads scaled down together
 *     (the same rank in every choice list, encoder and decoder alike);
 *   - of each family, the members that span the searched models' latency range: for each
 *     constraint, the largest member predicted to meet it (else the family's fastest);
 *   - every model measured here with one protocol (steadily: search/measure-here.ts) before any
 *     training, then its inherited loss, then fine-tuned from its inherited weights with the same
 *     budget, its validation loss and test BLEU after.
 */
import { archKey, archParams } from "../runtime/arch-features.js";
import { builtFromSpace } from "../runtime/arch.js";
import { protocolFlops } from "../runtime/flops.js";
import type { DecodedModel } from "../runtime/format.js";
import { HatModel } from "../runtime/model.js";
import type { Protocol } from "../runtime/protocol.js";
import type { Space, ValidArch } from "../runtime/types.js";
import { loadWasm } from "../runtime/wasm-node.js";
import type { Bpe } from "../data/bpe.js";
import type { Texts, TokenPair } from "../data/texts.js";
import { bleuOfModel, finetuneWinner } from "./after.js";
import type { LatencyModel } from "./constraint.js";
import type { InheritedLoss } from "./fitness.js";
import { hereMeasurer } from "./measure-here.js";

/** The choice of `choices` at rank fraction `f` (0: the largest, 1: the smallest). */
function atRank(choices: readonly number[], f: number): number {
  const sorted = [...choices].sort((a, b) => b - a);
  return sorted[Math.round(f * (sorted.length - 1))];
}

/** A SubTransformer with the same choice in every layer: widths at rank fraction `f` of each list. */
function uniformArch(space: Space, encLayers: number, decLayers: number, f: { embed: number; ffn: number; heads: number }): ValidArch {
  const fill = (n: number, v: number) => Array.from({ length: n }, () => v);
  const ende = Math.max(...space.endeLayerChoices); // validateSpace: at most the fewest encoder layers
  // every value is one of the space's choices and every list has its layer count: valid by construction
  return builtFromSpace({
    encoderEmbedDim: atRank(space.encoderEmbedChoices, f.embed), decoderEmbedDim: atRank(space.decoderEmbedChoices, f.embed),
    encoderLayers: encLayers, decoderLayers: decLayers,
    encoderFfnDims: fill(encLayers, atRank(space.encoderFfnChoices, f.ffn)), encoderHeads: fill(encLayers, atRank(space.encoderHeadChoices, f.heads)),
    decoderFfnDims: fill(decLayers, atRank(space.decoderFfnChoices, f.ffn)), decoderSelfHeads: fill(decLayers, atRank(space.decoderSelfHeadChoices, f.heads)),
    decoderCrossHeads: fill(decLayers, atRank(space.decoderCrossHeadChoices, f.heads)), decoderEndeLayers: fill(decLayers, ende),
    qkvDim: space.qkvDim,
  });
}

function distinct(archs: ValidArch[]): ValidArch[] {
  return [...new Map(archs.map((a) => [archKey(a), a])).values()];
}

/** Every (encoder, decoder) layer count of the space at the largest widths. */
export function layerFamily(space: Space): ValidArch[] {
  const out: ValidArch[] = [];
  for (const e of space.encoderLayerChoices) for (const d of space.decoderLayerChoices) out.push(uniformArch(space, e, d, { embed: 0, ffn: 0, heads: 0 }));
  return distinct(out);
}

/** Every joint rank of embed, FFN and heads at the largest layer counts. */
export function dimensionFamily(space: Space): ValidArch[] {
  // as many levels as the longest of the lists scaled together (encoder and decoder at the same rank)
  const levels = (...lists: readonly number[][]) => {
    const n = Math.max(...lists.map((xs) => new Set(xs).size));
    return Array.from({ length: n }, (_, i) => (n === 1 ? 0 : i / (n - 1)));
  };
  const embed = levels(space.encoderEmbedChoices, space.decoderEmbedChoices);
  const ffn = levels(space.encoderFfnChoices, space.decoderFfnChoices);
  const heads = levels(space.encoderHeadChoices, space.decoderSelfHeadChoices, space.decoderCrossHeadChoices);
  const E = Math.max(...space.encoderLayerChoices), D = Math.max(...space.decoderLayerChoices);
  const out: ValidArch[] = [];
  for (const fe of embed) for (const ff of ffn) for (const fh of heads) out.push(uniformArch(space, E, D, { embed: fe, ffn: ff, heads: fh }));
  return distinct(out);
}

/**
 * The members of `family` at the constraints: for each, the largest member (by predicted latency)
 * predicted to meet it, else the family's fastest; each member once.
 */
export function membersAt(family: readonly ValidArch[], latency: LatencyModel, constraintsMs: readonly number[]): ValidArch[] {
  const ms = latency.predict(family);
  const order = family.map((a, i) => ({ a, ms: ms[i] })).sort((x, y) => x.ms - y.ms);
  const picked = constraintsMs.map((c) => [...order].reverse().find((m) => m.ms <= c) ?? order[0]);
  return distinct(picked.map((m) => m.a));
}

/** The fine-tuning every model of a study gets: a budget (steps or minutes) and, optionally, its recipe (search/after.ts defaults otherwise). */
export interface StudyFinetune {
  steps?: number;
  minutes?: number;
  maxTokens?: number;
  lr?: number;
  warmup?: number;
  dropout?: number;
}

/** One model through the study's protocol. */
export interface ScoredModel {
  arch: ValidArch;
  params: number;
  /** Operations of one run of the measurement protocol's workload (runtime/flops.ts). */
  flops: number;
  predictedMs: number;
  /** Measured here (encoder + decoder), and at the machine's usual speed (runtime/steady.ts). */
  measuredMs: number;
  usualMs: number;
  speed?: number;
  inheritedLoss: number;
  finetunedLoss: number;
  bleu?: number;
  steps: number;
  seconds: number;
}

export interface ScoreContext {
  file: DecodedModel;
  bpe: Bpe;
  inherited: InheritedLoss;
  train: TokenPair[];
  valid: TokenPair[];
  test?: Texts;
  finetune: StudyFinetune;
  protocol: Protocol;
  latency: LatencyModel;
  seed: number;
  threads?: number;
  log: (line: string) => void;
}

/**
 * Every architecture measured here first (one process, a quiet heap, no training threads yet),
 * then each one's inherited loss, fine-tuning with the same budget, validation loss and BLEU.
 */
export async function scoreModels(archs: readonly ValidArch[], c: ScoreContext, onModel?: (done: number, total: number) => void): Promise<ScoredModel[]> {
  const V = c.file.header.vocab.size;
  c.log(`measuring ${archs.length} models here (${c.protocol.runs} runs, src ${c.protocol.src_len}, tgt ${c.protocol.tgt_len}, beam ${c.protocol.beam}, vocab ${c.protocol.vocab})`);
  const rows = await hereMeasurer(c.protocol).measure(archs, 0);
  const predicted = c.latency.predict(archs);
  const out: ScoredModel[] = [];
  for (const [i, arch] of archs.entries()) {
    const r = rows[i], measuredMs = r.encoder_ms + r.decoder_ms;
    const ft = await finetuneWinner({
      supernet: c.file, arch, mode: "finetune", train: c.train, valid: c.valid,
      ...c.finetune, threads: c.threads, seed: c.seed, log: () => {},
    });
    const bleu = c.test && bleuOfModel(HatModel.fromBytes(ft.bytes, loadWasm()), c.bpe, c.test.src, c.test.tgt).result.score;
    const f = protocolFlops(arch, c.protocol);
    const m: ScoredModel = {
      arch, params: archParams(arch, V), flops: f.encoder + f.decoder, predictedMs: predicted[i], measuredMs,
      usualMs: measuredMs / Math.max(1, r.speed ?? 1), speed: r.speed, inheritedLoss: c.inherited.loss(arch),
      finetunedLoss: ft.result.validLoss, bleu, steps: ft.result.steps, seconds: ft.result.seconds,
    };
    out.push(m);
    c.log(`[${i + 1}/${archs.length}] ${(m.params / 1e6).toFixed(3)} M parameters, measured ${m.measuredMs.toFixed(3)} ms (predicted ${m.predictedMs.toFixed(3)}): inherited loss ${m.inheritedLoss.toFixed(4)}, after ${m.steps} updates ${m.finetunedLoss.toFixed(4)}${bleu !== undefined ? `, BLEU ${bleu.toFixed(2)}` : ""}`);
    onModel?.(i + 1, archs.length);
  }
  return out;
}
