/**
 * Where a fine-tune starts: a model file's weights in the SuperTransformer shapes the trainer
 * works in (./trainer.ts), and the SubTransformer trained. A SuperTransformer gives its own weights
 * and `arch` of its space (default its largest); a compact SubTransformer (an export, a search's
 * or a fine-tune's output) gives its tensors placed at the front of the shapes of the space it was
 * cut from (its own architecture's when it records none), the rest zeros: nothing of them is read
 * by its architecture.
 */
import { archKey } from "../runtime/arch-features.js";
import { archInSpace, superDims } from "../runtime/arch.js";
import { largestArch, spaceOfArch } from "../runtime/arch-sample.js";
import { InputError } from "../runtime/errors.js";
import type { DecodedModel } from "../runtime/format.js";
import type { Space, ValidArch } from "../runtime/types.js";
import { padSubTensors, superTensorShapes, type TensorMap } from "../runtime/weights.js";
import { withoutAdamState } from "./trainer.js";

export interface FinetuneStart {
  space: Space;
  arch: ValidArch;
  /** SuperTransformer shapes of `space` at the file's vocabulary. */
  tensors: TensorMap;
}

export function finetuneStart(file: DecodedModel, arch?: ValidArch): FinetuneStart {
  const h = file.header, V = h.vocab.size;
  let start: FinetuneStart;
  if (h.kind === "supertransformer") {
    const space = h.space!;
    start = { space, arch: arch ? archInSpace(arch, space) : largestArch(space), tensors: withoutAdamState(file.tensors) };
  } else {
    const own = h.arch as ValidArch;
    if (arch && archKey(arch) !== archKey(own)) throw new InputError("the model is a compact SubTransformer of another architecture than the one given: it can only be trained as itself");
    const space = h.space ?? spaceOfArch(own);
    start = { space, arch: own, tensors: padSubTensors(file.tensors, own, superTensorShapes(space, V)) };
  }
  // the trainer's sinusoids are its space's widths: they must be the file's
  const d = superDims(start.space), p = h.positionDims;
  if (d.encoderEmbedDim !== p.encoder || d.decoderEmbedDim !== p.decoder) {
    throw new InputError(`the model's position tables are ${p.encoder}/${p.decoder} wide but its space's embed dims are ${d.encoderEmbedDim}/${d.decoderEmbedDim}: it cannot be fine-tuned`);
  }
  return start;
}
