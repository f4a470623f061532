// Shared timing protocol for every bench in this folder.
//
//   1. warm up: call fn for at least `warmupMs` (and at least `minWarmupCalls` times);
//   2. calibrate a batch size so that one batch of back-to-back calls takes about `batchMs`;
//   3. time batches until there are at least `minSamples` of them and at least `minTotalMs`
//      has been spent measuring (so a measurement is >= ~0.3 s by default);
//   4. report the median batch time divided by the batch size (ms per call).
//
// Times come from process.hrtime.bigint(). Async functions are awaited call by call, so the
// per-call promise/microtask overhead is part of what is measured (as it is for a user).
//
// Environment overrides (handy on a noisy machine): BENCH_MIN_MS, BENCH_SAMPLES, BENCH_BATCH_MS,
// BENCH_WARMUP_MS.

export interface MeasureOptions {
  /** Warm-up time before calibrating (ms). Default 100. */
  warmupMs?: number;
  /** Minimum number of warm-up calls. Default 3. */
  minWarmupCalls?: number;
  /** Target wall time of one batch (ms). Default 50. */
  batchMs?: number;
  /** Minimum number of batch timings (the median is taken over these). Default 7. */
  minSamples?: number;
  /** Minimum total measured time (ms), excluding warm-up. Default 300. */
  minTotalMs?: number;
  /** Hard cap on the number of batches. Default 1000. */
  maxSamples?: number;
}

export interface MeasureResult {
  /** Median over batches of (batch time / batch size), in ms per call. */
  medianMs: number;
  /** Per-call ms of every batch, in the order they were taken. */
  samples: number[];
  /** Calls per batch. */
  batchSize: number;
  /** Fastest batch, ms per call. */
  minMs: number;
  /** Total measured time (ms), excluding warm-up and calibration. */
  totalMs: number;
}

function envNum(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function resolve(opts: MeasureOptions = {}): Required<MeasureOptions> {
  return {
    warmupMs: opts.warmupMs ?? envNum("BENCH_WARMUP_MS") ?? 100,
    minWarmupCalls: opts.minWarmupCalls ?? 3,
    batchMs: opts.batchMs ?? envNum("BENCH_BATCH_MS") ?? 50,
    minSamples: Math.max(1, opts.minSamples ?? envNum("BENCH_SAMPLES") ?? 7),
    minTotalMs: opts.minTotalMs ?? envNum("BENCH_MIN_MS") ?? 300,
    maxSamples: opts.maxSamples ?? 1000,
  };
}

const now = (): bigint => process.hrtime.bigint();
const msSince = (t0: bigint): number => Number(now() - t0) / 1e6;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length & 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

function finish(perCall: number[], batchSize: number, totalMs: number): MeasureResult {
  return { medianMs: median(perCall), samples: perCall, batchSize, minMs: Math.min(...perCall), totalMs };
}

/** Batch size so that one batch takes ~batchMs, given an estimate of ms per call. */
function batchFor(estMs: number, batchMs: number): number {
  if (!(estMs > 0)) return 1;
  return Math.max(1, Math.min(1e7, Math.round(batchMs / estMs)));
}

/** Synchronous measurement. */
export function measureSync(fn: () => void, opts?: MeasureOptions): MeasureResult {
  const o = resolve(opts);
  // warm-up
  let calls = 0;
  let t0 = now();
  while (calls < o.minWarmupCalls || msSince(t0) < o.warmupMs) { fn(); calls++; }
  // calibrate: one timed batch sized from the warm-up rate
  let batch = batchFor(msSince(t0) / calls, o.batchMs);
  t0 = now();
  for (let i = 0; i < batch; i++) fn();
  batch = batchFor(msSince(t0) / batch, o.batchMs);
  // measure
  const perCall: number[] = [];
  const start = now();
  while (perCall.length < o.maxSamples && (perCall.length < o.minSamples || msSince(start) < o.minTotalMs)) {
    const tb = now();
    for (let i = 0; i < batch; i++) fn();
    perCall.push(msSince(tb) / batch);
  }
  return finish(perCall, batch, msSince(start));
}

/** Asynchronous measurement: each call is awaited before the next starts. */
export async function measureAsync(fn: () => Promise<void> | void, opts?: MeasureOptions): Promise<MeasureResult> {
  const o = resolve(opts);
  let calls = 0;
  let t0 = now();
  while (calls < o.minWarmupCalls || msSince(t0) < o.warmupMs) { await fn(); calls++; }
  let batch = batchFor(msSince(t0) / calls, o.batchMs);
  t0 = now();
  for (let i = 0; i < batch; i++) await fn();
  batch = batchFor(msSince(t0) / batch, o.batchMs);
  const perCall: number[] = [];
  const start = now();
  while (perCall.length < o.maxSamples && (perCall.length < o.minSamples || msSince(start) < o.minTotalMs)) {
    const tb = now();
    for (let i = 0; i < batch; i++) await fn();
    perCall.push(msSince(tb) / batch);
  }
  return finish(perCall, batch, msSince(start));
}

/**
 * Measure fn. A function declared to return a Promise is measured asynchronously (the result
 * is a Promise); a synchronous one synchronously. Untyped callers get whatever fn actually
 * returns: the first call decides (if it returns a thenable, the async path is used).
 */
export function measure(fn: () => Promise<void>, opts?: MeasureOptions): Promise<MeasureResult>;
export function measure(fn: () => void, opts?: MeasureOptions): MeasureResult;
export function measure(fn: () => void | Promise<void>, opts?: MeasureOptions): MeasureResult | Promise<MeasureResult> {
  const first = fn();
  if (first && typeof (first as Promise<void>).then === "function") {
    return (first as Promise<void>).then(() => measureAsync(fn as () => Promise<void>, opts));
  }
  return measureSync(fn as () => void, opts);
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
