/**
 * Translation speed in source words per second (`hat translate`'s path: BPE, batches of 32, beam
 * search, detokenization) of one trained model, f32 against int8 products and the 4-bit k-means
 * file run on its packed indices, on 1 and BENCH_THREADS threads:
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/words.ts MODEL.hatm SOURCE.txt [LINES]
 *
 * The first LINES (default 300) lines of SOURCE are translated once per form per round, the order
 * rotating round by round (BENCH_WORDS_ROUNDS, default 3); medians. Words: whitespace-separated
 * tokens of the source lines. Beam 4 (lenpen 0.6, as `hat translate`) and greedy (beam 1, as
 * Bergamot's browser translator runs). The kmeans4 form is `hat quantize --bits 4` of the model,
 * made in memory.
 */
import { readFileSync } from "node:fs";
import { Bpe } from "../data/bpe.js";
import { translateLines } from "../runtime/decode.js";
import { HatModel, quantizeModel } from "../runtime/model.js";
import { readModelFile } from "../runtime/model-files.js";
import type { Quant } from "../runtime/protocol.js";
import { loadWasmThreads } from "../runtime/wasm-node.js";
import { median, printTable, type Row } from "./timing.js";

const [modelPath, sourcePath, linesArg] = process.argv.slice(2);
if (!modelPath || !sourcePath) {
  console.error("usage: bench/words.ts MODEL.hatm SOURCE.txt [LINES]");
  process.exit(2);
}
const lines = readFileSync(sourcePath, "utf8").split(/\r?\n/).filter((l) => l.trim() !== "").slice(0, Number(linesArg ?? 300));
const words = lines.reduce((n, l) => n + l.trim().split(/\s+/).length, 0);
const file = await readModelFile(modelPath);
if (!file.header.tokenizer) throw new Error(`${modelPath} carries no tokenizer`);
const bpe = Bpe.fromJSON(file.header.tokenizer);
const km4 = quantizeModel(file, { bits: 4, method: "kmeans" }).bytes;
const threadCounts = (process.env.BENCH_THREADS ?? "1,2").split(",").map(Number);

interface Form { quant: Quant; threads: number; beam: number }
const forms: Form[] = threadCounts.flatMap((threads) => [4, 1].flatMap((beam) => (["f32", "int8", "kmeans4"] as const).map((quant) => ({ quant, threads, beam }))));
const key = (f: Form) => `${f.quant} x${f.threads} beam ${f.beam}`;
const models = new Map<string, HatModel>();
for (const threads of threadCounts) {
  const wasm = await loadWasmThreads(threads);
  for (const quant of ["f32", "int8", "kmeans4"] as const) {
    models.set(`${quant} x${threads}`, quant === "kmeans4" ? HatModel.fromBytes(km4, wasm) : HatModel.fromDecoded(file, wasm, { quant }));
  }
}
const seconds = new Map<string, number[]>(forms.map((f) => [key(f), []]));
const outputs = new Map<string, string[]>();
const rounds = Number(process.env.BENCH_WORDS_ROUNDS ?? 3);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < forms.length; i++) {
    const f = forms[(i + r) % forms.length];
    const m = models.get(`${f.quant} x${f.threads}`)!;
    const t0 = performance.now();
    const out = translateLines(m.subnet(m.defaultArch), bpe, lines, { beam: f.beam, lenpen: 0.6, batch: 32 });
    seconds.get(key(f))!.push((performance.now() - t0) / 1000);
    outputs.set(key(f), out);
  }
}
const rows: Row[] = forms.map((f) => {
  const s = median(seconds.get(key(f))!), same = outputs.get(key(f))!.filter((t, i) => t === outputs.get(key({ ...f, quant: "f32", threads: 1 }))![i]).length;
  return {
    products: f.quant, threads: f.threads, beam: f.beam, seconds: s, "words/s": words / s,
    "vs f32 x1": median(seconds.get(key({ ...f, quant: "f32", threads: 1 }))!) / s,
    "same as f32 x1": `${same}/${lines.length}`,
  };
});
console.log(`\n${modelPath}: ${file.header.arch ? "SubTransformer" : "SuperTransformer (its largest)"}, ${lines.length} lines (${words} words) of ${sourcePath}, batches of 32; medians of ${rounds} rounds`);
printTable(rows, { digits: 2 });
console.log("'same as f32 x1': translations identical to one thread's f32 at the same beam. Bergamot's int8 wasm fallback (the deployed browser translator) runs ~95 words/s outside Firefox (its small student models: a reference, not a peer).");
for (const m of models.values()) m.weights.wasm.close();
