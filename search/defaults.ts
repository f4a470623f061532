/** Defaults of the search, in a file of their own: the server reads them without loading the search (tfjs). */

/** Defaults where `hat search` and the search job leave a setting out (HAT's search; --demo has its own fine-tuning recipe). */
export const SEARCH_DEFAULTS = {
  evolution: { generations: 30, population: 125, parents: 25, mutations: 50, crossovers: 50, mutationProb: 0.3, seed: 1 },
  validMax: 200,
  finetune: { maxTokens: 4096, lr: 1e-3, warmup: 100, dropout: 0.1 },
  /** The closed loop (docs/method.md §11): candidates measured per round, and rounds at most. */
  verify: { k: 3, rounds: 3 },
} as const;
