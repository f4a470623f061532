/**
 * What quantization costs a trained model (issue 14, 1, 2): BLEU of f32, int8 products, kmeans8,
 * linear8, kmeans4 and linear4 (and the k-means variants) on the demo task's test split, and the
 * file sizes, in one process.
 *
 *   node --import tsx bench/quant-bleu.ts MODEL.hatm [--sentences 500] [--seed 1] [--beam 4]
 *        [--src test.en --tgt test.de] [--forms "f32;kmeans4;..."]
 *        [--finetune-steps N [--train-src F --train-tgt F --valid-src F --valid-tgt F] [--lr 5e-4]
 *         [--max-tokens 1024] [--dropout 0] [--threads 1] [--distill]]
 *
 * MODEL is a model trained on the demo task (`hat train --demo`, or a `hat demo` winner), or on
 * the corpus of --src/--tgt (e.g. Multi30k test2016); a SuperTransformer runs its largest
 * SubTransformer. --forms keeps the rows named (as the table names them, ";" between). Prints a markdown table.
 * --finetune-steps N adds two rows, each given the same N updates of the same recipe (the demo
 * task's training pairs, or --train-src/--train-tgt): "kmeans4, fine-tuned" (hat quantize
 * --finetune-steps: the centroids trained, docs/method.md §13) and "f32, fine-tuned" (hat train
 * --init: the fair f32 comparison); --distill a third, the centroids fine-tuned with the f32 model
 * as teacher.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Bpe } from "../data/bpe.js";
import { demoTask } from "../data/demo-task.js";
import { readTexts } from "../data/texts.js";
import { decodeModel } from "../runtime/format.js";
import { HatModel, quantizeModel } from "../runtime/model.js";
import { loadWasm } from "../runtime/wasm-node.js";
import type { KmeansInit, QuantBits, QuantMethod } from "../runtime/quant.js";
import { bleuOfModel } from "../search/after.js";
import { trainModel } from "../train/pipeline.js";
import { quantAwareFinetune } from "../train/quant-aware.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    sentences: { type: "string" }, seed: { type: "string" }, beam: { type: "string" }, src: { type: "string" }, tgt: { type: "string" }, forms: { type: "string" },
    "finetune-steps": { type: "string" }, "train-src": { type: "string" }, "train-tgt": { type: "string" }, "valid-src": { type: "string" }, "valid-tgt": { type: "string" },
    lr: { type: "string" }, "max-tokens": { type: "string" }, dropout: { type: "string" }, threads: { type: "string" }, distill: { type: "boolean" },
  },
});
const path = positionals[0];
if (!path) throw new Error("usage: bench/quant-bleu.ts MODEL.hatm [--sentences 500] [--seed 1] [--beam 4]");
const bytes = new Uint8Array(readFileSync(path));
const file = decodeModel(bytes);
if (!file.header.tokenizer) throw new Error(`${path} carries no tokenizer`);
const bpe = Bpe.fromJSON(file.header.tokenizer);
if ((values.src === undefined) !== (values.tgt === undefined)) throw new Error("--src and --tgt go together");
const test = values.src !== undefined ? readTexts(values.src, values.tgt!, (l) => console.error(l)) : demoTask({ seed: Number(values.seed ?? 1) }).test;
const n = Math.min(test.src.length, Number(values.sentences ?? 500)), beam = Number(values.beam ?? 4);

const forms: { name: string; method?: QuantMethod; bits?: QuantBits; embedBits?: QuantBits | 32; init?: KmeansInit; products?: "int8"; finetuned?: Uint8Array }[] = [
  { name: "f32" }, { name: "f32 file, int8 products", products: "int8" }, { name: "linear8, int8 products", method: "linear", bits: 8, products: "int8" }, { name: "kmeans8", method: "kmeans", bits: 8 }, { name: "linear8", method: "linear", bits: 8 },
  { name: "kmeans4", method: "kmeans", bits: 4 }, { name: "linear4", method: "linear", bits: 4 },
  { name: "kmeans4, embedding kmeans8", method: "kmeans", bits: 4, embedBits: 8 },
  { name: "kmeans4, embedding f32", method: "kmeans", bits: 4, embedBits: 32 },
  { name: "kmeans4, quantile init", method: "kmeans", bits: 4, init: "quantile" },
  { name: "kmeans8, quantile init", method: "kmeans", bits: 8, init: "quantile" },
];
const keep = values.forms?.split(";").map((f) => f.trim());
const unknown = keep?.filter((k) => !forms.some((f) => f.name === k));
if (unknown?.length) throw new Error(`--forms: no row named ${unknown.map((k) => `'${k}'`).join(", ")} (rows: ${forms.map((f) => f.name).join("; ")})`);
const steps = values["finetune-steps"] !== undefined ? Number(values["finetune-steps"]) : 0;
if (steps > 0) {
  const demo = demoTask({ seed: Number(values.seed ?? 1) });
  const data = values["train-src"] !== undefined
    ? { train: readTexts(values["train-src"], values["train-tgt"]!, (l) => console.error(l)), valid: readTexts(values["valid-src"]!, values["valid-tgt"]!, (l) => console.error(l)) }
    : { train: demo.train, valid: demo.valid };
  const recipe = { steps, lr: { maxLr: Number(values.lr ?? 5e-4), warmup: 20 }, maxTokens: Number(values["max-tokens"] ?? 1024), dropout: Number(values.dropout ?? 0), threads: Number(values.threads ?? 1), log: (l: string) => console.error(l) };
  const t0 = performance.now();
  const q = await quantAwareFinetune({ ...recipe, file, bits: 4, data });
  console.error(`kmeans4 fine-tuned: ${steps} updates in ${((performance.now() - t0) / 1000).toFixed(0)} s, validation loss ${JSON.stringify(q.validLoss)}`);
  forms.push({ name: `kmeans4, fine-tuned ${steps}`, finetuned: q.bytes });
  if (values.distill) {
    const k = await quantAwareFinetune({ ...recipe, file, bits: 4, data, distill: { weight: 0.5 } });
    console.error(`kmeans4 fine-tuned with the f32 model as teacher: validation loss ${JSON.stringify(k.validLoss)}`);
    forms.push({ name: `kmeans4, fine-tuned ${steps}, f32 teacher`, finetuned: k.bytes });
  }
  const dir = mkdtempSync(join(tmpdir(), "quant-bleu-"));
  const f = await trainModel({ ...recipe, data, arch: q.arch, init: file, vocabSize: file.header.vocab.size, out: join(dir, "f32.hatm"), recipe: false });
  rmSync(dir, { recursive: true, force: true });
  console.error(`f32 fine-tuned: validation loss ${f.result.validLoss}`);
  forms.push({ name: `f32, fine-tuned ${steps}`, finetuned: f.bytes });
}
if (keep) forms.splice(0, forms.length, ...forms.filter((f) => keep.includes(f.name) || f.finetuned)); // --finetune-steps' rows always
const rows: string[] = [];
let base = 0;
for (const f of forms) {
  const t0 = performance.now();
  const q = f.method ? quantizeModel(file, { method: f.method, bits: f.bits!, embedBits: f.embedBits, init: f.init }) : undefined;
  const qs = (performance.now() - t0) / 1000;
  const b = f.finetuned ?? q?.bytes ?? bytes;
  const model = HatModel.fromBytes(b, loadWasm(), { quant: f.products ?? "f32" });
  const { result } = bleuOfModel(model, bpe, test.src.slice(0, n), test.tgt.slice(0, n), { arch: model.defaultArch, beam, lenpen: 0.6 });
  if (!f.method && !f.products && !f.finetuned) base = result.score;
  rows.push(`| ${f.name} | ${result.score.toFixed(2)} | ${(result.score - base).toFixed(2)} | ${(b.length / 1024).toFixed(0)} KiB | ${(bytes.length / b.length).toFixed(2)}x | ${q ? q.relRmse.toExponential(2) : "-"} | ${q ? qs.toFixed(2) + " s" : "-"} |`);
  console.error(rows[rows.length - 1]);
}
console.log(`${path}: ${file.header.kind}, ${(file.tensors.size)} tensors; ${values.src ?? `demo task seed ${values.seed ?? 1} test`}, ${n} sentences, beam ${beam}, lenpen 0.6\n`);
console.log("| form | BLEU | Δ vs f32 | file | smaller | rel. RMS error of the matrices | quantize time |\n|---|---|---|---|---|---|---|");
console.log(rows.join("\n"));
