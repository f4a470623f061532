/** `hat predictor fit | eval | predict`: latency predictors from latency datasets (latency/). */
import { parseArgs } from "node:util";
import { archKey } from "../runtime/arch-features.js";
import { loadArch } from "../runtime/arch-files.js";
import type { Space } from "../runtime/types.js";
import { deviceLabel, LatencyDataError, readDataset, readTrainingRows, sameDevice, thisDevice, totalMs } from "../latency/dataset.js";
import { HAT_LATENCY_SPACE, FEATURE_KINDS, rowOutsideSpace, type FeatureKind } from "../latency/features.js";
import { fitPredictorFile } from "../latency/fit-file.js";
import { OUTLIER_MODES, outlierMask, type OutlierMode } from "../latency/fit.js";
import { formatMetrics, metrics } from "../latency/metrics.js";
import { Predictor } from "../latency/predictor.js";
import { describeDiff, sameProtocol } from "../runtime/protocol.js";
import { verifyPredictor } from "../latency/verify.js";
import { intFlag, numFlag, requireFlag, spaceArg } from "./args.js";
import { UsageError, type Io } from "./io.js";
import { FEWSHOT_HELP, fewShotFit } from "./predictor-fewshot.js";

const HELP = `usage: hat predictor fit --data CSV [--data CSV ...] --out FILE [--space FILE|NAME]
                         [--features sums|hat|layers] [--target split|total] [--hidden 64,64]
                         [--outliers drop|warmup|keep] [--seed 1] [--lr 0.001] [--batch 128]
                         [--epochs 1000] [--patience 100] [--device NAME] [--backend NAME] [--json]
${FEWSHOT_HELP.split("\n")[0]}
       hat predictor eval --model FILE --data CSV [--data CSV ...] [--outliers drop|warmup|keep] [--json]
       hat predictor predict --model FILE --arch FILE [--json]
       hat predictor verify --model FILE [--samples 20] [--seed 1000] [--exclude CSV ...] [--rounds K] [--json]

fit: a latency predictor from datasets in HAT's CSV layout (HAT's own files, or \`hat profile-campaign\`
output): seeded 8:1:1 split, least squares plus HAT's MLP (TensorFlow.js) on the residual, early
stopping on validation; the MLP is kept only when it beats the linear part on the validation rows
(beyond the bootstrap interval), else the predictor is linear; predictions are at least half the
smallest training latency. Refuses fewer rows than 3 per coefficient of the features (their rank)
plus 10 validation and 10 test rows, saying how many more to measure. Reports RMSE (with a 95 %
bootstrap interval), MAPE and Kendall's tau on the test split beside linear regression, and the
predictor's impossible orderings on sampled pairs of the space (needs --space). --space: the space the predictor is for (demo, wmt14, iwslt14, multi30k, cpu-server, hat-latency: the
space of HAT's latency datasets, or a file); predictions outside it are refused.
--outliers: drop (default) leaves out the warm-up period and spikes (docs/latency.md).
With --json the last line printed is one object: model, test_rmse_ms, test_rmse_ci_ms, test_rows,
test_mape (percent), test_kendall_tau, linear_rmse_ms, vs_linear, monotonicity_violations,
warnings and more.
eval: the predictor's RMSE, MAPE and tau on a dataset. predict: one architecture's latency (ms).
verify: measure fresh random architectures of the predictor's space here (none of those in the
--exclude datasets, e.g. its training data) with its protocol (its rounds too, unless --rounds),
against its predictions.
${FEWSHOT_HELP.split("\n").slice(1).join("\n")}`;

/** A space argument: the built-in names, \`hat-latency\` (HAT's latency datasets), or a file. */
export function latencySpaceArg(v: string): Space {
  return v === "hat-latency" ? HAT_LATENCY_SPACE : spaceArg(v);
}

