/**
 * Few-shot transfer over HAT's latency datasets (docs/latency.md, "A new device with few
 * measurements"): every ordered pair of files, several seeds of the N-row draw.
 *
 *   node --import tsx bench/transfer.ts --priors DIR [--data DIR] [--rows 20] [--seeds 10] [--json]
 *
 * DIR holds `<name>.json`, the full-data fit of each `<name>_all.csv` (`hat predictor fit --data
 * <name>_all.csv --out DIR/<name>.json --space hat-latency`): the prior when the file is the source,
 * the full-data fit to compare with when it is the target (its test split, seed 1, minus the drawn
 * rows: the comparison is on the same rows).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readTrainingRows } from "../latency/dataset.js";
import { fitSplit, outlierMask } from "../latency/fit.js";
import { metrics } from "../latency/metrics.js";
import { Predictor } from "../latency/predictor.js";
import { fitFewShot } from "../latency/transfer.js";

const { values } = parseArgs({ options: { priors: { type: "string" }, data: { type: "string" }, rows: { type: "string" }, seeds: { type: "string" }, json: { type: "boolean" }, markdown: { type: "boolean" }, only: { type: "string" } } });
const short = (n: string) => ({ wmt14ende_gpu_titanxp: "En-De TITAN Xp", iwslt14deen_gpu_titanxp: "IWSLT TITAN Xp", wmt14ende_cpu_xeon: "En-De Xeon", wmt14ende_cpu_raspberrypi: "En-De Pi" } as Record<string, string>)[n] ?? n;
const dataDir = values.data ?? "../shared/data/hat-latency";
const priorDir = values.priors ?? "/tmp/prior";
const N = Number(values.rows ?? 20), S = Number(values.seeds ?? 10);
const names = readdirSync(dataDir).filter((f) => f.endsWith("_all.csv")).map((f) => f.replace(/_all\.csv$/, "")).filter((n) => existsSync(join(priorDir, `${n}.json`))).sort();
const rowsOf = Object.fromEntries(names.map((n) => [n, readTrainingRows([join(dataDir, `${n}_all.csv`)])]));
const priors = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await Predictor.load(join(priorDir, `${n}.json`))] as const)));

interface Cell { tau: number[]; rmse: number[] }
const cell = (): Cell => ({ tau: [], rmse: [] });
const out: Record<string, unknown>[] = [];
for (const target of names) {
  const rows = rowsOf[target];
  const full = priors[target];
  const testIdx = fitSplit(rows, 1)[2]; // the full-data fit's test split (seed 1)
  const flagged = outlierMask(rows, "drop").flagged;
  const fullPred = full.predictRows(rows);
  for (const source of names) {
    if (source === target) continue;
    if (values.only && !`${source}->${target}`.includes(values.only)) continue;
    const c = { full: cell(), transfer: cell(), scale_offset: cell(), plain: cell() };
    let dropped = 0;
    const lambdas: string[] = [];
    for (let seed = 1; seed <= S; seed++) {
      const { report } = fitFewShot(rows, priors[source], { trainRows: N, seed, extraEval: { name: "full test split", idx: testIdx } });
      // the full-data fit on the same rows (its test split minus the drawn ones, after the outlier rule)
      const drawn = new Set(report.drawn);
      const keepIdx = testIdx.filter((i) => !drawn.has(i));
      const ev = keepIdx.filter((i) => !flagged[i]);
      const fm = metrics(ev.map((i) => rows[i].encoder_ms + rows[i].decoder_ms), ev.map((i) => fullPred[i]));
      c.full.tau.push(fm.kendall_tau); c.full.rmse.push(fm.rmse_ms);
      for (const k of ["transfer", "scale_offset", "plain"] as const) {
        const m = report[k]!.extra!;
        c[k].tau.push(m.kendall_tau); c[k].rmse.push(m.rmse_ms);
      }
      dropped += report.train_dropped;
      lambdas.push(report.transfer!.lambda.map((l) => (l === null ? "inf" : String(l))).join("/"));
    }
    const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
    const row: Record<string, unknown> = { source, target, rows: N, seeds: S, train_dropped_mean: dropped / S, lambdas };
    for (const [k, v] of Object.entries(c)) {
      row[`${k}_tau_mean`] = mean(v.tau); row[`${k}_tau_worst`] = Math.min(...v.tau);
      row[`${k}_rmse_mean`] = mean(v.rmse); row[`${k}_rmse_worst`] = Math.max(...v.rmse);
    }
    // the target: tau within 3 % of the full fit's, RMSE within 1.5x, seed by seed
    row.target_met_seeds = c.transfer.tau.filter((t, i) => t >= 0.97 * c.full.tau[i] && c.transfer.rmse[i] <= 1.5 * c.full.rmse[i]).length;
    row.scale_offset_met_seeds = c.scale_offset.tau.filter((t, i) => t >= 0.97 * c.full.tau[i] && c.scale_offset.rmse[i] <= 1.5 * c.full.rmse[i]).length;
    row.plain_met_seeds = c.plain.tau.filter((t, i) => t >= 0.97 * c.full.tau[i] && c.plain.rmse[i] <= 1.5 * c.full.rmse[i]).length;
    out.push(row);
    const f = (x: unknown, d = 3) => (x as number).toFixed(d);
    if (values.markdown) {
      const mw = (k: string, d: number) => `${f(row[`${k}_tau_mean`])} (${f(row[`${k}_tau_worst`])}) / ${f(row[`${k}_rmse_mean`], d)} (${f(row[`${k}_rmse_worst`], d)})`;
      const d = (row.full_rmse_mean as number) < 10 ? 2 : 1;
      console.log(`| ${short(source)} -> ${short(target)} | ${f(row.full_tau_mean)} / ${f(row.full_rmse_mean, d)} | **${mw("transfer", d)}** | ${mw("scale_offset", d)} | ${mw("plain", d)} | ${row.target_met_seeds} / ${row.scale_offset_met_seeds} / ${row.plain_met_seeds} |`);
    } else if (!values.json) {
      console.log(`${source} -> ${target}: full ${f(row.full_tau_mean)}/${f(row.full_rmse_mean, 1)}; transfer ${f(row.transfer_tau_mean)} (worst ${f(row.transfer_tau_worst)}) / ${f(row.transfer_rmse_mean, 1)} (worst ${f(row.transfer_rmse_worst, 1)}); scale-offset ${f(row.scale_offset_tau_mean)} (${f(row.scale_offset_tau_worst)}) / ${f(row.scale_offset_rmse_mean, 1)} (${f(row.scale_offset_rmse_worst, 1)}); plain ${f(row.plain_tau_mean)} (${f(row.plain_tau_worst)}) / ${f(row.plain_rmse_mean, 1)} (${f(row.plain_rmse_worst, 1)}); met ${row.target_met_seeds}/${S} (s-o ${row.scale_offset_met_seeds}/${S}); dropped ${f(row.train_dropped_mean, 1)}; lambda ${lambdas.join(" ")}`);
    }
  }
}
if (values.json) console.log(JSON.stringify(out));
