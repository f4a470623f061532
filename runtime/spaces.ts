/** The built-in design spaces (docs/method.md §1): HAT's two, and the demo's. */
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

/** The spaces known by name (the CLI's `--space NAME`, the server's `space: "NAME"`). */
export const BUILTIN_SPACES = { demo: DEMO_SPACE, wmt14: HAT_WMT_SPACE, iwslt14: HAT_IWSLT_SPACE } as const;
export type BuiltinSpaceName = keyof typeof BUILTIN_SPACES;
export const BUILTIN_SPACE_NAMES = Object.keys(BUILTIN_SPACES) as [BuiltinSpaceName, ...BuiltinSpaceName[]];