function oneOf<T extends string>(values: Record<string, unknown>, name: string, choices: readonly T[], dflt: T): T {
  const v = values[name];
  if (v === undefined) return dflt;
  if (!choices.includes(v as T)) throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got '${String(v)}'`);
  return v as T;
}

function dataFlags(values: Record<string, unknown>): string[] {
  const d = values.data as string[] | undefined;
  if (!d || d.length === 0) throw new UsageError("--data is required (one or more CSV files)");
  return d;
}

export async function predictorCommand(argv: string[], io: Io): Promise<void> {
  const [sub, ...rest] = argv;
  if (!sub || sub === "--help" || sub === "-h") {
    io.out(HELP);
    if (!sub) throw new UsageError("say fit, eval, predict or verify");
    return;
  }
  if (sub === "fit") return fit(rest, io);
  if (sub === "eval") return evaluate(rest, io);
  if (sub === "predict") return predict(rest, io);
  if (sub === "verify") return verify(rest, io);
  throw new UsageError(`unknown subcommand '${sub}' (fit, eval, predict or verify)`);
}

async function fit(argv: string[], io: Io): Promise<void> {
  if (argv.some((a) => a === "--prior" || a === "--train-rows" || a.startsWith("--prior=") || a.startsWith("--train-rows="))) return fewShotFit(argv, io); // few rows, a prior: cli/predictor-fewshot.ts
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string", multiple: true }, out: { type: "string" }, space: { type: "string" }, features: { type: "string" },
      target: { type: "string" }, hidden: { type: "string" }, outliers: { type: "string" }, seed: { type: "string" },
      lr: { type: "string" }, batch: { type: "string" }, epochs: { type: "string" }, patience: { type: "string" },
      device: { type: "string" }, backend: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const data = dataFlags(values), out = requireFlag(values, "out");
  const features = oneOf<FeatureKind | "auto">(values, "features", [...FEATURE_KINDS, "auto"], "auto");
  const target = oneOf(values, "target", ["split", "total"] as const, "split");
  const outliers = oneOf<OutlierMode>(values, "outliers", OUTLIER_MODES, "drop");
  const hidden = values.hidden === undefined ? [64, 64] : values.hidden.split(",").map((s) => {
    if (!/^\d+$/.test(s.trim()) || Number(s) < 1) throw new UsageError(`--hidden must be positive integers separated by commas, got '${values.hidden}'`);
    return Number(s);
  });
  const space = values.space === undefined ? undefined : latencySpaceArg(values.space);
  const { report, summary } = await fitPredictorFile({
    data, out, features, target, hidden, outliers, space, device: values.device,
    seed: intFlag(values, "seed", 1, 0), lr: numFlag(values, "lr", 1e-3, 1e-9), batch: intFlag(values, "batch", 128),
    maxEpochs: intFlag(values, "epochs", 1000, 0), patience: intFlag(values, "patience", 100), backend: values.backend,
    log: (s) => io.err(s),
  });
  if (values.json) { io.out(JSON.stringify(summary)); return; }
  const t = report.test_metrics, l = report.linear_metrics;
  const ci = (c: [number, number]) => `95 % interval [${c[0].toFixed(3)}, ${c[1].toFixed(3)}] ms`;
  io.out(`predictor: ${report.model === "mlp" ? "the MLP (it beats the linear part on the validation rows)" : "the linear part alone (the MLP does not beat it on the validation rows)"}`);
  io.out(`test (${report.test} rows), kept: ${formatMetrics(t)}; RMSE ${ci(report.test_rmse_ci_ms)}`);
  io.out(`test MLP:    ${formatMetrics(report.mlp_metrics)}; RMSE ${ci(report.mlp_rmse_ci_ms)}`);
  io.out(`test linear: ${formatMetrics(l)}; RMSE ${ci(report.linear_rmse_ci_ms)}`);
  const ratio = `RMSE ratio ${report.vs_linear_ratio.toFixed(3)}, 95 % interval [${report.vs_linear_ratio_ci.map((x) => x.toFixed(3)).join(", ")}]`;
  io.out(report.beats_linear ? `the MLP beats linear regression on this test split (${ratio})` : `the MLP does not beat linear regression on this test split (${report.vs_linear === "tie" ? "a tie: within 1 % or within the interval" : "it is worse"}; ${ratio})`);
  const m = report.monotonicity;
  if (m) io.out(`orderings: ${m.violations} of ${m.pairs} sampled pairs a <= b predicted with a slower (${(100 * m.fraction).toFixed(1)} %); smallest ${m.smallest_ms.toFixed(3)} ms, largest ${m.largest_ms.toFixed(3)} ms`);
  for (const w of report.warnings) io.out(`warning: ${w}`);
}

async function evaluate(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: "string" }, data: { type: "string", multiple: true }, outliers: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const p = await Predictor.load(requireFlag(values, "model"));
  const rows = readTrainingRows(dataFlags(values));
  const outliers = oneOf<OutlierMode>(values, "outliers", OUTLIER_MODES, "drop");
  if (p.space) {
    const bad = rows.findIndex((r) => rowOutsideSpace(r, p.space!) !== undefined);
    if (bad >= 0) throw new LatencyDataError(`row ${bad + 1} is outside the predictor's space: ${rowOutsideSpace(rows[bad], p.space)}`);
  }
  const dev = rows.find((r) => r.device)?.device;
  if (dev && typeof p.device !== "string" && !sameDevice(dev, p.device)) io.err(`note: the predictor was fitted on ${deviceLabel(p.device)}; these rows were measured on ${deviceLabel(dev)}`);
  const proto = rows.find((r) => r.protocol)?.protocol;
  if (proto && p.protocol && !sameProtocol(proto, p.protocol)) io.err(`note: the predictor's protocol ${JSON.stringify(p.protocol)} differs from these rows' ${JSON.stringify(proto)} (${describeDiff(p.protocol, proto)})`);
  const { flagged, summary } = outlierMask(rows, outliers);
  const kept = rows.filter((_, i) => !flagged[i]);
  io.err(summary);
  const m = metrics(kept.map(totalMs), p.predictRows(kept));
  if (values.json) { io.out(JSON.stringify({ ...m, outliers_dropped: rows.length - kept.length })); return; }
  io.out(formatMetrics(m));
}

