/**
 * What the studies of docs/method.md §12 read: the SuperTransformer (a trained one, with its
 * tokenizer), the latency predictor of the one device studied (checked as the search checks it:
 * its space covers the supernet's, its vocabulary and products are the model's), the validation
 * pairs of the inherited loss; and the constraints a study runs at when none are given.
 */
import { readModelFile } from "../runtime/model-files.js";
import type { DecodedModel } from "../runtime/format.js";
import { HatModel } from "../runtime/model.js";
import { largestArch } from "../runtime/arch-sample.js";
import type { Space } from "../runtime/types.js";
import { loadWasm } from "../runtime/wasm-node.js";
import { Bpe } from "../data/bpe.js";
import { tokenizeTexts, type Texts, type TokenPair } from "../data/texts.js";
import { minimize } from "./constraint.js";
import { InheritedLoss } from "./fitness.js";
import { GeneLayout } from "./genome.js";
import { checkPredictorQuant, checkPredictorVocab, checkSpaceCovered, loadPredictorFile, SearchInputError, type LatencySource } from "./predictor-file.js";

export interface StudyInputs {
  file: DecodedModel;
  space: Space;
  bpe: Bpe;
  model: HatModel;
  valid: TokenPair[];
  /** The validation texts scored (the first `validMax`), for the fine-tuned models' losses. */
  validTexts: Texts;
  inherited: InheritedLoss;
  source: LatencySource;
}

export async function readStudyInputs(o: { supernet: string; predictor: string; valid: Texts; validMax?: number }, log: (line: string) => void): Promise<StudyInputs> {
  const file = await readModelFile(o.supernet);
  if (file.header.kind !== "supertransformer" || !file.header.space) throw new SearchInputError(`${o.supernet} is a ${file.header.kind}, not a SuperTransformer`);
  if (!file.header.tokenizer) throw new SearchInputError(`${o.supernet} carries no tokenizer: it was not trained on text (hat train writes one)`);
  const space = file.header.space;
  const source = await loadPredictorFile(o.predictor);
  if (source.space) checkSpaceCovered(space, source.space, `the predictor ${o.predictor}`);
  checkPredictorVocab(source, file.header.vocab.size, `the SuperTransformer ${o.supernet}`, log);
  checkPredictorQuant(source, "f32", "this study", log);
  const bpe = Bpe.fromJSON(file.header.tokenizer);
  const valid = tokenizeTexts(bpe, o.valid).slice(0, o.validMax ?? 200);
  if (valid.length === 0) throw new SearchInputError("the validation set is empty");
  const model = HatModel.fromDecoded(file, loadWasm());
  return {
    file, space, bpe, model, valid, validTexts: { src: o.valid.src.slice(0, valid.length), tgt: o.valid.tgt.slice(0, valid.length) },
    inherited: new InheritedLoss(model, valid), source,
  };
}

/** The fractions of the predicted latency range [fastest, largest] the default constraints sit at. */
export const DEFAULT_CONSTRAINT_FRACTIONS = [0.3, 0.55, 0.8] as const;

/**
 * Constraints spread over what the space reaches on the device: the fastest SubTransformer's
 * predicted latency (search/constraint.ts minimize) to the largest's, at `fractions` of the way.
 */
export function defaultConstraints(space: Space, source: LatencySource, fractions: readonly number[] = DEFAULT_CONSTRAINT_FRACTIONS): number[] {
  const lo = minimize(new GeneLayout(space), (archs) => [...source.model.predict(archs)]).value;
  const hi = source.model.predict([largestArch(space)])[0];
  if (!(hi > lo)) throw new SearchInputError(`the predictor ${source.path} gives the largest SubTransformer ${hi.toFixed(3)} ms, no more than the fastest (${lo.toFixed(3)} ms): give the constraints (--latency-ms)`);
  return fractions.map((f) => Number((lo + f * (hi - lo)).toFixed(3)));
}
