/** Parallel text for the commands that train or score: read with problems reported, and tokenized. */
import type { Bpe } from "../data/bpe.js";
import { formatProblems, readParallelFiles } from "../data/corpus.js";
import { SPECIALS } from "../runtime/types.js";
import type { TokenPair } from "../train/batching.js";
import type { Io } from "./io.js";

/** Sentences of one split, aligned. */
export interface Texts {
  src: string[];
  tgt: string[];
}

/** Two aligned files; bad lines (empty, over-long, not UTF-8) are reported on stderr and left out. */
export function readTexts(srcPath: string, tgtPath: string, io: Io): Texts {
  const r = readParallelFiles(srcPath, tgtPath, { onProblem: "return", maxChars: 2000 });
  if (r.problems.length) io.err(`${r.name}: ${formatProblems(r)} (those lines are left out)`);
  return { src: r.pairs.map((p) => p.src), tgt: r.pairs.map((p) => p.tgt) };
}

/** Token pairs as the trainer and the scorers take them: the source ends with eos, the target has none. */
export function tokenizeTexts(bpe: Bpe, t: Texts): TokenPair[] {
  return t.src.map((s, i) => ({ src: [...bpe.encode(s), SPECIALS.eos], tgt: bpe.encode(t.tgt[i]) }));
}
