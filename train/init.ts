/**
 * Initial weights of a SuperTransformer to train from scratch, fairseq's initialisation in the
 * runtime's layout: embedding N(0, D^-0.5) with the pad row zero, linear weights Xavier-uniform,
 * linear biases 0, layer norms gain 1 and bias 0.
 */
import type { Space } from "../runtime/types.js";
import { SPECIALS } from "../runtime/types.js";
import { randomTensors, superTensorShapes, type TensorMap } from "../runtime/weights.js";

/** Seeded fairseq-style initial tensors of the SuperTransformer of `space` (shapes `superTensorShapes`). */
export function initialTensors(space: Space, vocabSize: number, seed: number): TensorMap {
  const tensors = randomTensors(superTensorShapes(space, vocabSize), seed);
  for (const [name, t] of tensors) {
    if (name === "embed.tokens") {
      const D = t.shape[1];
      t.data.fill(0, SPECIALS.pad * D, (SPECIALS.pad + 1) * D);
    } else if (name.endsWith("_ln.g")) t.data.fill(1);
    else if (t.shape.length === 1) t.data.fill(0); // linear and layer-norm biases
  }
  return tensors;
}
