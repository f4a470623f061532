/** `hat study`: HAT's evidence on your corpus; today the proxy check (search/study.ts). */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { demoTask } from "../data/demo-task.js";
import { readTexts, type Texts } from "../data/texts.js";
import { proxyStudy, proxySummary, renderProxyStudy } from "../search/study.js";
import { intFlag, optIntFlag, optNumFlag, requireFlag } from "./args.js";
import { UsageError, type Io } from "./io.js";

const HELP = `usage: hat study proxy --supernet FILE (--demo | --train-src F --train-tgt F --valid-src F --valid-tgt F [--test-src F --test-tgt F])
                       (--finetune-steps N | --finetune-minutes M) [--archs 8] [--valid-max 200] [--bleu-max 200]
                       [--seed 1] [--report HTML] [--json]

The proxy check (paper Table 5 / Fig 11): --archs SubTransformers spread over the SuperTransformer's
space by parameters, each one's inherited validation loss (the search's fitness), then each
fine-tuned from its inherited weights with the same budget: its validation loss and test BLEU
after. Prints Kendall tau of the inherited loss against both (1: the same ranking).`;

export async function studyCommand(argv: string[], io: Io): Promise<void> {
  const [what, ...rest] = argv;
  if (what === undefined || what === "--help" || what === "-h") { io.out(HELP); return; }
  if (what !== "proxy") throw new UsageError(`hat study: unknown study '${what}' (known: proxy)`);
  const { values } = parseArgs({
    args: rest, strict: true,
    options: {
      supernet: { type: "string" }, demo: { type: "boolean" }, "demo-seed": { type: "string" },
      "train-src": { type: "string" }, "train-tgt": { type: "string" }, "valid-src": { type: "string" }, "valid-tgt": { type: "string" },
      "test-src": { type: "string" }, "test-tgt": { type: "string" }, "finetune-steps": { type: "string" }, "finetune-minutes": { type: "string" },
      archs: { type: "string" }, "valid-max": { type: "string" }, "bleu-max": { type: "string" }, seed: { type: "string" },
      report: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) { io.out(HELP); return; }
  const steps = optIntFlag(values, "finetune-steps"), minutes = optNumFlag(values, "finetune-minutes");
  if ((steps === undefined) === (minutes === undefined)) throw new UsageError("give exactly one of --finetune-steps and --finetune-minutes (the same budget for every architecture)");
  const archs = intFlag(values, "archs", 8, 3);
  if (archs > 100) throw new UsageError(`--archs must be at most 100, got ${archs}`);
  const split = (s: "train" | "valid" | "test", need: boolean): Texts | undefined => {
    if (values[`${s}-src`] !== undefined || values[`${s}-tgt`] !== undefined) return readTexts(requireFlag(values, `${s}-src`), requireFlag(values, `${s}-tgt`), (l) => io.err(l));
    if (values.demo) return demoTask({ seed: intFlag(values, "demo-seed", 1, 0) })[s];
    if (need) throw new UsageError(`give --demo or --${s}-src/--${s}-tgt`);
    return undefined;
  };
  const s = await proxyStudy({
    supernet: requireFlag(values, "supernet"), archs, train: split("train", true)!, valid: split("valid", true)!, test: split("test", false),
    finetune: { steps, minutes }, validMax: intFlag(values, "valid-max", 200), bleuMax: intFlag(values, "bleu-max", 200), seed: intFlag(values, "seed", 1, 0),
    log: (l) => io.err(l),
  });
  if (values.report) writeFileSync(values.report, renderProxyStudy(s));
  if (values.json) io.out(JSON.stringify(proxySummary(s)));
  else io.out(`Kendall tau of the inherited loss against the fine-tuned loss ${s.tauLoss.toFixed(3)}${s.tauBleu !== undefined ? `, against -BLEU ${s.tauBleu.toFixed(3)}` : ""} (${s.rows.length} SubTransformers, ${s.seconds.toFixed(0)} s)${values.report ? `; report ${values.report}` : ""}`);
}
