/** The built-in design spaces (docs/method.md §1): HAT's two, the demo's, and two sized for CPU training (docs/training.md). */
import type { Space } from "./types.js";

function deepFreeze<T>(x: T): T {
  if (typeof x === "object" && x !== null) {
    Object.values(x).forEach(deepFreeze);
    Object.freeze(x);
  }
  return x;
}

/** HAT's WMT'14 En-De space (space0.yml). */
export const HAT_WMT_SPACE: Space = deepFreeze({
  encoderEmbedChoices: [640, 512],
  decoderEmbedChoices: [640, 512],
  encoderFfnChoices: [3072, 2048, 1024],
  decoderFfnChoices: [3072, 2048, 1024],
  encoderLayerChoices: [6],
  decoderLayerChoices: [6, 5, 4, 3, 2, 1],
  encoderHeadChoices: [8, 4],
  decoderSelfHeadChoices: [8, 4],
  decoderCrossHeadChoices: [8, 4],
  endeLayerChoices: [1, 2, 3],
  qkvDim: 512,
});

/** HAT's IWSLT'14 De-En space (space1.yml). */
export const HAT_IWSLT_SPACE: Space = deepFreeze({
  encoderEmbedChoices: [640, 512],
  decoderEmbedChoices: [640, 512],
  encoderFfnChoices: [2048, 1024, 512],
  decoderFfnChoices: [2048, 1024, 512],
  encoderLayerChoices: [6],
  decoderLayerChoices: [6, 5, 4, 3, 2, 1],
  encoderHeadChoices: [4, 2],
  decoderSelfHeadChoices: [4, 2],
  decoderCrossHeadChoices: [4, 2],
  endeLayerChoices: [1, 2, 3],
  qkvDim: 512,
});

/**
 * The built-in demo space: small enough that its SuperTransformer learns the demo task (data/demo-task.ts)
 * in minutes on two cores (2 encoder layers, so at most 2 encoder layers attended). One embed dim:
 * measured, SubTransformers of embed dims 96 and 64 sharing one embedding learnt the demo task
 * several times slower (validation loss 2.47 against 1.48 after 500 updates), too slow for a demo;
 * the latency range comes from decoder depth, FFN widths, heads and encoder-decoder attention.
 */
export const DEMO_SPACE: Space = deepFreeze({
  encoderEmbedChoices: [64],
  decoderEmbedChoices: [64],
  encoderFfnChoices: [256, 192, 128],
  decoderFfnChoices: [256, 192, 128],
  encoderLayerChoices: [2],
  decoderLayerChoices: [1, 2],
  encoderHeadChoices: [4, 2],
  decoderSelfHeadChoices: [4, 2],
  decoderCrossHeadChoices: [4, 2],
  endeLayerChoices: [1, 2],
  qkvDim: 64,
});

/**
 * A space for Multi30k-sized corpora (~30k pairs) trained on a CPU: HAT's elastic dims around the
 * small Transformers published near 40 BLEU on Multi30k En-De (embed 256, 3 layers, FFN 1024).
 * Its SuperTransformer trains in tfjs-wasm's 4 GiB heap at 4,096-token batches on two threads with
 * an 8,000-token vocabulary (docs/training.md "Spaces that fit the machine": ~3.6 GiB a thread).
 */
export const MULTI30K_SPACE: Space = deepFreeze({
  encoderEmbedChoices: [256, 192],
  decoderEmbedChoices: [256, 192],
  encoderFfnChoices: [1024, 768, 512],
  decoderFfnChoices: [1024, 768, 512],
  encoderLayerChoices: [3],
  decoderLayerChoices: [3, 2, 1],
  encoderHeadChoices: [4, 2],
  decoderSelfHeadChoices: [4, 2],
  decoderCrossHeadChoices: [4, 2],
  endeLayerChoices: [1, 2, 3],
  qkvDim: 256,
});

/**
 * A space for a CPU server (WMT-sized corpora, many cores): HAT's WMT space at embed 512 / 384 and
 * FFN up to 2,048, so its SuperTransformer trains on tfjs-wasm (~2.5 GiB a thread at 4,096-token
 * batches on 16 threads, vocabulary 8,000; with fewer threads the trainer shrinks the batch).
 */
export const CPU_SERVER_SPACE: Space = deepFreeze({
  encoderEmbedChoices: [512, 384],
  decoderEmbedChoices: [512, 384],
  encoderFfnChoices: [2048, 1024, 512],
  decoderFfnChoices: [2048, 1024, 512],
  encoderLayerChoices: [6],
  decoderLayerChoices: [6, 5, 4, 3, 2, 1],
  encoderHeadChoices: [8, 4],
  decoderSelfHeadChoices: [8, 4],
  decoderCrossHeadChoices: [8, 4],
  endeLayerChoices: [1, 2, 3],
  qkvDim: 512,
});

/** The spaces known by name (the CLI's `--space NAME`, the server's `space: "NAME"`). */
export const BUILTIN_SPACES = { demo: DEMO_SPACE, wmt14: HAT_WMT_SPACE, iwslt14: HAT_IWSLT_SPACE, multi30k: MULTI30K_SPACE, "cpu-server": CPU_SERVER_SPACE } as const;
export type BuiltinSpaceName = keyof typeof BUILTIN_SPACES;
export const BUILTIN_SPACE_NAMES = Object.keys(BUILTIN_SPACES) as [BuiltinSpaceName, ...BuiltinSpaceName[]];
