/**
 * Architectures and spaces from parsed objects or JSON / YAML text, in either form: the
 * project's (arch.ts) or HAT's (arch-hat.ts). An object with any hyphenated key is read as HAT's
 * form. Pure: no I/O (arch-files.ts reads files).
 */
import { parseDocument } from "yaml";
import { ArchError, asRecord, fail, rethrow, type Rec } from "./arch-error.js";
import { archFromHatYaml, spaceFromHatYaml } from "./arch-hat.js";
import { ARCH_KEYS, SPACE_KEYS, validateArch, validateSpace } from "./arch.js";
import type { Space, ValidArch } from "./types.js";

/** True when an object uses HAT's keys: project keys are camelCase, HAT's are hyphenated. */
function isHatForm(rec: Rec): boolean {
  return Object.keys(rec).some((k) => k.includes("-"));
}

function rejectMixedForms(rec: Rec, projectKeys: readonly string[]): void {
  const mixed = Object.keys(rec).find((k) => projectKeys.includes(k));
  if (mixed) fail(mixed, "is a project key in a config written with HAT's keys: use one form");
}

/** An Arch from a parsed object in either form (detected), checked against the space if given. */
export function archFromObject(obj: unknown, space?: Space, source?: string): ValidArch {
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

/** A file name's extension, lower-cased, as node:path's extname finds it ("" for none or a dotfile). */
function extensionOf(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot).toLowerCase() : "";
}

function formatOf(text: string, fileName?: string): TextFormat {
  const ext = fileName ? extensionOf(fileName) : "";
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
export function parseArchText(text: string, fileName?: string, space?: Space): ValidArch {
  return archFromObject(parseText(text, fileName), space, fileName);
}

/** A Space from JSON or YAML text, in the project's form or HAT's. */
export function parseSpaceText(text: string, fileName?: string): Space {
  return spaceFromObject(parseText(text, fileName), fileName);
}
