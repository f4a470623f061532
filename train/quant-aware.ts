/**
 * K-means quantization with fine-tuning (docs/method.md §13): a model's SubTransformer quantized
 * as `hat quantize` does (runtime/quant.ts), then trained with every matrix's assignment fixed and
 * its centroids free (./codebooks.ts), biases and layer norms trained as usual. The result is a
 * K-means model file of the same size as the plain quantization's.
 */
import { InputError } from "../runtime/errors.js";
import { encodeModel, type DecodedModel } from "../runtime/format.js";
import { quantizeTensors, type KmeansInit, type KmeansTensor, type QuantBits, type QuantizedTensor, type QuantizeSummary } from "../runtime/quant.js";
import type { ValidArch } from "../runtime/types.js";
import { paramCount, sliceSubTensors, type Tensor, type TensorMap } from "../runtime/weights.js";
import { Bpe } from "../data/bpe.js";
import { tokenizeTexts, type Texts } from "../data/texts.js";
import { assignmentOf, kmeansOfProjected, projectOnto, type Assignment } from "./codebooks.js";
import { finetuneStart } from "./start.js";
import { train, validationLoss, type Progress, type TrainOptions, type TrainResult } from "./trainer.js";

export interface QuantAwareOptions extends Pick<TrainOptions, "steps" | "minutes" | "maxTokens" | "dropout" | "labelSmoothing" | "seed" | "backend" | "threads" | "checkpointSeconds" | "onProgress" | "log" | "signal"> {
  /** The model: a compact SubTransformer, or a SuperTransformer and the SubTransformer `arch` of it (default its largest): ./start.ts. */
  file: DecodedModel;
  arch?: ValidArch;
  bits: QuantBits;
  /** The shared embedding's bits (default `bits`; 32 keeps it f32). */
  embedBits?: QuantBits | 32;
  init?: KmeansInit;
  data: { train: Texts; valid: Texts };
  lr: { maxLr: number; warmup: number };
  /** Checkpoints go to `${checkpoint}`; resumed from when it exists. */
  checkpoint?: string;
  /**
   * Token-level distillation from the model's own f32 weights (./step.ts Teacher): the quantized
   * model learns the f32 model's top-k distribution besides the labels. Default off.
   */
  distill?: { topK?: number; weight?: number };
}

export interface QuantAwareResult {
  bytes: Uint8Array;
  summary: QuantizeSummary;
  /** Bytes of the tensors as f32. */
  f32Bytes: number;
  arch: ValidArch;
  /** Label-smoothed validation loss per token: f32, quantized before fine-tuning, after. */
  validLoss: { f32: number; quantized: number; finetuned: number };
  result: TrainResult;
}

/** Quantize `o.file`'s SubTransformer with K-means and fine-tune its centroids (and f32 tensors) on `o.data`. */
export async function quantAwareFinetune(o: QuantAwareOptions): Promise<QuantAwareResult> {
  const h = o.file.header, V = h.vocab.size;
  if (!h.tokenizer) throw new InputError("the model carries no tokenizer: fine-tuning needs one to read the corpus");
  const { space, arch, tensors: weights } = finetuneStart(o.file, o.arch);
  const compact = sliceSubTensors(weights, arch, V);
  const { tensors: quantized, summary } = quantizeTensors(compact, { bits: o.bits, method: "kmeans", embedBits: o.embedBits, init: o.init });
  const codebooks = new Map<string, Assignment>();
  for (const [name, t] of quantized) {
    if ("method" in t) codebooks.set(name, assignmentOf(name, t as KmeansTensor, weights.get(name)!.shape));
  }
  const bpe = Bpe.fromJSON(h.tokenizer);
  const validPairs = tokenizeTexts(bpe, o.data.valid).slice(0, 500);
  const loss = (t: TensorMap) => validationLoss(t, V, h.positionDims, arch, validPairs, o.labelSmoothing ?? 0.1);
  const f32 = loss(weights);
  const start = projected(weights, codebooks);
  const before = loss(start);
  o.log?.(`validation loss: f32 ${f32.toFixed(3)}, ${o.bits}-bit k-means ${before.toFixed(3)}`);

  const { file: _f, arch: _a, bits: _b, embedBits: _e, init: _i, data, lr, distill, ...trainer } = o;
  const r = await train({
    ...trainer, space, arch, init: start, vocab: h.vocab, tokenizer: h.tokenizer, codebooks,
    distill: distill && { tensors: weights, arch, topK: distill.topK, weight: distill.weight }, // the teacher: the f32 model itself
    train: tokenizeTexts(bpe, data.train), valid: validPairs,
    lr: { maxLr: lr.maxLr, warmup: lr.warmup, schedule: "cosine" },
    recipe: false, // the quantized model is trained briefly at the rate given; no batch sizing
  });
  // the trained compact tensors, the K-means matrices rebuilt from their (projected) values
  const out = new Map<string, Tensor | QuantizedTensor>();
  for (const [name, t] of sliceSubTensors(r.tensors, arch, V)) {
    const q = quantized.get(name)!;
    out.set(name, "method" in q ? kmeansOfProjected(t, codebooks.get(name)!, q as KmeansTensor) : t);
  }
  const { dataOffset: _o, dataBytes: _d, tensors: _t, ...rest } = h;
  const meta = {
    ...h.meta, params: paramCount(compact),
    quantized: {
      method: "kmeans", bits: summary.bits, embedBits: summary.embedBits, relRmse: summary.relRmse, at: new Date().toISOString(),
      finetuned: { steps: r.steps, seconds: r.seconds, validLoss: { f32, quantized: before, finetuned: r.validLoss }, ...(distill ? { distill: { topK: distill.topK ?? 5, weight: distill.weight ?? 0.5 } } : {}) },
    },
  };
  const bytes = encodeModel({ ...rest, kind: "subtransformer", arch, space: h.kind === "supertransformer" ? space : h.space, meta }, out);
  return { bytes, summary, f32Bytes: 4 * summary.params, arch, validLoss: { f32, quantized: before, finetuned: r.validLoss }, result: r };
}

/** A copy of `weights` with each quantized matrix's slice projected onto its codebook. */
function projected(weights: TensorMap, codebooks: ReadonlyMap<string, Assignment>): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, t] of weights) {
    const a = codebooks.get(name);
    if (!a) { out.set(name, t); continue; }
    const data = Float32Array.from(t.data);
    projectOnto(data, a);
    out.set(name, { shape: [...t.shape], data });
  }
  return out;
}

export type { Progress };
