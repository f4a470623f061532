/** Small helpers over node:util parseArgs: typed integer flags with clear errors. */
import { loadSpace } from "../runtime/arch-files.js";
import { BUILTIN_SPACES } from "../runtime/spaces.js";
import type { Space } from "../runtime/types.js";
import { UsageError } from "./io.js";
import { QUANTS, type Quant } from "../runtime/int8.js";
import { MAX_THREADS } from "../runtime/threads.js";

export function intFlag(values: Record<string, unknown>, name: string, dflt: number, min = 1): number {
  const v = values[name];
  if (v === undefined) return dflt;
  const s = String(v);
  if (!/^-?\d+$/.test(s)) throw new UsageError(`--${name} must be an integer, got '${s}'`);
  const n = Number(s);
  if (n < min) throw new UsageError(`--${name} must be >= ${min}, got ${n}`);
  return n;
}

/** An integer flag without a default here (the library picks one): undefined when absent, checked (>= min) when given. */
export function optIntFlag(values: Record<string, unknown>, name: string, min = 1): number | undefined {
  return values[name] !== undefined ? intFlag(values, name, 0, min) : undefined;
}

/** A number flag without a default here: undefined when absent, checked (>= min) when given. */
export function optNumFlag(values: Record<string, unknown>, name: string, min = 0): number | undefined {
  return values[name] !== undefined ? numFlag(values, name, 0, min) : undefined;
}

export function requireFlag(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

/** A space file, or one of the built-in names: demo, wmt14 (HAT's space0.yml), iwslt14 (space1.yml). */
export function spaceArg(v: string): Space {
  return Object.hasOwn(BUILTIN_SPACES, v) ? BUILTIN_SPACES[v as keyof typeof BUILTIN_SPACES] : loadSpace(v);
}

export function numFlag(values: Record<string, unknown>, name: string, dflt: number, min = 0): number {
  const v = values[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (String(v).trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${String(v)}'`);
  if (n < min) throw new UsageError(`--${name} must be >= ${min}, got ${n}`);
  return n;
}

/** --quant f32|int8|linear8|kmeans8|kmeans4 (default f32): the form a model runs (runtime/protocol.ts QUANTS). */
export function quantFlag(v: unknown): Quant {
  if (v === undefined) return "f32";
  if (typeof v !== "string" || !QUANTS.includes(v as Quant)) throw new UsageError(`--quant must be one of ${QUANTS.join(", ")}, got '${String(v)}'`);
  return v as Quant;
}

/** --threads: 1 (the default: the single-threaded build) .. MAX_THREADS (the threaded build). */
export function threadsFlag(values: Record<string, unknown>): number {
  const v = values.threads;
  if (v === undefined) return 1;
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 1 && n <= MAX_THREADS)) throw new UsageError(`--threads must be an integer in 1..${MAX_THREADS}, got '${String(v)}'`);
  return n;
}

