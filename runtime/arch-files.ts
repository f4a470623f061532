/**
 * Arch and space files: project JSON, or HAT's YAML configs. The one arch module that touches
 * the file system; everything else about architectures is pure (arch.ts and its siblings).
 */
import { readFileSync } from "node:fs";
import { ArchError } from "./arch-error.js";
import { parseArchText, parseSpaceText } from "./arch-text.js";
import type { Space, ValidArch } from "./types.js";

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ArchError("", `cannot read the file (${(e as Error).message})`, path);
  }
}

/** Reads an Arch file (project JSON, or a HAT SubTransformer YAML). */
export function loadArch(path: string, space?: Space): ValidArch {
  return parseArchText(readText(path), path, space);
}

/** Reads a Space file (project JSON, or a HAT SuperTransformer YAML such as space0.yml). */
export function loadSpace(path: string): Space {
  return parseSpaceText(readText(path), path);
}
