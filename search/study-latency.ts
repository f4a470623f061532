/**
 * HAT's latency evidence on the user's corpus (docs/method.md §12; paper Fig 7 and Table 4): for
 * one SuperTransformer and one device, the search (search/pipeline.ts runSearch) at three or more
 * latency constraints, against baselines scaled by layer count and by dimension that span the
 * same latency range (search/study-models.ts), and the largest SubTransformer. Every model is
 * measured here with one protocol and fine-tuned from its inherited weights with the same budget;
 * what counts is BLEU (or the validation loss) at equal *measured* latency.
 */
import { archKey } from "../runtime/arch-features.js";
import { largestArch } from "../runtime/arch-sample.js";
import type { Protocol, ProtocolRequest } from "../runtime/protocol.js";
import type { ValidArch } from "../runtime/types.js";
import { tokenizeTexts, type Texts } from "../data/texts.js";
import { measuredProtocol, runSearch, type EvolutionSettings } from "./pipeline.js";
import { SearchInputError } from "./predictor-file.js";
import { defaultConstraints, readStudyInputs } from "./study-inputs.js";
import { dimensionFamily, layerFamily, membersAt, scoreModels, type ScoredModel, type StudyFinetune } from "./study-models.js";

export interface LatencyStudyOptions {
  supernet: string;
  /** The latency predictor of the device studied (its data measured on this machine, or unnamed). */
  predictor: string;
  /** The constraints searched at, ms; default three over the range the space reaches (study-inputs.ts). */
  latencyMs?: number[];
  train: Texts;
  valid: Texts;
  test?: Texts;
  /** The fine-tuning budget (and recipe), the same for every model. */
  finetune: StudyFinetune;
  evolution: EvolutionSettings;
  validMax?: number;
  bleuMax?: number;
  /** Runs and warm-up of the measurement (the rest is the predictor's protocol). */
  measure?: Pick<ProtocolRequest, "runs" | "warmup">;
  seed?: number;
  /** Training threads of each fine-tuning (default: every core). */
  threads?: number;
  log?: (line: string) => void;
  onProgress?: (done: number, total: number, message: string) => void;
}

export type ModelRole = "searched" | "layers" | "dimension" | "largest";

export interface StudyModel extends ScoredModel {
  roles: ModelRole[];
  /** The constraints at which the search found this model. */
  searchedAtMs: number[];
}

export interface LatencyStudy {
  protocol: Protocol;
  device: string;
  constraintsMs: number[];
  models: StudyModel[];
  validPairs: number;
  testSentences?: number;
  finetune: StudyFinetune;
  seconds: number;
}

export async function latencyStudy(o: LatencyStudyOptions): Promise<LatencyStudy> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  if (o.finetune.steps === undefined && o.finetune.minutes === undefined) throw new RangeError("give the fine-tuning budget: steps or minutes");
  const inp = await readStudyInputs(o, log);
  const { file, space, bpe, source } = inp;
  // measured as the predictor learnt (its products and threads; f32 on one thread where it does not say)
  const protocol = measuredProtocol(source, o.measure ?? {}, file.header.vocab.size, source.protocol?.quant ?? "f32", source.protocol?.threads ?? 1, log);
  const constraints = o.latencyMs ?? defaultConstraints(space, source);
  if (constraints.length === 0) throw new SearchInputError("give at least one latency constraint");
  log(`latency study: constraints ${constraints.map((c) => `${c} ms`).join(", ")} on ${source.name}`);

  // the searched models, one per constraint
  const models = new Map<string, { arch: ValidArch; roles: Set<ModelRole>; searchedAtMs: number[] }>();
  const add = (arch: ValidArch, role: ModelRole, at?: number) => {
    const m = models.get(archKey(arch)) ?? { arch, roles: new Set<ModelRole>(), searchedAtMs: [] };
    m.roles.add(role);
    if (at !== undefined) m.searchedAtMs.push(at);
    models.set(archKey(arch), m);
  };
  for (const c of constraints) {
    const s = await runSearch({ supernet: o.supernet, predictors: [o.predictor], latencyMs: [c], valid: o.valid, validMax: o.validMax ?? 200, evolution: o.evolution });
    log(`searched at ${c} ms: loss ${s.result.best.loss.toFixed(4)}, predicted ${s.result.best.latency[0].toFixed(3)} ms (${s.result.evaluations} evaluations)`);
    add(s.result.best.arch, "searched", c);
  }
  // the baselines at the same constraints, and the largest SubTransformer
  for (const a of membersAt(layerFamily(space), source.model, constraints)) add(a, "layers");
  for (const a of membersAt(dimensionFamily(space), source.model, constraints)) add(a, "dimension");
  add(largestArch(space), "largest");

  const test = o.test && { src: o.test.src.slice(0, o.bleuMax ?? 200), tgt: o.test.tgt.slice(0, o.bleuMax ?? 200) };
  const list = [...models.values()];
  const scored = await scoreModels(list.map((m) => m.arch), {
    file, bpe, inherited: inp.inherited, train: tokenizeTexts(bpe, o.train), valid: tokenizeTexts(bpe, inp.validTexts), test,
    finetune: o.finetune, protocol, latency: source.model, seed: o.seed ?? 1, threads: o.threads, log,
  }, (done, total) => o.onProgress?.(done, total, `model ${done}/${total} fine-tuned and scored`));
  return {
    protocol, device: source.name, constraintsMs: constraints,
    models: scored.map((s, i) => ({ ...s, roles: [...list[i].roles], searchedAtMs: list[i].searchedAtMs })),
    validPairs: inp.valid.length, testSentences: test?.src.length, finetune: o.finetune, seconds: (performance.now() - t0) / 1000,
  };
}

