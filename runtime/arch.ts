/**
 * Architectures (SubTransformers) and design spaces: validation, HAT's config form, the 10 latency
 * features, sampling, canonical keys and parameter counts (docs/method.md §1, §5).
 *
 * Two input forms are accepted everywhere:
 *   - the project's form: the `Arch` / `Space` interfaces of types.ts, camelCase keys, unknown keys
 *     rejected;
 *   - HAT's form: its YAML keys (`encoder-embed-dim-subtransformer`, `encoder-embed-choice`, ...),
 *     encoder-decoder attention coded -1 / 1 / 2 for the last 1 / 2 / 3 encoder layers. Other keys
 *     are ignored, as HAT's config files also carry training settings.
 * An object with any hyphenated key is read as HAT's form. Every error is an `ArchError` naming the
 * field, in the form the input used.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parseDocument } from "yaml";
import type { Arch, Space, SuperDims } from "./types.js";
import { InputError } from "./errors.js";

// ---------------------------------------------------------------------------------------------
// Errors

/** An invalid architecture or space. `field` names the offending field ("" for the whole input). */
export class ArchError extends InputError {
  override name = "ArchError";
  constructor(
    readonly field: string,
    readonly detail: string,
    readonly source?: string,
  ) {
    super([source, field, detail].filter(Boolean).join(": "));
  }
}

function fail(field: string, detail: string): never {
  throw new ArchError(field, detail);
}

/** Runs f, rewriting the ArchErrors it throws: the field through `mapField`, the source if unset. */
function rethrow<T>(f: () => T, source?: string, mapField: (field: string) => string = (x) => x): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof ArchError)) throw e;
    throw new ArchError(mapField(e.field), e.detail, e.source ?? source);
  }
}

// ---------------------------------------------------------------------------------------------
// Key tables

type ChoiceKey = Exclude<keyof Space, "qkvDim">;

/** Arch keys in interface order: the canonical order of archKey and of validated copies. */
const ARCH_KEYS = [
  "encoderEmbedDim", "decoderEmbedDim", "encoderLayers", "decoderLayers",
  "encoderFfnDims", "encoderHeads", "decoderFfnDims", "decoderSelfHeads", "decoderCrossHeads",
  "decoderEndeLayers", "qkvDim",
] as const satisfies readonly (keyof Arch)[];

const SPACE_KEYS = [
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
// Value checks (they throw ArchErrors without a source; the exported functions add it)

type Rec = Record<string, unknown>;

function show(v: unknown): string {
  return v === undefined ? "nothing" : JSON.stringify(v) ?? String(v);
}

function asRecord(v: unknown, what: string): Rec {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail("", `expected ${what} object, got ${show(v)}`);
  return v as Rec;
}

function rejectUnknownKeys(rec: Rec, known: readonly string[]): void {
  const unknown = Object.keys(rec).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    fail(unknown[0], `unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} (known: ${known.join(", ")})`);
  }
}

function int(v: unknown, field: string): number {
  if (v === undefined) fail(field, "missing");
  if (typeof v !== "number" || !Number.isInteger(v)) fail(field, `${show(v)} is not an integer`);
  return v;
}

function posInt(v: unknown, field: string): number {
  const n = int(v, field);
  if (n <= 0) fail(field, `${n} is not a positive integer`);
  return n;
}

function list(v: unknown, field: string): unknown[] {
  if (v === undefined) fail(field, "missing");
  if (!Array.isArray(v)) fail(field, `expected a list, got ${show(v)}`);
  return v;
}

function posIntList(v: unknown, field: string): number[] {
  return list(v, field).map((x, i) => posInt(x, `${field}[${i}]`));
}

function fmtChoices(xs: readonly number[]): string {
  return `[${[...xs].sort((a, b) => a - b).join(", ")}]`;
}

