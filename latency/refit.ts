/**
 * A predictor fitted again with rows added (docs/method.md §11, the closed loop after the search):
 * the same fit (features, target, hidden sizes, seed, space, device) on the datasets it was fitted
 * on plus the new rows, which replace earlier rows of the same architecture (readTrainingRows'
 * rule: the later measurement wins).
 */
import { writeFileSync } from "node:fs";
import { latestPerArch, readTrainingRows, type LatencyRow } from "./dataset.js";
import { archKey } from "../runtime/arch-features.js";
import { fitPredictor, type FitReport } from "./fit.js";
import type { FeatureKind } from "./features.js";
import type { Predictor } from "./predictor.js";

export interface RefitOptions {
  /** The predictor fitted before: its fit settings are reused. */
  predictor: Predictor;
  /** The latency datasets (CSV) it was fitted on. */
  data: readonly string[];
  /** The rows measured since (with their arch), added to the data. */
  rows: readonly LatencyRow[];
  /** The new predictor file (JSON). */
  out: string;
  log?: (line: string) => void;
}

/** The settings of the fit that made `p`, as fitPredictor takes them. */
function fitSettings(p: Predictor): { features: FeatureKind; target: "split" | "total"; hidden?: number[]; seed?: number } {
  const f = p.fit ?? {};
  const hidden = Array.isArray(f.hidden) && f.hidden.every((h) => Number.isInteger(h) && h > 0) ? (f.hidden as number[]) : undefined;
  const seed = typeof f.seed === "number" && Number.isInteger(f.seed) ? f.seed : undefined;
  return { features: p.features.kind, target: p.target.kind, hidden, seed };
}

export async function refitPredictor(o: RefitOptions): Promise<{ predictor: Predictor; report: FitReport; rows: number }> {
  const rows = latestPerArch([...readTrainingRows(o.data), ...o.rows], archKey);
  const p = o.predictor;
  const { predictor, report } = await fitPredictor(rows, { ...fitSettings(p), space: p.space, device: p.device, log: o.log });
  writeFileSync(o.out, JSON.stringify(predictor.toJSON()) + "\n");
  return { predictor, report, rows: rows.length };
}
