/** `hat quantize`: a model file with its weight matrices quantized (K-means as in HAT, or linear). */
import { parseArgs } from "node:util";
import { loadArch } from "../runtime/arch-files.js";
import type { DecodedModel } from "../runtime/format.js";
import { readModelFile, writeModelFile, writeQuantizedModel } from "../runtime/model-files.js";
import { KMEANS_INITS, QUANT_BITS, QUANT_METHODS, type KmeansInit, type QuantBits, type QuantMethod } from "../runtime/quant.js";
import { QUANT_FINETUNE_DEFAULTS as Q } from "../train/defaults.js";
import { quantAwareFinetune } from "../train/quant-aware.js";
import { intFlag, numFlag, optIntFlag, optNumFlag, requireFlag } from "./args.js";
import { Progress, UsageError, type Io } from "./io.js";
import { loadData, progressPrinter } from "./train.js";

const HELP = `usage: hat quantize --model IN --bits 4|8 [--method kmeans|linear] [--embed-bits 4|8|32] [--init uniform|quantile] --out OUT [--json]
       hat quantize --model IN --bits 4|8 [--embed-bits B] [--arch FILE] --out OUT
                    (--finetune-steps N | --finetune-minutes M)
                    (--src FILE --tgt FILE --valid-src FILE --valid-tgt FILE | --demo)
                    [--lr 0.001] [--warmup 20] [--max-tokens 4096] [--dropout 0.1 (--demo: 0)]
                    [--distill [--distill-weight 0.5]] [--threads N] [--seed 1] [--json]

Writes IN with every weight matrix (projections, FFN, embedding) quantized; biases and layer norms
stay f32. kmeans (default, HAT's): 2^bits centroids per matrix, initialised uniformly over
[min, max], at most 300 iterations. linear: a scale and zero point per output channel.
--embed-bits: the shared embedding's bits (default --bits; 32 keeps it f32): it is also the output
projection, the matrix 4 bits hurt most.
--init quantile (k-means): the centroids start at the values' quantiles instead of HAT's uniform
spacing; a lower squared error, but at 4 bits it loses the rare large weights and cost 1.4 BLEU more
on the demo model (docs/runtime.md).
The runtime dequantizes at load, so translate, profile, info and the agent run OUT unchanged.

With --finetune-steps or --finetune-minutes (k-means): quantization-aware fine-tuning. Each
matrix keeps its assignment of weights to centroids and only the centroids move (each the mean
of its weights after every update), biases and layer norms are trained too, on the corpus given
(the model's own tokenizer). OUT is the same size as without it. A SuperTransformer IN gives its
SubTransformer --arch (default its largest) as a compact model. OUT.ckpt is its checkpoint.
--distill: the quantized model also learns the f32 model's own top-5 distribution at every target
position (token-level distillation, the f32 model as teacher; --distill-weight of the loss).`;

export async function quantizeCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" }, bits: { type: "string" }, method: { type: "string" }, "embed-bits": { type: "string" }, init: { type: "string" }, out: { type: "string" },
      "finetune-steps": { type: "string" }, "finetune-minutes": { type: "string" }, arch: { type: "string" },
      src: { type: "string" }, tgt: { type: "string" }, "valid-src": { type: "string" }, "valid-tgt": { type: "string" }, demo: { type: "boolean" },
      lr: { type: "string" }, warmup: { type: "string" }, "max-tokens": { type: "string" }, dropout: { type: "string" }, threads: { type: "string" }, seed: { type: "string" },
      distill: { type: "boolean" }, "distill-weight": { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    io.out(HELP);
    return;
  }
  const bits = Number(requireFlag(values, "bits"));
  if (!QUANT_BITS.includes(bits as QuantBits)) throw new UsageError(`--bits must be ${QUANT_BITS.join(" or ")}, got '${values.bits}'`);
  const method = (values.method ?? "kmeans") as QuantMethod;
  if (!QUANT_METHODS.includes(method)) throw new UsageError(`--method must be ${QUANT_METHODS.join(" or ")}, got '${values.method}'`);
  const embedBits = values["embed-bits"] === undefined ? bits : Number(values["embed-bits"]);
  if (![...QUANT_BITS, 32].includes(embedBits)) throw new UsageError(`--embed-bits must be 4, 8 or 32, got '${values["embed-bits"]}'`);
  const init = (values.init ?? "uniform") as KmeansInit;
  if (!KMEANS_INITS.includes(init)) throw new UsageError(`--init must be ${KMEANS_INITS.join(" or ")}, got '${values.init}'`);
  if (values.init !== undefined && method !== "kmeans") throw new UsageError("--init goes with --method kmeans");
  const input = requireFlag(values, "model"), out = requireFlag(values, "out");
  const finetune = values["finetune-steps"] !== undefined || values["finetune-minutes"] !== undefined;
  const trainFlags = ["arch", "src", "tgt", "valid-src", "valid-tgt", "demo", "lr", "warmup", "max-tokens", "dropout", "threads", "seed", "distill", "distill-weight"].filter((k) => values[k as keyof typeof values] !== undefined);
  if (!finetune && trainFlags.length) throw new UsageError(`--${trainFlags[0]} goes with --finetune-steps or --finetune-minutes`);
  if (finetune && method !== "kmeans") throw new UsageError("fine-tuning keeps k-means assignments: it goes with --method kmeans");
  const file = await readModelFile(input);
  if (finetune) return finetuneCommand(values, io, file, { bits: bits as QuantBits, embedBits: embedBits as QuantBits | 32, init, out });
  const t0 = performance.now();
  const q = await writeQuantizedModel(file, { bits: bits as QuantBits, method, embedBits: embedBits as QuantBits | 32, init }, out);
  const seconds = (performance.now() - t0) / 1000;
  const r = {
    out, method, bits, embed_bits: embedBits, bytes: q.bytes, in_bytes: file.bytes.length, f32_bytes: q.f32Bytes, ratio: q.f32Bytes / q.bytes,
    quantized_tensors: q.quantized, f32_tensors: q.kept, quantized_params: q.quantizedParams, params: q.params, rel_rmse: q.relRmse, seconds,
  };
  if (values.json) io.out(JSON.stringify(r));
  else {
    io.out(`wrote ${out} (${(r.bytes / 2 ** 20).toFixed(2)} MiB, ${r.ratio.toFixed(1)}x smaller than its f32 tensors): ${method} ${bits} bits${embedBits !== bits ? ` (the embedding ${embedBits === 32 ? "f32" : `${embedBits} bits`})` : ""}, ` +
      `${q.quantized} matrices quantized, ${q.kept} tensors kept f32, relative RMS error ${q.relRmse.toExponential(2)}, ${seconds.toFixed(1)} s`);
  }
}