function mustBeChoice(v: number, choices: readonly number[], field: string): void {
  if (!choices.includes(v)) fail(field, `${v} is not one of the space's choices ${fmtChoices(choices)}`);
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Checks an Arch in the project's form (and, given a space, that it is one of its SubTransformers); returns a clean copy. */
export function validateArch(obj: unknown, space?: Space, source?: string): Arch {
  return rethrow(() => {
    const rec = asRecord(obj, "an architecture");
    rejectUnknownKeys(rec, ARCH_KEYS);
    const arch = readArch(rec);
    checkArchShape(arch);
    if (space) checkArchInSpace(arch, space);
    return arch;
  }, source);
}

function readArch(rec: Rec): Arch {
  const arch: Partial<Record<keyof Arch, number | number[]>> = {};
  for (const k of ARCH_KEYS) {
    arch[k] = (SCALAR_KEYS as readonly string[]).includes(k) ? posInt(rec[k], k) : posIntList(rec[k], k);
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
      space.qkvDim = posInt(rec.qkvDim, k);
      continue;
    }
    const xs = posIntList(rec[k], k);
    if (xs.length === 0) fail(k, "has no choices");
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

// ---------------------------------------------------------------------------------------------
// HAT's config form

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
export function archFromHatYaml(obj: unknown, space?: Space, source?: string): Arch {
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

// ---------------------------------------------------------------------------------------------
// Text and files

/** True when an object uses HAT's keys: project keys are camelCase, HAT's are hyphenated. */
function isHatForm(rec: Rec): boolean {
  return Object.keys(rec).some((k) => k.includes("-"));
}

function rejectMixedForms(rec: Rec, projectKeys: readonly string[]): void {
  const mixed = Object.keys(rec).find((k) => projectKeys.includes(k));
  if (mixed) fail(mixed, "is a project key in a config written with HAT's keys: use one form");
}

/** An Arch from a parsed object in either form (detected), checked against the space if given. */
export function archFromObject(obj: unknown, space?: Space, source?: string): Arch {
  return rethrow(() => {
    const rec = asRecord(obj, "an architecture");
    if (!isHatForm(rec)) return validateArch(rec, space);
    rejectMixedForms(rec, ARCH_KEYS);
    return archFromHatYaml(rec, space);
  }, source);
}

/** A Space from a parsed object in either form (detected). */
export function spaceFromObject(obj: unknown, source?: string): Space {
  return rethrow(() => {
    const rec = asRecord(obj, "a design space");
    if (!isHatForm(rec)) return validateSpace(rec);
    rejectMixedForms(rec, SPACE_KEYS);
    return spaceFromHatYaml(rec);
  }, source);
}

type TextFormat = "json" | "yaml";

function formatOf(text: string, fileName?: string): TextFormat {
  const ext = fileName ? extname(fileName).toLowerCase() : "";
  if (ext === ".json") return "json";
  if (ext === ".yml" || ext === ".yaml") return "yaml";
  return /^\s*[{[]/.test(text) ? "json" : "yaml";
}

function lineCol(text: string, pos: number): { line: number; col: number } {
  const before = text.slice(0, pos).split("\n");
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

function parseJson(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /at position (\d+)/.exec(msg);
    const { line, col } = lineCol(text, at ? Number(at[1]) : text.length);
    throw new ArchError("", `malformed JSON: ${msg.replace(/ in JSON at position \d+.*$/, "")}`, `${name}:${line}:${col}`);
  }
}

function parseYaml(text: string, name: string): unknown {
  const doc = parseDocument(text);
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? `${name}:${pos.line}:${pos.col}` : name;
    const msg = err.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new ArchError("", `malformed YAML: ${msg}`, where);
  }
  return doc.toJS();
}

/** Parses JSON or YAML: by the file's extension (.json, .yml, .yaml), else by the content. */
function parseText(text: string, fileName?: string): unknown {
  const name = fileName ?? "input";
  return formatOf(text, fileName) === "json" ? parseJson(text, name) : parseYaml(text, name);
}

/** An Arch from JSON or YAML text, in the project's form or HAT's; checked against the space if given. */
export function parseArchText(text: string, fileName?: string, space?: Space): Arch {
  return archFromObject(parseText(text, fileName), space, fileName);
}

/** A Space from JSON or YAML text, in the project's form or HAT's. */
export function parseSpaceText(text: string, fileName?: string): Space {
  return spaceFromObject(parseText(text, fileName), fileName);
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ArchError("", `cannot read the file (${(e as Error).message})`, path);
  }
}

/** Reads an Arch file (project JSON, or a HAT SubTransformer YAML). */
export function loadArch(path: string, space?: Space): Arch {
  return parseArchText(readText(path), path, space);
}

/** Reads a Space file (project JSON, or a HAT SuperTransformer YAML such as space0.yml). */
export function loadSpace(path: string): Space {
  return parseSpaceText(readText(path), path);
}

// ---------------------------------------------------------------------------------------------
// Features, sampling, keys, sizes

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** HAT's 10 latency features, in HAT_FEATURE_NAMES order (ende: mean number of encoder layers attended, 1..3). */
export function hatFeatures(a: Arch): number[] {
  return [
    a.encoderEmbedDim,
    a.encoderLayers,
    mean(a.encoderFfnDims),
    mean(a.encoderHeads),
    a.decoderEmbedDim,
    a.decoderLayers,
    mean(a.decoderFfnDims),
    mean(a.decoderSelfHeads),
    mean(a.decoderCrossHeads),
    mean(a.decoderEndeLayers),
  ];
}

/** An Arch built by one rule `pick` applied to every choice list, per layer for the per-layer ones. */
function buildArch(space: Space, pick: (choices: number[]) => number): Arch {
  const encoderEmbedDim = pick(space.encoderEmbedChoices);
  const decoderEmbedDim = pick(space.decoderEmbedChoices);
  const encoderLayers = pick(space.encoderLayerChoices);
  const decoderLayers = pick(space.decoderLayerChoices);
  const perLayer = (n: number, choices: number[]) => Array.from({ length: n }, () => pick(choices));
  const encoderFfnDims = perLayer(encoderLayers, space.encoderFfnChoices);
  const encoderHeads = perLayer(encoderLayers, space.encoderHeadChoices);
  const decoderFfnDims = perLayer(decoderLayers, space.decoderFfnChoices);
  const decoderSelfHeads = perLayer(decoderLayers, space.decoderSelfHeadChoices);
  const decoderCrossHeads = perLayer(decoderLayers, space.decoderCrossHeadChoices);
  const decoderEndeLayers = perLayer(decoderLayers, space.endeLayerChoices);
  return {
    encoderEmbedDim, decoderEmbedDim, encoderLayers, decoderLayers, encoderFfnDims, encoderHeads,
    decoderFfnDims, decoderSelfHeads, decoderCrossHeads, decoderEndeLayers, qkvDim: space.qkvDim,
  };
}

/** A uniformly random SubTransformer: every choice independent, per-layer ones per layer (HAT's sampling). */
export function sampleArch(space: Space, rng: () => number): Arch {
  return buildArch(space, (xs) => xs[Math.min(xs.length - 1, Math.floor(rng() * xs.length))]);
}

/** The largest SubTransformer: the largest value of every choice (the SuperTransformer itself). */
export function largestArch(space: Space): Arch {
  return buildArch(space, (xs) => Math.max(...xs));
}

/** The smallest SubTransformer: the smallest value of every choice. */
export function smallestArch(space: Space): Arch {
  return buildArch(space, (xs) => Math.min(...xs));
}

/** A canonical string of an Arch (fixed key order, no whitespace), for caches and deduplication. */
export function archKey(arch: Arch): string {
  return JSON.stringify(Object.fromEntries(ARCH_KEYS.map((k) => [k, arch[k]])));
}

/**
 * Parameters of the SubTransformer (docs/runtime.md's layout): the shared embedding [V, max(De, Dd)]
 * once, tied output projection and sinusoidal positions add none.
 */
export function archParams(a: Arch, vocabSize: number): number {
  const Q = a.qkvDim, De = a.encoderEmbedDim, Dd = a.decoderEmbedDim;
  const linear = (inDim: number, outDim: number) => inDim * outDim + outDim;
  const norm = (d: number) => 2 * d;
  const attention = (dQuery: number, dKeyValue: number) => linear(dQuery, Q) + 2 * linear(dKeyValue, Q) + linear(Q, dQuery);
  const ffn = (d: number, F: number) => linear(d, F) + linear(F, d);
  let n = vocabSize * Math.max(De, Dd);
  for (const F of a.encoderFfnDims) n += attention(De, De) + norm(De) + ffn(De, F) + norm(De);
  for (const F of a.decoderFfnDims) {
    n += attention(Dd, Dd) + norm(Dd) + attention(Dd, De) + norm(Dd) + ffn(Dd, F) + norm(Dd);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Spaces

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

/** The smallest space holding exactly `arch`: its SuperTransformer is the arch (per-layer FFN
 *  dims padded to the largest). Used to train one SubTransformer from scratch. */
export function spaceOfArch(arch: Arch): Space {
  const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => b - a);
  return validateSpace({
    encoderEmbedChoices: [arch.encoderEmbedDim], decoderEmbedChoices: [arch.decoderEmbedDim],
    encoderFfnChoices: uniq(arch.encoderFfnDims), decoderFfnChoices: uniq(arch.decoderFfnDims),
    encoderLayerChoices: [arch.encoderLayers], decoderLayerChoices: [arch.decoderLayers],
    encoderHeadChoices: uniq(arch.encoderHeads), decoderSelfHeadChoices: uniq(arch.decoderSelfHeads),
    decoderCrossHeadChoices: uniq(arch.decoderCrossHeads), endeLayerChoices: uniq(arch.decoderEndeLayers),
    qkvDim: arch.qkvDim,
  });
}
