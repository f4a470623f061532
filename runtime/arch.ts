/**
 * Architectures (SubTransformers) and design spaces in the project's form: the `Arch` / `Space`
 * interfaces of types.ts, camelCase keys, unknown keys rejected (docs/method.md §1). Validation,
 * the key tables the other arch modules share, and a space's SuperTransformer dims. Pure: no I/O.
 *
 * The other arch modules, by concern:
 *   arch-error.ts     ArchError and the value checks every reader shares
 *   arch-hat.ts       HAT's YAML config form, both ways
 *   arch-text.ts      JSON or YAML text and parsed objects in either form (detected)
 *   arch-files.ts     reading arch and space files (the only one that touches node:fs)
 *   arch-sample.ts    SubTransformers built from a space: sampled, largest, smallest; spaceOfArch
 *   arch-features.ts  HAT's latency features, parameter counts, canonical keys
 *   spaces.ts         the built-in spaces
 * Every error is an `ArchError` naming the field, in the form the input used.
 *
 * A `ValidArch` (types.ts) is an Arch that code can trust without checking it again. Two ways
 * make one: validateArch, through which every reader of outside input goes (archFromObject,
 * archFromHatYaml, parseArchText, loadArch all end in it), and `builtFromSpace`, for the
 * architectures the code builds itself from a space's choices. Checking an arch against a
 * particular space or model is a different question: `archInSpace`.
 */
import { asRecord, fail, posInt, posIntList, rejectUnknownKeys, rethrow, type Rec } from "./arch-error.js";
import type { Arch, Space, SuperDims, ValidArch } from "./types.js";

// ---------------------------------------------------------------------------------------------
// Key tables

export type ChoiceKey = Exclude<keyof Space, "qkvDim">;

/** Arch keys in interface order: the canonical order of archKey and of validated copies. */
export const ARCH_KEYS = [
  "encoderEmbedDim", "decoderEmbedDim", "encoderLayers", "decoderLayers",
  "encoderFfnDims", "encoderHeads", "decoderFfnDims", "decoderSelfHeads", "decoderCrossHeads",
  "decoderEndeLayers", "qkvDim",
] as const satisfies readonly (keyof Arch)[];

export const SPACE_KEYS = [
  "encoderEmbedChoices", "decoderEmbedChoices", "encoderFfnChoices", "decoderFfnChoices",
  "encoderLayerChoices", "decoderLayerChoices", "encoderHeadChoices", "decoderSelfHeadChoices",
  "decoderCrossHeadChoices", "endeLayerChoices", "qkvDim",
] as const satisfies readonly (keyof Space)[];

type ScalarKey = "encoderEmbedDim" | "decoderEmbedDim" | "encoderLayers" | "decoderLayers" | "qkvDim";
type ListKey = Exclude<keyof Arch, ScalarKey>;
const SCALAR_KEYS: readonly ScalarKey[] = ["encoderEmbedDim", "decoderEmbedDim", "encoderLayers", "decoderLayers", "qkvDim"];
const ENCODER_LISTS: readonly ListKey[] = ["encoderFfnDims", "encoderHeads"];
const DECODER_LISTS: readonly ListKey[] = ["decoderFfnDims", "decoderSelfHeads", "decoderCrossHeads", "decoderEndeLayers"];
const HEAD_LISTS: readonly ListKey[] = ["encoderHeads", "decoderSelfHeads", "decoderCrossHeads"];

/** The space's choice list each arch field must come from. */
const CHOICE_OF: Record<Exclude<keyof Arch, "qkvDim">, ChoiceKey> = {
  encoderEmbedDim: "encoderEmbedChoices",
  decoderEmbedDim: "decoderEmbedChoices",
  encoderLayers: "encoderLayerChoices",
  decoderLayers: "decoderLayerChoices",
  encoderFfnDims: "encoderFfnChoices",
  encoderHeads: "encoderHeadChoices",
  decoderFfnDims: "decoderFfnChoices",
  decoderSelfHeads: "decoderSelfHeadChoices",
  decoderCrossHeads: "decoderCrossHeadChoices",
  decoderEndeLayers: "endeLayerChoices",
};

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * The largest values a design space or an architecture may hold (HAT's largest spaces use embed
 * 1024, FFN 4096, 16 heads, qkv 1024 and 6 layers: these leave room and stop a space or arch from
 * outside sizing an allocation at will). An architecture within them can still be too large for
 * the wasm's 4 GiB: that is checked from its tensor bytes before anything is allocated
 * (runtime/wasm.ts checkWasmFits).
 */
