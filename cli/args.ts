/** Small helpers over node:util parseArgs: typed integer flags with clear errors. */
import { UsageError } from "./main.js";

export function intFlag(values: Record<string, unknown>, name: string, dflt: number, min = 1): number {
  const v = values[name];
  if (v === undefined) return dflt;
  const s = String(v);
  if (!/^-?\d+$/.test(s)) throw new UsageError(`--${name} must be an integer, got '${s}'`);
  const n = Number(s);
  if (n < min) throw new UsageError(`--${name} must be >= ${min}, got ${n}`);
  return n;
}

export function requireFlag(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is required`);
  return v;
}
