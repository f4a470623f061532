/**
 * The shared vocabulary of hat-edge: a HAT design space and one SubTransformer of it.
 *
 * Shape letters used across runtime/ and assembly/:
 *   B batch (sentences, or sentences x beam), S source length, T target length,
 *   De encoder embed dim, Dd decoder embed dim, F a layer's FFN hidden dim,
 *   Q the fixed q/k/v projection width (qkv-dim, 512 in HAT), H heads, V vocabulary.
 */

/** A HAT design space: the choices of every elastic dimension (docs/method.md §1). */
export interface Space {
  encoderEmbedChoices: number[]; // [640, 512]
  decoderEmbedChoices: number[]; // [640, 512]
  encoderFfnChoices: number[]; // [3072, 2048, 1024]
  decoderFfnChoices: number[];
  encoderLayerChoices: number[]; // [6]
  decoderLayerChoices: number[]; // [6, 5, 4, 3, 2, 1]
  encoderHeadChoices: number[]; // [8, 4]
  decoderSelfHeadChoices: number[];
  decoderCrossHeadChoices: number[];
  /** How many of the last encoder layers a decoder layer attends to: [1, 2, 3] (HAT: -1, 1, 2). */
  endeLayerChoices: number[];
  /** Fixed width Q of the q/k/v projections; a layer with h heads has head size Q / h. */
  qkvDim: number;
}

/** One SubTransformer: every elastic choice made. Lists are per layer, first layer first. */
export interface Arch {
  encoderEmbedDim: number;
  decoderEmbedDim: number;
  encoderLayers: number;
  decoderLayers: number;
  encoderFfnDims: number[]; // length encoderLayers
  encoderHeads: number[]; // length encoderLayers
  decoderFfnDims: number[]; // length decoderLayers
  decoderSelfHeads: number[]; // length decoderLayers
  decoderCrossHeads: number[]; // length decoderLayers
  /** Per decoder layer: attend to the concatenation of the last k encoder layers' outputs, k in 1..3. */
  decoderEndeLayers: number[];
  qkvDim: number;
}

/** The brand of ValidArch: a class's private method, which no object literal or spread copy has. */
declare class ValidArchBrand {
  private validArchBrand(): void;
}

/**
 * An Arch known to be valid: made by validateArch (every reader of outside input ends in it) or
 * built by the code from a valid space (runtime/arch.ts `builtFromSpace`). Code that takes one
 * trusts it and does not check it again. A copy (`{ ...arch, decoderLayers: 2 }`) is a plain Arch
 * to the type checker, so an edited arch must be validated again.
 */
export type ValidArch = Arch & ValidArchBrand;

/** The largest dims of a space: the SuperTransformer's tensor shapes come from these. */
export interface SuperDims {
  encoderEmbedDim: number;
  decoderEmbedDim: number;
  encoderFfnDim: number;
  decoderFfnDim: number;
  encoderLayers: number;
  decoderLayers: number;
  qkvDim: number;
}

/** The 10 HAT latency features, in HAT's CSV column order (docs/method.md §5). */
export const HAT_FEATURE_NAMES = [
  "encoder_embed_dim",
  "encoder_layer_num",
  "encoder_ffn_embed_dim_avg",
  "encoder_self_attention_heads_avg",
  "decoder_embed_dim",
  "decoder_layer_num",
  "decoder_ffn_embed_dim_avg",
  "decoder_self_attention_heads_avg",
  "decoder_ende_attention_heads_avg",
  "decoder_arbitrary_ende_attn_avg",
] as const;

/** Special token ids, fairseq's dictionary convention. The decoder starts from EOS, as fairseq does. */
export const SPECIALS = { bos: 0, pad: 1, eos: 2, unk: 3 } as const;