export const SPACE_LIMITS = {
  /** encoder/decoder embedding dims (and a model file's positionDims). */
  embedDim: 4096,
  /** FFN hidden dims. */
  ffnDim: 16384,
  /** the q/k/v width. */
  qkvDim: 4096,
  /** attention heads. */
  heads: 64,
  /** encoder or decoder layers. */
  layers: 24,
  /** choices in one of a space's lists. */
  choices: 64,
} as const;

/** The limit each field's values are checked against (endeLayer ones are 1..3, checked below). */
const LIMIT_OF: Partial<Record<keyof Arch | keyof Space, keyof typeof SPACE_LIMITS>> = {
  encoderEmbedDim: "embedDim", decoderEmbedDim: "embedDim", encoderEmbedChoices: "embedDim", decoderEmbedChoices: "embedDim",
  encoderFfnDims: "ffnDim", decoderFfnDims: "ffnDim", encoderFfnChoices: "ffnDim", decoderFfnChoices: "ffnDim",
  encoderLayers: "layers", decoderLayers: "layers", encoderLayerChoices: "layers", decoderLayerChoices: "layers",
  encoderHeads: "heads", decoderSelfHeads: "heads", decoderCrossHeads: "heads",
  encoderHeadChoices: "heads", decoderSelfHeadChoices: "heads", decoderCrossHeadChoices: "heads",
  qkvDim: "qkvDim",
};

