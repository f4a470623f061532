/** `hat profile --arch FILE`: HAT's latency protocol on random weights, in this machine's wasm runtime. */
import { parseArgs } from "node:util";
import { loadArch } from "../runtime/arch-files.js";
import { profileArch } from "../runtime/profile.js";
import { intFlag, requireFlag } from "./args.js";
import type { Io } from "./io.js";

const HELP = `usage: hat profile --arch FILE [--vocab 32768] [--src-len 30] [--tgt-len 30] [--beam 5]
                   [--runs 300] [--warmup 5] [--seed 1] [--json]

Measures the architecture in FILE (the project's JSON, or a HAT SubTransformer YAML) with random
weights: batch 1, the encoder once, then tgt-len incremental decoder steps with the output
projection, the decoder batch replicated to the beam size; the mean of the runs left after
dropping the fastest and slowest 10 %. --json prints one object.`;

export async function profileCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: "string" }, vocab: { type: "string" }, "src-len": { type: "string" }, "tgt-len": { type: "string" },
      beam: { type: "string" }, runs: { type: "string" }, warmup: { type: "string" }, seed: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const arch = loadArch(requireFlag(values, "arch"));
  const opts = {
    vocab: intFlag(values, "vocab", 32768, 8), srcLen: intFlag(values, "src-len", 30), tgtLen: intFlag(values, "tgt-len", 30),
    beam: intFlag(values, "beam", 5), runs: intFlag(values, "runs", 300), warmup: intFlag(values, "warmup", 5, 0), seed: intFlag(values, "seed", 1, 0),
  };
  let lastPct = -1;
  const r = profileArch(arch, {
    ...opts,
    onRun: values.json ? undefined : (done, total) => {
      const pct = Math.floor((100 * done) / total);
      if (pct !== lastPct && pct % 10 === 0) { lastPct = pct; process.stderr.write(`\rprofiling ${done}/${total} runs`); }
    },
  });
  if (values.json) { io.out(JSON.stringify(r)); return; }
  process.stderr.write("\n");
  io.out(`encoder  ${r.encoder_ms.toFixed(3)} ms  (std ${r.encoder_std_ms.toFixed(3)})`);
  io.out(`decoder  ${r.decoder_ms.toFixed(3)} ms  (std ${r.decoder_std_ms.toFixed(3)}; ${r.tgt_len} steps, beam ${r.beam})`);
  io.out(`total    ${r.total_ms.toFixed(3)} ms  (trimmed mean of ${r.runs} runs after ${r.warmup} warm-up; src ${r.src_len}, vocab ${r.vocab})`);
  io.out(`params   ${(r.params / 1e6).toFixed(2)} M; wasm memory ${(r.wasm_memory_bytes / 2 ** 20).toFixed(0)} MiB; build ${r.build}`);
}
