/** `hat profile-campaign`: measure N architectures of a space here and append them to a latency dataset (latency/campaign.ts). */
import { parseArgs } from "node:util";
import { runCampaign } from "../latency/campaign.js";
import { minimumRowsForSpace } from "../latency/fit.js";
import { DEFAULT_PROTOCOL as D } from "../runtime/protocol.js";
import { readModelFile } from "../runtime/model-files.js";
import type { Space } from "../runtime/types.js";
import { checkSpaceCovered } from "../search/predictor-file.js";
import { intFlag, quantFlag, requireFlag, threadsFlag } from "./args.js";
import { UsageError, type Io } from "./io.js";
import { latencySpaceArg } from "./predictor.js";

const HELP = `usage: hat profile-campaign (--space FILE|demo|wmt14|iwslt14|multi30k|cpu-server|hat-latency | --supernet MODEL)
                          --samples N|auto --out CSV
                          [--runs 300] [--warmup 5] [--vocab 32768] [--src-len 30] [--tgt-len 30]
                          [--beam 5] [--seed 1] [--rounds 1] [--quant f32|int8|linear8|kmeans8|kmeans4] [--threads 1] [--no-remeasure]
                          [--no-steady] [--json]

--supernet MODEL: the SuperTransformer the latencies are for: the campaign measures at its
vocabulary (its output projection is part of every decoder step) and over its space unless --space
is given; a --vocab that differs is refused.

--quant int8: the products measured are int8 (as \`hat profile --quant int8\`: the random matrices
quantized linearly at 8 bits per output channel): the latencies of a model deployed at int8. The
rows record it (the protocol's quant column); a predictor fit on them predicts int8 latencies, and
a search for an int8 deployment (hat search --quant int8) takes only such a predictor. linear8,
kmeans8, kmeans4 likewise measure (and record) a quantized file's form, as hat profile --quant does.

--threads N: every product split over N threads (the threaded build; docs/runtime.md "Threads");
recorded in the rows (the threads column), matched by hat search --threads N.

--samples auto: the rows \`hat predictor fit\` needs for this space (its default features), plus a
fifth for outliers; an N below that need is measured, with a warning naming it.

Measures N architectures of the space (its extremes, then seeded uniform samples) on this machine
with \`hat profile\`'s protocol, one row appended (and flushed to disk) per architecture, in HAT's
CSV layout plus the full architecture, device and protocol. Run the same command again after an
interruption: it measures only what is missing. --rounds K measures every architecture K times, at
K different moments, and keeps the fastest (for a busy machine: e.g. --rounds 3 --runs 100). At the
end, warm-up prone and suspicious rows are measured again once and the file is rewritten with one
row per architecture (docs/latency.md). Every measurement is framed by a small reference
architecture that gauges the machine's speed: one taken while the reference ran more than 15 %
slower than usual is taken again (at most twice), and every row records its speed factor
(columns speed, ref_ms); --no-steady measures without the reference (rows without a speed).`;

export async function campaignCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      space: { type: "string" }, supernet: { type: "string" }, samples: { type: "string" }, out: { type: "string" }, runs: { type: "string" }, warmup: { type: "string" },
      vocab: { type: "string" }, "src-len": { type: "string" }, "tgt-len": { type: "string" }, beam: { type: "string" }, seed: { type: "string" }, rounds: { type: "string" },
      quant: { type: "string" }, threads: { type: "string" }, "no-remeasure": { type: "boolean" }, "no-steady": { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const quant = quantFlag(values.quant);
  const served = values.supernet !== undefined ? await servedModel(values.supernet) : undefined;
  if (values.space === undefined && !served) throw new UsageError("--space is required (or --supernet, to take its space)");
  const space = values.space !== undefined ? latencySpaceArg(values.space) : served!.space;
  if (served) checkSpaceCovered(served.space, space, `--space ${values.space}`); // else the search refuses the predictor later
  const vocab = intFlag(values, "vocab", served?.vocab ?? D.vocab, 8);
  if (served && vocab !== served.vocab) throw new UsageError(`--vocab ${vocab} differs from the vocabulary of --supernet ${values.supernet} (${served.vocab}): its latencies would be another model's`);
  const need = minimumRowsForSpace(space).min_rows;
  const samples = requireFlag(values, "samples") === "auto" ? Math.ceil(need * 1.2) : intFlag(values, "samples", 1);
  if (values.samples === "auto") io.err(`--samples auto: ${samples} architectures (a predictor of this space needs ${need} rows, plus a fifth for outliers)`);
  else if (samples < need) io.err(`warning: a predictor of this space needs at least ${need} rows (hat predictor fit's default features); --samples ${samples} measures fewer`);
  const r = await runCampaign({
    space, samples, out: requireFlag(values, "out"), seed: intFlag(values, "seed", 1, 0),
    protocol: {
      runs: intFlag(values, "runs", D.runs), warmup: intFlag(values, "warmup", D.warmup, 0), vocab,
      src_len: intFlag(values, "src-len", D.src_len), tgt_len: intFlag(values, "tgt-len", D.tgt_len), beam: intFlag(values, "beam", D.beam),
      rounds: intFlag(values, "rounds", D.rounds), quant, threads: threadsFlag(values),
    },
    remeasure: !values["no-remeasure"], steady: values["no-steady"] ? false : undefined,
    log: (s) => io.err(s),
  });
  if (values.json) { io.out(JSON.stringify(r)); return; }
  io.out(`${r.out}: ${r.measured} of ${r.target} architectures measured${r.complete ? "" : " (incomplete: run the same command again)"}; ${r.newRows} measurements in ${r.seconds.toFixed(0)} s (${r.remeasured} re-measurements; ${r.slow_remeasured} taken again while the machine ran slow${r.speed_median !== undefined ? `; speed median ${r.speed_median.toFixed(3)}, max ${r.speed_max!.toFixed(3)}` : ""})${r.outliers ? `; ${r.outliers}` : ""}`);
}

/** The SuperTransformer a campaign serves: its space and its vocabulary. */
async function servedModel(path: string): Promise<{ space: Space; vocab: number }> {
  const f = await readModelFile(path);
  if (f.header.kind !== "supertransformer" || !f.header.space) throw new UsageError(`--supernet ${path} is a ${f.header.kind}, not a SuperTransformer`);
  return { space: f.header.space, vocab: f.header.vocab.size };
}