/** The quality a model is compared by: BLEU when the test split was scored, else -(fine-tuned loss). */
export function quality(m: ScoredModel): number {
  return m.bleu ?? -m.finetunedLoss;
}

/**
 * For each searched model, the best baseline of each family that runs no slower (measured, at
 * the machine's usual speed): the comparison "at equal measured latency". null: every member of
 * the family was slower.
 */
export function atEqualLatency(s: LatencyStudy): { searched: StudyModel; layers: StudyModel | null; dimension: StudyModel | null }[] {
  const best = (role: ModelRole, ms: number) => s.models.filter((m) => m.roles.includes(role) && m.usualMs <= ms)
    .reduce<StudyModel | null>((b, m) => (b === null || quality(m) > quality(b) ? m : b), null);
  return s.models.filter((m) => m.roles.includes("searched")).sort((a, b) => a.usualMs - b.usualMs)
    .map((m) => ({ searched: m, layers: best("layers", m.usualMs), dimension: best("dimension", m.usualMs) }));
}

function modelJson(m: StudyModel): Record<string, unknown> {
  return {
    roles: m.roles, searched_at_ms: m.searchedAtMs, arch: m.arch, params: m.params, flops: m.flops, predicted_ms: m.predictedMs,
    measured_ms: m.measuredMs, usual_ms: m.usualMs, speed: m.speed ?? null, inherited_loss: m.inheritedLoss,
    finetuned_loss: m.finetunedLoss, bleu: m.bleu ?? null, steps: m.steps, seconds: m.seconds,
  };
}

/** The study as JSON: every model, the comparison at equal latency, and Table 4 (searched against the largest). */
export function latencySummary(s: LatencyStudy): Record<string, unknown> {
  const largest = s.models.find((m) => m.roles.includes("largest"))!;
  const key = (m: StudyModel | null) => (m ? archKey(m.arch) : null);
  const index = new Map(s.models.map((m, i) => [archKey(m.arch), i]));
  return {
    device: s.device, protocol: s.protocol, constraints_ms: s.constraintsMs, valid_pairs: s.validPairs, test_sentences: s.testSentences ?? null,
    finetune: s.finetune, seconds: s.seconds, models: s.models.map(modelJson),
    // indices into `models`
    equal_latency: atEqualLatency(s).map((e) => ({ searched: index.get(archKey(e.searched.arch)), layers: e.layers ? index.get(key(e.layers)!) : null, dimension: e.dimension ? index.get(key(e.dimension)!) : null })),
    table4: s.models.filter((m) => m.roles.includes("searched")).map((m) => ({
      searched: index.get(archKey(m.arch)), largest: index.get(archKey(largest.arch)),
      speedup: largest.usualMs / m.usualMs, params_ratio: largest.params / m.params, flops_ratio: largest.flops / m.flops,
      bleu_delta: m.bleu !== undefined && largest.bleu !== undefined ? m.bleu - largest.bleu : null,
      loss_delta: m.finetunedLoss - largest.finetunedLoss,
    })),
  };
}
