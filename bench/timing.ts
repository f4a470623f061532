// Shared helpers for the benches in this folder: a per-call timer, medians, flop counts and an
// aligned table printer. The benches measure implementations in interleaved rounds (each round
// times every implementation for a short batch) and report medians, so that a slow phase of a
// noisy machine hits all of them alike.

/** Call `fn` back to back (awaiting each call) for at least `ms` milliseconds; ms per call. */
export async function perCallMs(fn: () => void | Promise<void>, ms: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  do { await fn(); n++; } while (performance.now() - t0 < ms);
  return (performance.now() - t0) / n;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length & 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** GFLOP/s for `flops` floating-point operations taking `ms` milliseconds. */
export function gflops(flops: number, ms: number): number {
  return flops / (ms * 1e6);
}

/** 2*M*K*N: the flop count of y[M,N] = x[M,K] · W[K,N]. */
export function matmulFlops(M: number, K: number, N: number): number {
  return 2 * M * K * N;
}

export type Cell = string | number | boolean | null | undefined;
export type Row = Record<string, Cell>;

export interface TableOptions {
  /** Column order (default: keys in first-seen order over all rows). */
  columns?: string[];
  /** Digits after the decimal point for non-integer numbers (default 2). */
  digits?: number;
  /** Print to this function instead of console.log. */
  out?: (line: string) => void;
}

function fmtCell(v: Cell, digits: number): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 10 ** -digits || a >= 1e9)) return v.toExponential(1);
    return v.toFixed(digits);
  }
  return String(v);
}

/** Render rows as an aligned text table (numbers right-aligned, text left-aligned). */
export function formatTable(rows: readonly Row[], opts: TableOptions = {}): string {
  const digits = opts.digits ?? 2;
  const cols = opts.columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => fmtCell(r[c], digits)));
  const right = cols.map((c) => rows.some((r) => typeof r[c] === "number") &&
    rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] === "number"));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const pad = (s: string, i: number) => (right[i] ? s.padStart(width[i]!) : s.padEnd(width[i]!));
  const lines = [
    cols.map((c, i) => pad(c, i)).join("  ").trimEnd(),
    width.map((w) => "-".repeat(w)).join("  "),
    ...cells.map((row) => row.map((s, i) => pad(s, i)).join("  ").trimEnd()),
  ];
  return lines.join("\n");
}

/** Print rows as an aligned table. */
export function printTable(rows: readonly Row[], opts: TableOptions = {}): void {
  (opts.out ?? console.log)(formatTable(rows, opts));
}
