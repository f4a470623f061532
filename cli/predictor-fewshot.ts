/**
 * `hat predictor fit --train-rows N [--prior OLD.json]`: a predictor from N rows of a dataset,
 * transferred from a predictor of another device when --prior is given (latency/transfer.ts),
 * evaluated on every other row; `--full` also fits on every row, the ordinary way, to compare with.
 */
import { parseArgs } from "node:util";
import { OUTLIER_MODES, type OutlierMode } from "../latency/fit.js";
import { FEATURE_KINDS, HAT_LATENCY_SPACE, type FeatureKind } from "../latency/features.js";
import { MIN_TRAIN_ROWS } from "../latency/transfer.js";
import { fewShotFile } from "../latency/transfer-file.js";
import { intFlag, requireFlag, spaceArg } from "./args.js";
import { UsageError, type Io } from "./io.js";

export const FEWSHOT_HELP = `       hat predictor fit --data NEW.csv --train-rows N [--prior OLD.json] [--seed 1] --out FILE [--full] [--json]
fit --train-rows N: draw N rows of the data (seeded by --seed), fit on them and evaluate on every
other row the outlier rule keeps. With --prior (a predictor of another device, or of another
task's vocabulary): a transfer of it (per-part scale and offset plus a shrunk correction, docs/latency.md),
reported beside the plain scale-and-offset of the prior and a plain fit on the N rows; without:
the plain fit. --full: also the ordinary fit on every row (its seed-1 test split), with every model
compared on that split's rows (minus the drawn ones) and the target (tau within 3 %, RMSE within
1.5x of the full fit's) checked.`;

export async function fewShotFit(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string", multiple: true }, out: { type: "string" }, prior: { type: "string" }, "train-rows": { type: "string" },
      seed: { type: "string" }, space: { type: "string" }, features: { type: "string" }, outliers: { type: "string" }, device: { type: "string" },
      full: { type: "boolean" }, epochs: { type: "string" }, patience: { type: "string" }, backend: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(FEWSHOT_HELP); return; }
  const data = values.data;
  if (!data || data.length === 0) throw new UsageError("--data is required (one or more CSV files)");
  const out = requireFlag(values, "out");
  if (values["train-rows"] === undefined) throw new UsageError("--prior needs --train-rows N (how many rows of --data to fit on)");
  const trainRows = intFlag(values, "train-rows", 0, MIN_TRAIN_ROWS);
  const features = values.features;
  if (features !== undefined && ![...FEATURE_KINDS, "auto"].includes(features)) throw new UsageError(`--features must be one of ${FEATURE_KINDS.join(", ")}, got '${features}'`);
  const outliers = (values.outliers ?? "drop") as OutlierMode;
  if (!OUTLIER_MODES.includes(outliers)) throw new UsageError(`--outliers must be one of ${OUTLIER_MODES.join(", ")}, got '${values.outliers}'`);
  const seed = intFlag(values, "seed", 1, 0);
  const space = values.space === undefined ? undefined : values.space === "hat-latency" ? HAT_LATENCY_SPACE : spaceArg(values.space); // as cli/predictor.ts latencySpaceArg
  const { summary, lines } = await fewShotFile({
    data, out, trainRows, prior: values.prior, seed, outliers, space, features: features as FeatureKind | "auto" | undefined, device: values.device,
    full: values.full, maxEpochs: intFlag(values, "epochs", 1000, 0), patience: intFlag(values, "patience", 100), backend: values.backend,
    log: (s) => io.err(s),
  });
  if (values.json) { io.out(JSON.stringify(summary)); return; }
  for (const l of lines) io.out(l);
}
