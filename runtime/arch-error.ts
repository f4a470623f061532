/**
 * The error of every architecture and space reader, and the value checks they share. The checks
 * throw ArchErrors without a source; the exported readers add it (`rethrow`).
 */
import { InputError } from "./errors.js";

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

export function fail(field: string, detail: string): never {
  throw new ArchError(field, detail);
}

/** Runs f, rewriting the ArchErrors it throws: the field through `mapField`, the source if unset. */
export function rethrow<T>(f: () => T, source?: string, mapField: (field: string) => string = (x) => x): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof ArchError)) throw e;
    throw new ArchError(mapField(e.field), e.detail, e.source ?? source);
  }
}

export type Rec = Record<string, unknown>;

function show(v: unknown): string {
  return v === undefined ? "nothing" : JSON.stringify(v) ?? String(v);
}

export function asRecord(v: unknown, what: string): Rec {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail("", `expected ${what} object, got ${show(v)}`);
  return v as Rec;
}

export function rejectUnknownKeys(rec: Rec, known: readonly string[]): void {
  const unknown = Object.keys(rec).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    fail(unknown[0], `unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} (known: ${known.join(", ")})`);
  }
}

export function int(v: unknown, field: string): number {
  if (v === undefined) fail(field, "missing");
  if (typeof v !== "number" || !Number.isInteger(v)) fail(field, `${show(v)} is not an integer`);
  return v;
}

export function posInt(v: unknown, field: string): number {
  const n = int(v, field);
  if (n <= 0) fail(field, `${n} is not a positive integer`);
  return n;
}

export function list(v: unknown, field: string): unknown[] {
  if (v === undefined) fail(field, "missing");
  if (!Array.isArray(v)) fail(field, `expected a list, got ${show(v)}`);
  return v;
}

export function posIntList(v: unknown, field: string): number[] {
  return list(v, field).map((x, i) => posInt(x, `${field}[${i}]`));
}
