/**
 * Measurements to leave out of a latency dataset: the warm-up period at the start of a
 * measurement session, and isolated spikes (docs/method.md §5: the first rows of HAT's Raspberry
 * Pi dataset are warm-up outliers). docs/latency.md shows what this finds in HAT's datasets.
 *
 * The rule, for rows in measurement order (HAT's files and our campaigns are):
 *   1. Reference: for the encoder and the decoder latency apart, a least-squares fit on the
 *      "sums" features (./features.ts: HAT's 10 and the per-stack sums, which follow latency's
 *      layers x size products), made robust by iteration: rows whose latency is off the fit by
 *      more than `threshold` (50 %) of the fit are left out and the fit is redone, until nothing
 *      changes.
 *   2. Spike: a row whose encoder or decoder latency is more than `threshold` above its reference.
 *      (Noise only ever slows a measurement down; such rows are 1.5x-12x their neighbours.)
 *   3. Warm-up prefix: when at least half of the first `window` (20) rows are spikes, the rows
 *      before the first window of `window` consecutive rows in which at most 10 % are spikes and
 *      the median relative residual of the encoder and of the decoder is within max(3 %, 3 robust
 *      sigma / sqrt(window)) of zero. Every row of the prefix is dropped: in HAT's Pi data the
 *      decoder is also ~10 % slow there though not a spike. A dataset that does not start with
 *      spikes has no warm-up prefix (slow drifts, as in HAT's TITAN Xp data, are not warm-up).
 * Datasets of fewer than 60 rows are left alone: too few to tell noise from structure.
 */
import type { LatencyRow } from "./dataset.js";
import { encodeRow, featureSpec } from "./features.js";
import { fitLinear, predictLinear } from "./linear.js";

export interface OutlierOptions {
  /** Relative excess over the robust reference that makes a spike (default 0.5: 50 % slower). */
  threshold?: number;
  /** Window of the warm-up test (default 20 rows). */
  window?: number;
}

export interface OutlierReport {
  /** flagged[i]: row i is left out. */
  flagged: boolean[];
  /** Rows 0..warmupPrefix-1 are the warm-up period. */
  warmupPrefix: number;
  /** Spikes after the warm-up period. */
  spikes: number;
  /** Relative residual of each row's encoder and decoder latency against the robust reference. */
  residual: { encoder: number[]; decoder: number[] };
  /** One line saying what was found. */
  summary: string;
}

const MIN_ROWS = 60;

/** Robust reference fit of one latency part: relative residuals of every row. */
function robustResiduals(X: number[][], y: number[], threshold: number): number[] {
  const n = y.length;
  let keep = new Array<boolean>(n).fill(true);
  let rel = new Array<number>(n).fill(0);
  for (let it = 0; it < 30; it++) {
    const idx = keep.map((k, i) => (k ? i : -1)).filter((i) => i >= 0);
    if (idx.length < 2 * (X[0].length + 1)) break;
    const m = fitLinear(idx.map((i) => X[i]), idx.map((i) => y[i]));
    rel = y.map((v, i) => {
      const p = predictLinear(m, X[i]);
      return p > 0 ? (v - p) / p : Infinity;
    });
    const next = rel.map((r) => Math.abs(r) <= threshold);
    if (next.every((k, i) => k === keep[i])) break;
    keep = next;
  }
  return rel;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length & 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Robust sigma: 1.4826 x the median absolute deviation. */
function robustSigma(xs: number[]): number {
  const finite = xs.filter(Number.isFinite);
  if (finite.length === 0) return 0;
  const m = median(finite);
  return 1.4826 * median(finite.map((x) => Math.abs(x - m)));
}

/** Apply the rule (see the file's header) to rows in measurement order. */
export function findOutliers(rows: readonly LatencyRow[], o: OutlierOptions = {}): OutlierReport {
  const threshold = o.threshold ?? 0.5, W = o.window ?? 20;
  const n = rows.length;
  const none = (why: string): OutlierReport => ({
    flagged: new Array<boolean>(n).fill(false), warmupPrefix: 0, spikes: 0,
    residual: { encoder: new Array<number>(n).fill(0), decoder: new Array<number>(n).fill(0) }, summary: why,
  });
  if (n < MIN_ROWS) return none(`outliers: not checked (${n} rows, fewer than ${MIN_ROWS})`);
  const sums = featureSpec("sums");
  const X = rows.map((r) => encodeRow({ ...r, arch: undefined }, sums));
  const enc = robustResiduals(X, rows.map((r) => r.encoder_ms), threshold);
  const dec = robustResiduals(X, rows.map((r) => r.decoder_ms), threshold);
  const spike = rows.map((_, i) => enc[i] > threshold || dec[i] > threshold);

  // the warm-up prefix: up to the first quiet window (searched in the first half of the rows)
  const calm = (rel: number[]) => robustSigma(rel.filter((_, i) => !spike[i]));
  const limE = Math.max(0.03, (3 * calm(enc)) / Math.sqrt(W)), limD = Math.max(0.03, (3 * calm(dec)) / Math.sqrt(W));
  let prefix = 0;
  const quiet = (k: number) => {
    const end = Math.min(n, k + W);
    let spikes = 0;
    for (let i = k; i < end; i++) if (spike[i]) spikes++;
    if (spikes > 0.1 * (end - k)) return false;
    const idx = Array.from({ length: end - k }, (_, j) => k + j).filter((i) => !spike[i]);
    return Math.abs(median(idx.map((i) => enc[i]))) <= limE && Math.abs(median(idx.map((i) => dec[i]))) <= limD;
  };
  const startSpikes = spike.slice(0, W).filter(Boolean).length;
  if (startSpikes >= W / 2) while (prefix < n / 2 && !quiet(prefix)) prefix++;
  if (prefix >= n / 2) prefix = 0; // no quiet window in the first half: not a warm-up pattern

  const flagged = spike.map((s, i) => s || i < prefix);
  const spikes = spike.filter((s, i) => s && i >= prefix).length;
  const total = flagged.filter(Boolean).length;
  const summary = total === 0
    ? "outliers: none found"
    : `outliers: ${total} of ${n} rows (${prefix > 0 ? `warm-up: the first ${prefix} rows` : "no warm-up period"}; ${spikes} spike${spikes === 1 ? "" : "s"} > ${Math.round(threshold * 100)} % above the robust reference after it)`;
  return { flagged, warmupPrefix: prefix, spikes, residual: { encoder: enc, decoder: dec }, summary };
}
