/** Parallel text for the pipelines that train or score: read with problems reported, and tokenized. */
import { SPECIALS } from "../runtime/types.js";
import type { Bpe } from "./bpe.js";
import { formatProblems, readParallelFiles } from "./corpus.js";

/** A tokenized sentence pair; tgt without eos (the batch adds it). */
export interface TokenPair {
  src: number[];
  tgt: number[];
}

/** Sentences of one split, aligned. */
export interface Texts {
  src: string[];
  tgt: string[];
}

/** Two aligned files; bad lines (empty, over-long, not UTF-8) are reported through `log` and left out. */
export function readTexts(srcPath: string, tgtPath: string, log: (line: string) => void): Texts {
  const r = readParallelFiles(srcPath, tgtPath, { onProblem: "return", maxChars: 2000 });
  if (r.problems.length) log(`${r.name}: ${formatProblems(r)} (those lines are left out)`);
  return { src: r.pairs.map((p) => p.src), tgt: r.pairs.map((p) => p.tgt) };
}

/** Token pairs as the trainer and the scorers take them: the source ends with eos, the target has none. */
export function tokenizeTexts(bpe: Bpe, t: Texts): TokenPair[] {
  return t.src.map((s, i) => ({ src: [...bpe.encode(s), SPECIALS.eos], tgt: bpe.encode(t.tgt[i]) }));
}
