/** `hat profile --arch FILE`: HAT's latency protocol on random weights, in this machine's wasm runtime. */
import { parseArgs } from "node:util";
import { loadArch } from "../runtime/arch-files.js";
import { profileArch } from "../runtime/profile.js";
import { DEFAULT_PROTOCOL as D, protocolOf } from "../runtime/protocol.js";
import { loadWasmThreads } from "../runtime/wasm-node.js";
import { intFlag, quantFlag, requireFlag, threadsFlag } from "./args.js";
import { Progress, type Io } from "./io.js";

const HELP = `usage: hat profile --arch FILE [--vocab 32768] [--src-len 30] [--tgt-len 30] [--beam 5]
                   [--runs 300] [--warmup 5] [--seed 1] [--quant f32|int8|linear8|kmeans8|kmeans4] [--threads 1] [--json]

Measures the architecture in FILE (the project's JSON, or a HAT SubTransformer YAML) with random
weights: batch 1, the encoder once, then tgt-len incremental decoder steps with the output
projection, the decoder batch replicated to the beam size; the mean of the runs left after
dropping the fastest and slowest 10 %. --quant int8 runs int8 products (the random matrices
quantized linearly at 8 bits per output channel, as hat quantize --method linear does a model's);
linear8, kmeans8, kmeans4 run a quantized file's form (the random matrices quantized as
hat quantize --bits 8|4 --method linear|kmeans would, then dequantized: f32 products, as the runtime
runs such a file; k-means of a WMT-sized embedding takes seconds before the runs).
--threads N splits every weight product over N threads (the threaded build; docs/runtime.md
"Threads"). --json prints one object.`;

export async function profileCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: "string" }, vocab: { type: "string" }, "src-len": { type: "string" }, "tgt-len": { type: "string" },
      beam: { type: "string" }, runs: { type: "string" }, warmup: { type: "string" }, seed: { type: "string" }, quant: { type: "string" },
      threads: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const arch = loadArch(requireFlag(values, "arch"));
  const protocol = protocolOf({
    vocab: intFlag(values, "vocab", D.vocab, 8), src_len: intFlag(values, "src-len", D.src_len), tgt_len: intFlag(values, "tgt-len", D.tgt_len),
    beam: intFlag(values, "beam", D.beam), runs: intFlag(values, "runs", D.runs), warmup: intFlag(values, "warmup", D.warmup, 0),
    quant: quantFlag(values.quant), threads: threadsFlag(values),
  });
  const wasm = await loadWasmThreads(protocol.threads);
  let lastPct = -1;
  const progress = new Progress(process.stderr, 0);
  const r = profileArch(arch, protocol, {
    wasm, seed: intFlag(values, "seed", 1, 0),
    onRun: values.json ? undefined : (done, total) => {
      const pct = Math.floor((100 * done) / total);
      if (pct !== lastPct && pct % 10 === 0) { lastPct = pct; progress.update(`profiling ${done}/${total} runs`); }
    },
  });
  wasm.close();
  const { protocol: p, ...times } = r;
  if (values.json) { io.out(JSON.stringify({ ...times, ...p })); return; } // the protocol's fields beside the timings
  progress.done();
  io.out(`encoder  ${r.encoder_ms.toFixed(3)} ms  (std ${r.encoder_std_ms.toFixed(3)})`);
  io.out(`decoder  ${r.decoder_ms.toFixed(3)} ms  (std ${r.decoder_std_ms.toFixed(3)}; ${p.tgt_len} steps, beam ${p.beam})`);
  io.out(`total    ${r.total_ms.toFixed(3)} ms  (trimmed mean of ${p.runs} runs after ${p.warmup} warm-up; src ${p.src_len}, vocab ${p.vocab})`);
  io.out(`params   ${(r.params / 1e6).toFixed(2)} M; wasm memory ${(r.wasm_memory_bytes / 2 ** 20).toFixed(0)} MiB; build ${p.build}; ${p.quant} products; ${p.threads} thread${p.threads === 1 ? "" : "s"}`);
}