async function predict(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: "string" }, arch: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const p = await Predictor.load(requireFlag(values, "model"));
  const archPath = requireFlag(values, "arch");
  const arch = loadArch(archPath, p.space);
  const r = p.predictParts([arch]);
  const total = r.total[0], enc = r.encoder?.[0], dec = r.decoder?.[0];
  if (values.json) {
    io.out(JSON.stringify({ total_ms: total, ...(enc !== undefined ? { encoder_ms: enc, decoder_ms: dec } : {}), device: deviceLabel(p.device) }));
    return;
  }
  io.out(`${total.toFixed(3)} ms${enc !== undefined ? ` (encoder ${enc.toFixed(3)}, decoder ${dec!.toFixed(3)})` : ""} predicted for ${deviceLabel(p.device)}`);
}

async function verify(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" }, samples: { type: "string" }, seed: { type: "string" }, exclude: { type: "string", multiple: true }, rounds: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const p = await Predictor.load(requireFlag(values, "model"));
  const here = thisDevice();
  if (typeof p.device !== "string" && !sameDevice(p.device, here)) io.err(`note: the predictor was fitted on ${deviceLabel(p.device)}; this is ${deviceLabel(here)}`);
  const exclude = new Set((values.exclude ?? []).flatMap((f) => readDataset(f).rows).filter((r) => r.arch).map((r) => archKey(r.arch!)));
  const protocol = p.protocol && { ...p.protocol, rounds: intFlag(values, "rounds", p.protocol.rounds) };
  const r = await verifyPredictor(p, { samples: intFlag(values, "samples", 20), seed: intFlag(values, "seed", 1000, 0), protocol, exclude, log: (s) => io.err(s) });
  if (values.json) {
    io.out(JSON.stringify({ ...r.metrics, measured_ms: r.measured, predicted_ms: r.predicted, archs: r.archs, protocol: r.protocol, device: deviceLabel(here) }));
    return;
  }
  io.out(`${r.archs.length} fresh architectures measured here vs predicted: ${formatMetrics(r.metrics)}`);
}