/** `v` (the value of `field`, a key or `key[i]`), checked against its key's limit. */
function withinLimit(key: keyof Arch | keyof Space, v: number, field: string = key): number {
  const limit = LIMIT_OF[key];
  if (limit && v > SPACE_LIMITS[limit]) fail(field, `${v} is above the maximum ${SPACE_LIMITS[limit]} (SPACE_LIMITS.${limit})`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Validation

function fmtChoices(xs: readonly number[]): string {
  return `[${[...xs].sort((a, b) => a - b).join(", ")}]`;
}

function mustBeChoice(v: number, choices: readonly number[], field: string): void {
  if (!choices.includes(v)) fail(field, `${v} is not one of the space's choices ${fmtChoices(choices)}`);
}

/** Checks an Arch in the project's form (and, given a space, that it is one of its SubTransformers); returns a clean copy. */
export function validateArch(obj: unknown, space?: Space, source?: string): ValidArch {
  return rethrow(() => {
    const rec = asRecord(obj, "an architecture");
    rejectUnknownKeys(rec, ARCH_KEYS);
    const arch = readArch(rec);
    checkArchShape(arch);
    if (space) checkArchInSpace(arch, space);
    return arch as ValidArch;
  }, source);
}

/** `arch`, checked to be one of the SubTransformers of `space` (every choice one of its, the same qkvDim). */
export function archInSpace(arch: ValidArch, space: Space, source?: string): ValidArch {
  return rethrow(() => {
    checkArchInSpace(arch, space);
    return arch;
  }, source);
}

/**
 * The one way other than validateArch to make a ValidArch: for an architecture the code built
 * itself from the choices of a valid space (one that passed validateSpace, or a built-in one),
 * with `n` entries in each per-layer list for n layers and qkvDim the space's. Such an arch passes
 * validateArch by construction: its values are the space's positive integer choices, its lists
 * have the lengths validateArch checks, and validateSpace checked the rest against every choice
 * (heads divide qkvDim; encoder layers attended are in 1..3 and at most the fewest encoder
 * layers). Used by arch-sample.ts and the search's genome decoding; tests check both against
 * validateArch. Anything read from outside goes through validateArch instead.
 */
export function builtFromSpace(arch: Arch): ValidArch {
  return arch as ValidArch;
}

function readArch(rec: Rec): Arch {
  const arch: Partial<Record<keyof Arch, number | number[]>> = {};
  for (const k of ARCH_KEYS) {
    if ((SCALAR_KEYS as readonly string[]).includes(k)) arch[k] = withinLimit(k, posInt(rec[k], k));
    else {
      const xs = posIntList(rec[k], k);
      if (xs.length > SPACE_LIMITS.layers) fail(k, `has ${xs.length} entries, above the maximum ${SPACE_LIMITS.layers} layers (SPACE_LIMITS.layers)`);
      arch[k] = xs.map((x, i) => withinLimit(k, x, `${k}[${i}]`));
    }
  }
  return arch as unknown as Arch;
}

/** Constraints that hold in every space: list lengths, heads dividing qkvDim, ende layers in range. */
function checkArchShape(a: Arch): void {
  for (const k of ENCODER_LISTS) {
    if (a[k].length !== a.encoderLayers) fail(k, `has ${a[k].length} entries, but encoderLayers is ${a.encoderLayers}`);
  }
  for (const k of DECODER_LISTS) {
    if (a[k].length !== a.decoderLayers) fail(k, `has ${a[k].length} entries, but decoderLayers is ${a.decoderLayers}`);
  }
  for (const k of HEAD_LISTS) {
    a[k].forEach((h, i) => {
      if (a.qkvDim % h !== 0) fail(`${k}[${i}]`, `qkvDim ${a.qkvDim} is not divisible by ${h} heads`);
    });
  }
  a.decoderEndeLayers.forEach((k, i) => {
    const field = `decoderEndeLayers[${i}]`;
    if (k > 3) fail(field, `${k} is not in 1..3 (the number of last encoder layers attended)`);
    if (k > a.encoderLayers) fail(field, `attends the last ${k} encoder layers, but encoderLayers is ${a.encoderLayers}`);
  });
}

function checkArchInSpace(a: Arch, space: Space): void {
  for (const [k, choiceKey] of Object.entries(CHOICE_OF) as [Exclude<keyof Arch, "qkvDim">, ChoiceKey][]) {
    const v = a[k];
    if (Array.isArray(v)) v.forEach((x, i) => mustBeChoice(x, space[choiceKey], `${k}[${i}]`));
    else mustBeChoice(v, space[choiceKey], k);
  }
  if (a.qkvDim !== space.qkvDim) fail("qkvDim", `${a.qkvDim} does not equal the space's qkvDim ${space.qkvDim}`);
}

/** Checks a Space in the project's form; returns a clean copy. */
export function validateSpace(obj: unknown, source?: string): Space {
  return rethrow(() => {
    const rec = asRecord(obj, "a design space");
    rejectUnknownKeys(rec, SPACE_KEYS);
    const space = readSpace(rec);
    checkSpace(space);
    return space;
  }, source);
}

function readSpace(rec: Rec): Space {
  const space: Partial<Record<keyof Space, number | number[]>> = {};
  for (const k of SPACE_KEYS) {
    if (k === "qkvDim") {
      space.qkvDim = withinLimit(k, posInt(rec.qkvDim, k));
      continue;
    }
    const xs = posIntList(rec[k], k);
    if (xs.length === 0) fail(k, "has no choices");
    if (xs.length > SPACE_LIMITS.choices) fail(k, `has ${xs.length} choices, above the maximum ${SPACE_LIMITS.choices} (SPACE_LIMITS.choices)`);
    xs.forEach((x, i) => withinLimit(k, x, `${k}[${i}]`));
    xs.forEach((x, i) => {
      if (xs.indexOf(x) !== i) fail(`${k}[${i}]`, `${x} is a duplicate choice`);
    });
    space[k] = xs;
  }
  return space as unknown as Space;
}

function checkSpace(s: Space): void {
  for (const k of ["encoderHeadChoices", "decoderSelfHeadChoices", "decoderCrossHeadChoices"] as const) {
    s[k].forEach((h, i) => {
      if (s.qkvDim % h !== 0) fail(`${k}[${i}]`, `qkvDim ${s.qkvDim} is not divisible by ${h} heads`);
    });
  }
  const fewestEncoderLayers = Math.min(...s.encoderLayerChoices);
  s.endeLayerChoices.forEach((k, i) => {
    const field = `endeLayerChoices[${i}]`;
    if (k > 3) fail(field, `${k} is not in 1..3 (the number of last encoder layers attended)`);
    if (k > fewestEncoderLayers) fail(field, `${k} exceeds the smallest encoder layer choice ${fewestEncoderLayers}`);
  });
}

/** The largest dims of a space: the SuperTransformer's shapes. */
export function superDims(space: Space): SuperDims {
  const max = (xs: number[]) => Math.max(...xs);
  return {
    encoderEmbedDim: max(space.encoderEmbedChoices),
    decoderEmbedDim: max(space.decoderEmbedChoices),
    encoderFfnDim: max(space.encoderFfnChoices),
    decoderFfnDim: max(space.decoderFfnChoices),
    encoderLayers: max(space.encoderLayerChoices),
    decoderLayers: max(space.decoderLayerChoices),
    qkvDim: space.qkvDim,
  };
}
