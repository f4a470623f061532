/** Defaults of training, in a file of their own: the server reads them without loading the trainer (tfjs). */

/** The trainer's defaults where `hat train` and the training jobs leave a setting out (--demo has its own). */
export const TRAIN_DEFAULTS = {
  vocabSize: 8000, maxTokens: 4096, lr: 1e-3, warmup: 400, schedule: "cosine", sampling: "uniform",
  dropout: 0.1, clipNorm: 0, labelSmoothing: 0.1, seed: 1, checkpointSeconds: 60,
} as const;

/** Fine-tuning a quantized model's codebooks (train/quant-aware.ts) where `hat quantize --finetune-*` and the quantize job leave a setting out. */
export const QUANT_FINETUNE_DEFAULTS = { lr: TRAIN_DEFAULTS.lr, warmup: 20, maxTokens: TRAIN_DEFAULTS.maxTokens, dropout: TRAIN_DEFAULTS.dropout } as const;

/** The settings a budget's recipe leaves as given (train/recipe.ts): those the user set. */
export function givenSettings(given: { maxTokens?: unknown; warmup?: unknown; lr?: unknown }): ("maxTokens" | "warmup" | "lr")[] {
  return (["maxTokens", "warmup", "lr"] as const).filter((k) => given[k] !== undefined);
}

/**
 * A joint BPE vocabulary sized to a corpus: ~4 training pairs a token, in 500s, 2,000..8,000
 * (8,000 from 32k pairs; Multi30k's 29k pairs: 7,000). A vocabulary far larger than the corpus
 * supports leaves rare tokens untrained and makes the output layer the largest cost.
 */
export function vocabSizeFor(trainPairs: number): number {
  return Math.min(8000, Math.max(2000, Math.round(trainPairs / 4 / 500) * 500));
}
