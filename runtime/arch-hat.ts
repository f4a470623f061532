/**
 * HAT's config form (docs/method.md §1): its YAML keys (`encoder-embed-dim-subtransformer`,
 * `encoder-embed-choice`, ...), encoder-decoder attention coded -1 / 1 / 2 for the last 1 / 2 / 3
 * encoder layers. Other keys are ignored, as HAT's config files also carry training settings.
 * Errors name HAT's keys. Pure: no I/O.
 */
import { asRecord, fail, int, list, posInt, rethrow, type Rec } from "./arch-error.js";
import { SPACE_KEYS, validateArch, validateSpace, type ChoiceKey } from "./arch.js";
import type { Arch, Space, ValidArch } from "./types.js";

/** HAT's SubTransformer config keys. */
const HAT_ARCH_KEYS: Record<keyof Arch, string> = {
  encoderEmbedDim: "encoder-embed-dim-subtransformer",
  decoderEmbedDim: "decoder-embed-dim-subtransformer",
  encoderLayers: "encoder-layer-num-subtransformer",
  decoderLayers: "decoder-layer-num-subtransformer",
  encoderFfnDims: "encoder-ffn-embed-dim-all-subtransformer",
  encoderHeads: "encoder-self-attention-heads-all-subtransformer",
  decoderFfnDims: "decoder-ffn-embed-dim-all-subtransformer",
  decoderSelfHeads: "decoder-self-attention-heads-all-subtransformer",
  decoderCrossHeads: "decoder-ende-attention-heads-all-subtransformer",
  decoderEndeLayers: "decoder-arbitrary-ende-attn-all-subtransformer",
  qkvDim: "qkv-dim",
};

/** HAT's search-space config keys. */
const HAT_SPACE_KEYS: Record<keyof Space, string> = {
  encoderEmbedChoices: "encoder-embed-choice",
  decoderEmbedChoices: "decoder-embed-choice",
  encoderFfnChoices: "encoder-ffn-embed-dim-choice",
  decoderFfnChoices: "decoder-ffn-embed-dim-choice",
  encoderLayerChoices: "encoder-layer-num-choice",
  decoderLayerChoices: "decoder-layer-num-choice",
  encoderHeadChoices: "encoder-self-attention-heads-choice",
  decoderSelfHeadChoices: "decoder-self-attention-heads-choice",
  decoderCrossHeadChoices: "decoder-ende-attention-heads-choice",
  endeLayerChoices: "decoder-arbitrary-ende-attn-choice",
  qkvDim: "qkv-dim",
};

/** HAT's SuperTransformer dims in a space file, and the choice lists each must cover. */
const HAT_SUPER_KEYS: readonly [string, readonly ChoiceKey[]][] = [
  ["encoder-embed-dim", ["encoderEmbedChoices"]],
  ["decoder-embed-dim", ["decoderEmbedChoices"]],
  ["encoder-ffn-embed-dim", ["encoderFfnChoices"]],
  ["decoder-ffn-embed-dim", ["decoderFfnChoices"]],
  ["encoder-layers", ["encoderLayerChoices"]],
  ["decoder-layers", ["decoderLayerChoices"]],
  ["encoder-attention-heads", ["encoderHeadChoices"]],
  ["decoder-attention-heads", ["decoderSelfHeadChoices", "decoderCrossHeadChoices"]],
];

/** HAT's qkv-dim, the default when a HAT config leaves it out. */
const HAT_QKV_DIM = 512;

/** HAT's arbitrary encoder-decoder attention codes -> number of last encoder layers attended. */
const ENDE_LAYERS_OF_CODE = new Map([[-1, 1], [1, 2], [2, 3]]);

function endeLayersOfCode(code: number, field: string): number {
  return ENDE_LAYERS_OF_CODE.get(code) ?? fail(field, `${code} is not a HAT encoder-decoder attention code (-1, 1 or 2)`);
}