/** `hat quantize ... --finetune-steps|--finetune-minutes`: K-means with its centroids fine-tuned (train/quant-aware.ts). */
async function finetuneCommand(values: Record<string, unknown>, io: Io, file: DecodedModel, q: { bits: QuantBits; embedBits: QuantBits | 32; init: KmeansInit; out: string }): Promise<void> {
  const steps = optIntFlag(values, "finetune-steps"), minutes = optNumFlag(values, "finetune-minutes");
  if (steps !== undefined && minutes !== undefined) throw new UsageError("give one of --finetune-steps and --finetune-minutes");
  const arch = values.arch !== undefined ? loadArch(values.arch as string, file.header.space) : undefined;
  if (values["distill-weight"] !== undefined && !values.distill) throw new UsageError("--distill-weight goes with --distill");
  const distillWeight = numFlag(values, "distill-weight", 0.5, 0);
  if (distillWeight > 1) throw new UsageError(`--distill-weight must be in [0, 1], got ${distillWeight}`);
  const data = loadData(values, io);
  const progress = new Progress();
  const r = await quantAwareFinetune({
    file, arch, bits: q.bits, embedBits: q.embedBits, init: q.init, data, steps, minutes,
    lr: { maxLr: numFlag(values, "lr", Q.lr), warmup: intFlag(values, "warmup", Q.warmup, 0) },
    maxTokens: intFlag(values, "max-tokens", values.demo ? 1024 : Q.maxTokens), dropout: numFlag(values, "dropout", values.demo ? 0 : Q.dropout),
    threads: optIntFlag(values, "threads"), seed: intFlag(values, "seed", 1, 0), checkpoint: `${q.out}.ckpt`,
    distill: values.distill ? { weight: distillWeight } : undefined,
    onProgress: progressPrinter(progress),
    log: (l) => io.err(l),
  });
  progress.done();
  await writeModelFile(q.out, r.bytes);
  const s = r.summary, t = r.result;
  const j = {
    out: q.out, method: "kmeans", bits: s.bits, embed_bits: s.embedBits, bytes: r.bytes.length, f32_bytes: r.f32Bytes, ratio: r.f32Bytes / r.bytes.length,
    quantized_tensors: s.quantized, f32_tensors: s.kept, rel_rmse: s.relRmse, steps: t.steps, seconds: t.seconds, tokens_per_sec: t.tokensPerSec,
    valid_loss: r.validLoss,
  };
  if (values.json) io.out(JSON.stringify(j));
  else {
    io.out(`wrote ${q.out} (${(j.bytes / 2 ** 20).toFixed(2)} MiB, ${j.ratio.toFixed(1)}x smaller than its f32 tensors): k-means ${s.bits} bits, fine-tuned ${t.steps} updates in ${t.seconds.toFixed(0)} s; ` +
      `validation loss f32 ${r.validLoss.f32.toFixed(3)}, quantized ${r.validLoss.quantized.toFixed(3)}, fine-tuned ${r.validLoss.finetuned.toFixed(3)}`);
  }
}
