/** `hat translate` and `hat bleu`: decode text with a model file; score hypotheses with sacreBLEU's BLEU. */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadArch } from "../runtime/arch-files.js";
import { translateLines } from "../runtime/decode.js";
import { loadModelFile } from "../runtime/model-files.js";
import { Bpe } from "../data/bpe.js";
import { bleu, formatBleu } from "../data/bleu.js";
import { readLines } from "../data/corpus.js";
import { intFlag, numFlag, quantFlag, requireFlag, threadsFlag } from "./args.js";
import { loadWasmThreads } from "../runtime/wasm-node.js";
import { UsageError, type Io } from "./io.js";

export async function translateCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: "string" }, arch: { type: "string" }, input: { type: "string" }, beam: { type: "string" }, lenpen: { type: "string" }, batch: { type: "string" }, quant: { type: "string" }, threads: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    io.out("usage: hat translate --model FILE [--arch FILE] [--input FILE (default stdin)] [--beam 4] [--lenpen 0.6] [--batch 32] [--quant f32|int8|linear8|kmeans8|kmeans4 (default the file's form)] [--threads 1]\n\nOne sentence a line in, its translation a line out. A SuperTransformer runs --arch (default its largest SubTransformer). --quant int8 runs int8 products (a --method linear --bits 8 file's own weights; any other model's matrices quantized linearly at load); linear8, kmeans8, kmeans4 quantize the f32 matrices of the file so at load (its quantized ones run as stored); kmeans8 and kmeans4 then run on the packed indices (4-8x less memory, the same translations); a k-means file runs so without --quant. --threads N splits the products over N threads (the same translations).");
    return;
  }
  const wasm = await loadWasmThreads(threadsFlag(values));
  const model = await loadModelFile(requireFlag(values, "model"), wasm, { quant: values.quant === undefined ? undefined : quantFlag(values.quant) });
  if (!model.header.tokenizer) throw new UsageError("this model carries no tokenizer: it was not trained on text");
  const bpe = Bpe.fromJSON(model.header.tokenizer);
  const arch = values.arch ? loadArch(values.arch, model.header.space) : model.defaultArch;
  const sub = model.subnet(arch);
  const text = values.input ? readFileSync(values.input, "utf8") : readFileSync(0, "utf8");
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  const opts = { beam: intFlag(values, "beam", 4), lenpen: numFlag(values, "lenpen", 0.6), batch: intFlag(values, "batch", 32) };
  for (const line of translateLines(sub, bpe, lines, opts)) io.out(line);
  wasm.close();
}

export async function bleuCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ref: { type: "string" }, hyp: { type: "string" }, lowercase: { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    io.out("usage: hat bleu --ref FILE --hyp FILE [--lowercase] [--json]\n\nCorpus BLEU as sacreBLEU's default (13a tokenization, exponential smoothing, mixed case).\n" +
      "--lowercase scores both sides lowercased (sacreBLEU -lc; Multi30k's shared tasks score so).");
    return;
  }
  const refs = readLines(requireFlag(values, "ref")), hyps = readLines(requireFlag(values, "hyp"));
  const r = bleu(hyps, refs, { lowercase: values.lowercase === true });
  if (values.json) io.out(JSON.stringify({ bleu: r.score, precisions: r.precisions, bp: r.bp, sys_len: r.sysLen, ref_len: r.refLen }));
  else io.out(formatBleu(r));
}