function endeCodeOfLayers(k: number): number {
  if (k === 1) return -1;
  if (k === 2 || k === 3) return k - 1;
  return fail("decoderEndeLayers", `${k} is not in 1..3`);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Maps a project field name (`decoderFfnDims[2]`) to HAT's (`decoder-ffn-embed-dim-all-subtransformer[2]`). */
function hatField(keys: Record<string, string>): (field: string) => string {
  return (field) => {
    const m = /^(\w+)(.*)$/.exec(field);
    return m && m[1] in keys ? keys[m[1]] + m[2] : field;
  };
}

/** The first n entries of a HAT per-layer list (HAT ignores the rest), as integers. */
function hatLayerList(rec: Rec, key: string, n: number): number[] {
  const xs = list(rec[key], key);
  if (xs.length < n) fail(key, `has ${xs.length} entries, fewer than the ${n} layers`);
  return xs.slice(0, n).map((x, i) => int(x, `${key}[${i}]`));
}

/**
 * Reads a SubTransformer in HAT's config keys. Per-layer lists may be longer than the layer count
 * (the first n entries are used); a shorter one is an error. Without `qkv-dim` the space's qkvDim
 * is used when a space is given, else HAT's 512. Errors name HAT's keys.
 */
export function archFromHatYaml(obj: unknown, space?: Space, source?: string): ValidArch {
  return rethrow(() => {
    const rec = asRecord(obj, "an architecture");
    const K = HAT_ARCH_KEYS;
    const encoderLayers = posInt(rec[K.encoderLayers], K.encoderLayers);
    const decoderLayers = posInt(rec[K.decoderLayers], K.decoderLayers);
    const endeCodes = hatLayerList(rec, K.decoderEndeLayers, decoderLayers);
    const arch: Arch = {
      encoderEmbedDim: int(rec[K.encoderEmbedDim], K.encoderEmbedDim),
      decoderEmbedDim: int(rec[K.decoderEmbedDim], K.decoderEmbedDim),
      encoderLayers,
      decoderLayers,
      encoderFfnDims: hatLayerList(rec, K.encoderFfnDims, encoderLayers),
      encoderHeads: hatLayerList(rec, K.encoderHeads, encoderLayers),
      decoderFfnDims: hatLayerList(rec, K.decoderFfnDims, decoderLayers),
      decoderSelfHeads: hatLayerList(rec, K.decoderSelfHeads, decoderLayers),
      decoderCrossHeads: hatLayerList(rec, K.decoderCrossHeads, decoderLayers),
      decoderEndeLayers: endeCodes.map((c, i) => endeLayersOfCode(c, `${K.decoderEndeLayers}[${i}]`)),
      qkvDim: rec[K.qkvDim] === undefined ? (space?.qkvDim ?? HAT_QKV_DIM) : int(rec[K.qkvDim], K.qkvDim),
    };
    return rethrow(() => validateArch(arch, space), undefined, hatField(HAT_ARCH_KEYS));
  }, source);
}

/**
 * Reads a design space in HAT's config keys (a SuperTransformer config file such as space0.yml).
 * Without `qkv-dim`, HAT's 512. SuperTransformer dims (`encoder-embed-dim`, ...), when present,
 * must be at least the largest choice. Errors name HAT's keys.
 */
export function spaceFromHatYaml(obj: unknown, source?: string): Space {
  return rethrow(() => {
    const rec = asRecord(obj, "a design space");
    const K = HAT_SPACE_KEYS;
    const ints = (k: ChoiceKey) => list(rec[K[k]], K[k]).map((x, i) => int(x, `${K[k]}[${i}]`));
    const space: Space = {
      encoderEmbedChoices: ints("encoderEmbedChoices"),
      decoderEmbedChoices: ints("decoderEmbedChoices"),
      encoderFfnChoices: ints("encoderFfnChoices"),
      decoderFfnChoices: ints("decoderFfnChoices"),
      encoderLayerChoices: ints("encoderLayerChoices"),
      decoderLayerChoices: ints("decoderLayerChoices"),
      encoderHeadChoices: ints("encoderHeadChoices"),
      decoderSelfHeadChoices: ints("decoderSelfHeadChoices"),
      decoderCrossHeadChoices: ints("decoderCrossHeadChoices"),
      endeLayerChoices: ints("endeLayerChoices").map((c, i) => endeLayersOfCode(c, `${K.endeLayerChoices}[${i}]`)),
      qkvDim: rec[K.qkvDim] === undefined ? HAT_QKV_DIM : int(rec[K.qkvDim], K.qkvDim),
    };
    const valid = rethrow(() => validateSpace(space), undefined, hatField(HAT_SPACE_KEYS));
    checkHatSuperDims(rec, valid);
    return valid;
  }, source);
}

function checkHatSuperDims(rec: Rec, space: Space): void {
  for (const [key, choiceKeys] of HAT_SUPER_KEYS) {
    if (rec[key] === undefined) continue;
    const dim = posInt(rec[key], key);
    for (const c of choiceKeys) {
      const largest = Math.max(...space[c]);
      if (dim < largest) fail(key, `${dim} is smaller than the largest choice ${largest} of ${HAT_SPACE_KEYS[c]}`);
    }
  }
}

const flow = (xs: readonly number[]) => `[${xs.join(", ")}]`;

const ENDE_COMMENT = [
  "# for arbitrary encoder decoder attention. -1 means attending to last one encoder layer",
  "# 1 means last two encoder layers, 2 means last three encoder layers",
];

/** A SubTransformer as HAT's config YAML (its layout, plus `qkv-dim`). */
export function archToHatYaml(arch: Arch): string {
  const K = HAT_ARCH_KEYS;
  return [
    `${K.encoderEmbedDim}: ${arch.encoderEmbedDim}`,
    `${K.decoderEmbedDim}: ${arch.decoderEmbedDim}`,
    "",
    `${K.encoderFfnDims}: ${flow(arch.encoderFfnDims)}`,
    `${K.decoderFfnDims}: ${flow(arch.decoderFfnDims)}`,
    "",
    `${K.encoderLayers}: ${arch.encoderLayers}`,
    `${K.decoderLayers}: ${arch.decoderLayers}`,
    "",
    `${K.encoderHeads}: ${flow(arch.encoderHeads)}`,
    `${K.decoderSelfHeads}: ${flow(arch.decoderSelfHeads)}`,
    `${K.decoderCrossHeads}: ${flow(arch.decoderCrossHeads)}`,
    "",
    ...ENDE_COMMENT,
    `${K.decoderEndeLayers}: ${flow(arch.decoderEndeLayers.map(endeCodeOfLayers))}`,
    "",
    `${K.qkvDim}: ${arch.qkvDim}`,
    "",
  ].join("\n");
}

/** A design space as HAT's SuperTransformer config YAML: the super dims, then the search space. */
export function spaceToHatYaml(space: Space): string {
  const K = HAT_SPACE_KEYS;
  const superLines = HAT_SUPER_KEYS.map(([key, cs]) => `${key}: ${Math.max(...cs.flatMap((c) => space[c]))}`);
  const choiceLines = SPACE_KEYS.filter((k) => k !== "qkvDim" && k !== "endeLayerChoices").map((k) => `${K[k]}: ${flow(space[k as ChoiceKey])}`);
  return [
    "# SuperTransformer configs",
    ...superLines,
    "",
    `${K.qkvDim}: ${space.qkvDim}`,
    "",
    "# SubTransformers search space",
    ...choiceLines,
    "",
    ...ENDE_COMMENT,
    `${K.endeLayerChoices}: ${flow(space.endeLayerChoices.map(endeCodeOfLayers))}`,
    "",
  ].join("\n");
}
