/**
 * The built-in demo translation task: two small synthetic languages generated from a seed, with
 * nothing downloaded. The source ("Srclang") reads like English with invented content words; the
 * target ("Tgtlang") differs in the ways real language pairs do:
 *
 * - word order: source S-V-O-Adv-PP (English); target S-PP-O-Adv-V (verb last), with
 *   postpositions instead of prepositions and adjectives after the noun;
 * - agreement: every target noun has a gender (drawn per noun); determiners agree with it in
 *   gender and number, adjectives take gender/number endings, nouns a plural ending by gender;
 * - verbs agree with the subject in person and number (6 endings) and mark tense (present, past,
 *   future: the source's "-s"/"-d"/"will");
 * - negation ("never" before the verb -> particle "nu" right before the target verb), adverbs,
 *   numerals (plural agreement), pronouns, and two clauses joined by "and" now and then.
 *
 * The lexicon (about 130 content words: nouns, adjectives, verbs, adverbs, postpositions) is made
 * of pseudo-words built from syllables, each language with its own sound inventory. Translation is
 * a function of the source sentence (no ambiguity: every source word form has one analysis), so a
 * small Transformer can learn it to a high BLEU. Source sentences have 3..14 words.
 *
 * Deterministic: the same options give byte-identical data. The splits are disjoint (every source
 * sentence appears once in all splits together); sentences are drawn in one stream and dealt to
 * test, then valid, then train, so the test and valid sets do not depend on the train size.
 */
import { mulberry32 } from "../runtime/rng.js";

/** Parallel sentences of one split. */
export interface DemoSplit {
  src: string[];
  tgt: string[];
}

/** Options of {@link demoTask}. */
export interface DemoTaskOptions {
  /** Seed of the lexicon and the sentences (default 1). */
  seed?: number;
  /** Sentence pairs per split (defaults 20000, 500, 500). */
  train?: number;
  valid?: number;
  test?: number;
}

/** The generated task. */
export interface DemoTask {
  train: DemoSplit;
  valid: DemoSplit;
  test: DemoSplit;
  /** A few lines on what the languages are, with an example pair. */
  description: string;
  /** Content words per class in the generated lexicon. */
  lexicon: { nouns: number; adjectives: number; transitiveVerbs: number; intransitiveVerbs: number; adverbs: number; postpositions: number };
  seed: number;
}

/** One sentence pair of the demo languages. */
export interface DemoPair {
  src: string;
  tgt: string;
}

type Rng = () => number;
type Gender = 0 | 1; // 0 masculine, 1 feminine

// About 130 content stems: with their inflections and the function words, a few hundred word types
// a side (about 460 source, 1,300 target), each seen often enough in 20,000 pairs to be learnt in minutes.
const SIZES = { nouns: 60, adjectives: 24, transitiveVerbs: 24, intransitiveVerbs: 12, adverbs: 8 };

// Source: English function words around invented stems of 2-3 CV syllables (always vowel-final,
// so the endings -s (plural noun, 3sg verb), -d (past) and -ly (adverb) never make another stem).
const SRC_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"];
const SRC_VOWELS = ["a", "e", "i", "o", "u"];
const SRC_PREPS = ["in", "on", "with", "near", "under", "behind", "from", "for"];
const SRC_PRONOUNS = ["I", "you", "he", "she", "we", "you all", "they"];
/** person (1..3) and plural of each pronoun */
const PRONOUN_AGR: [number, boolean][] = [[1, false], [2, false], [3, false], [3, false], [1, true], [2, true], [3, true]];
const SRC_NUMERALS = ["two", "three", "four", "five"];
const SRC_RESERVED = new Set(["the", "a", "some", "will", "never", "and", "i", "you", "all", ...SRC_PREPS, ...SRC_PRONOUNS, ...SRC_NUMERALS]);

// Target: its own sounds; stems of 1-2 syllables closed by a consonant, so endings attach cleanly.
const TGT_ONSETS = ["ch", "sh", "h", "j", "kh", "q", "w", "x", "y", "ts", "dr", "gl"];
const TGT_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"];
const TGT_CODAS = ["n", "l", "r", "k", "m", "sh"];
/** determiners [definite, indefinite][gender][plural] */
const TGT_DET = [[["el", "eli"], ["ra", "rae"]], [["un", "unu"], ["na", "nae"]]];
const TGT_PRONOUNS = ["mo", "tu", "sen", "sa", "nos", "vos", "ili"];
const TGT_NUMERALS = ["dua", "tir", "kwar", "pen"];
const TGT_NOUN_PLURAL = ["i", "et"]; // by gender
const TGT_ADJ_END = [["o", "i"], ["a", "e"]]; // [gender][plural]
const TGT_TENSE = ["e", "av", "ur"]; // present, past, future
const TGT_PERSON = [["m", "mus"], ["s", "tis"], ["t", "nt"]]; // [person-1][plural]
const TGT_NEG = "nu", TGT_AND = "ko";
const TGT_RESERVED = new Set([...TGT_DET.flat(2), ...TGT_PRONOUNS, ...TGT_NUMERALS, TGT_NEG, TGT_AND]);

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

interface Lexicon {
  nouns: { src: string; tgt: string; gender: Gender }[];
  adjectives: { src: string; tgt: string }[];
  transitive: { src: string; tgt: string }[];
  intransitive: { src: string; tgt: string }[];
  adverbs: { src: string; tgt: string }[];
  postpositions: string[]; // target words for SRC_PREPS, in order
}

function makeLexicon(r: Rng): Lexicon {
  const usedSrc = new Set(SRC_RESERVED), usedTgt = new Set(TGT_RESERVED);
  const fresh = (used: Set<string>, make: () => string): string => {
    for (;;) {
      const w = make();
      if (!used.has(w)) { used.add(w); return w; }
    }
  };
  const srcWord = () => fresh(usedSrc, () => {
    const n = r() < 0.7 ? 2 : 3;
    let w = "";
    for (let i = 0; i < n; i++) w += pick(r, SRC_ONSETS) + pick(r, SRC_VOWELS);
    return w;
  });
  const tgtWord = (syllables?: number) => fresh(usedTgt, () => {
    const n = syllables ?? (r() < 0.6 ? 1 : 2);
    let w = "";
    for (let i = 0; i < n; i++) w += pick(r, TGT_ONSETS) + pick(r, TGT_VOWELS);
    return w + pick(r, TGT_CODAS);
  });
  const pairs = (n: number) => Array.from({ length: n }, () => ({ src: srcWord(), tgt: tgtWord() }));
  return {
    nouns: Array.from({ length: SIZES.nouns }, () => ({ src: srcWord(), tgt: tgtWord(), gender: (r() < 0.5 ? 0 : 1) as Gender })),
    adjectives: pairs(SIZES.adjectives),
    transitive: pairs(SIZES.transitiveVerbs),
    intransitive: pairs(SIZES.intransitiveVerbs),
    adverbs: pairs(SIZES.adverbs),
    postpositions: SRC_PREPS.map(() => tgtWord(1)),
  };
}

interface NP { noun: number; plural: boolean; det: "def" | "indef" | "num"; numeral: number; adjs: number[] }
interface Clause {
  pronoun: number; // -1: the subject is `subj`
  subj?: NP;
  verb: number;
  transitive: boolean;
  obj?: NP;
  tense: 0 | 1 | 2;
  neg: boolean;
  adverb: number; // -1: none
  pps: { prep: number; np: NP }[];
}

function sampleNP(r: Rng, lex: Lexicon, maxAdjs: number): NP {
  const noun = Math.floor(r() * lex.nouns.length);
  const k = r();
  const det = k < 0.15 ? "num" : k < 0.6 ? "def" : "indef";
  const plural = det === "num" || r() < 0.35;
  const nAdj = Math.min(maxAdjs, r() < 0.5 ? 0 : r() < 0.7 ? 1 : 2);
  const adjs: number[] = [];
  while (adjs.length < nAdj) {
    const a = Math.floor(r() * lex.adjectives.length);
    if (!adjs.includes(a)) adjs.push(a);
  }
  return { noun, plural, det, numeral: Math.floor(r() * SRC_NUMERALS.length), adjs };
}

function sampleClause(r: Rng, lex: Lexicon): Clause {
  const pronoun = r() < 0.35 ? Math.floor(r() * SRC_PRONOUNS.length) : -1;
  const transitive = r() < 0.65;
  const nPP = r() < 0.45 ? 0 : r() < 0.73 ? 1 : 2;
  return {
    pronoun,
    subj: pronoun < 0 ? sampleNP(r, lex, 2) : undefined,
    transitive,
    verb: Math.floor(r() * (transitive ? lex.transitive : lex.intransitive).length),
    obj: transitive ? sampleNP(r, lex, 2) : undefined,
    tense: (r() < 0.5 ? 0 : r() < 0.6 ? 1 : 2) as 0 | 1 | 2,
    neg: r() < 0.15,
    adverb: r() < 0.2 ? Math.floor(r() * lex.adverbs.length) : -1,
    pps: Array.from({ length: nPP }, () => ({ prep: Math.floor(r() * SRC_PREPS.length), np: sampleNP(r, lex, 1) })),
  };
}

function srcNP(np: NP, lex: Lexicon): string[] {
  const det = np.det === "num" ? SRC_NUMERALS[np.numeral] : np.det === "def" ? "the" : np.plural ? "some" : "a";
  const noun = lex.nouns[np.noun].src + (np.plural ? "s" : "");
  return [det, ...np.adjs.map((a) => lex.adjectives[a].src), noun];
}

function tgtNP(np: NP, lex: Lexicon): string[] {
  const { tgt, gender } = lex.nouns[np.noun];
  const pl = np.plural ? 1 : 0;
  const det = np.det === "num" ? TGT_NUMERALS[np.numeral] : TGT_DET[np.det === "def" ? 0 : 1][gender][pl];
  const noun = tgt + (np.plural ? TGT_NOUN_PLURAL[gender] : "");
  return [det, noun, ...np.adjs.map((a) => lex.adjectives[a].tgt + TGT_ADJ_END[gender][pl])];
}

function agreement(c: Clause): [number, boolean] {
  return c.pronoun >= 0 ? PRONOUN_AGR[c.pronoun] : [3, c.subj!.plural];
}

function srcClause(c: Clause, lex: Lexicon): string[] {
  const [person, plural] = agreement(c);
  const stem = (c.transitive ? lex.transitive : lex.intransitive)[c.verb].src;
  const verb = c.tense === 2 ? ["will", ...(c.neg ? ["never"] : []), stem]
    : [...(c.neg ? ["never"] : []), stem + (c.tense === 1 ? "d" : person === 3 && !plural ? "s" : "")];
  return [
    ...(c.pronoun >= 0 ? SRC_PRONOUNS[c.pronoun].split(" ") : srcNP(c.subj!, lex)),
    ...verb,
    ...(c.obj ? srcNP(c.obj, lex) : []),
    ...(c.adverb >= 0 ? [lex.adverbs[c.adverb].src + "ly"] : []),
    ...c.pps.flatMap((pp) => [SRC_PREPS[pp.prep], ...srcNP(pp.np, lex)]),
  ];
}

function tgtClause(c: Clause, lex: Lexicon): string[] {
  const [person, plural] = agreement(c);
  const stem = (c.transitive ? lex.transitive : lex.intransitive)[c.verb].tgt;
  return [
    ...(c.pronoun >= 0 ? [TGT_PRONOUNS[c.pronoun]] : tgtNP(c.subj!, lex)),
    ...c.pps.flatMap((pp) => [...tgtNP(pp.np, lex), lex.postpositions[pp.prep]]),
    ...(c.obj ? tgtNP(c.obj, lex) : []),
    ...(c.adverb >= 0 ? [lex.adverbs[c.adverb].tgt + "em"] : []),
    ...(c.neg ? [TGT_NEG] : []),
    stem + TGT_TENSE[c.tense] + TGT_PERSON[person - 1][plural ? 1 : 0],
  ];
}

const sentence = (words: string[]): string => {
  const s = words.join(" ");
  return s.charAt(0).toUpperCase() + s.slice(1) + ".";
};

/** The demo languages of one seed: a sampler of sentence pairs (with repeats) and its lexicon. */
export interface DemoLanguages {
  /** Draws one sentence pair (source of 3..14 words) with the given random source. */
  sample(r: () => number): DemoPair;
  lexicon: DemoTask["lexicon"];
}

/** The languages (lexicon) of a seed. {@link demoTask} uses this; tests use it to check the mapping. */
export function demoLanguages(seed: number): DemoLanguages {
  const lex = makeLexicon(mulberry32(seed));
  return {
    sample(r) {
      for (;;) {
        const clauses = [sampleClause(r, lex)];
        if (r() < 0.12) clauses.push(sampleClause(r, lex));
        const src = clauses.map((c) => srcClause(c, lex)).reduce((a, b) => [...a, "and", ...b]);
        if (src.length < 3 || src.length > 14) continue;
        const tgt = clauses.map((c) => tgtClause(c, lex)).reduce((a, b) => [...a, TGT_AND, ...b]);
        return { src: sentence(src), tgt: sentence(tgt) };
      }
    },
    lexicon: {
      nouns: lex.nouns.length, adjectives: lex.adjectives.length, transitiveVerbs: lex.transitive.length,
      intransitiveVerbs: lex.intransitive.length, adverbs: lex.adverbs.length, postpositions: lex.postpositions.length,
    },
  };
}

/**
 * Generates the demo task: `demoTask({seed: 1, train: 20000, valid: 500, test: 500})`. The same
 * options always give the same bytes; no source sentence is in two splits. Throws if the requested
 * number of distinct sentences cannot be drawn (far beyond what the grammar allows in practice).
 */
export function demoTask(options: DemoTaskOptions = {}): DemoTask {
  const seed = options.seed ?? 1;
  const sizes = { test: options.test ?? 500, valid: options.valid ?? 500, train: options.train ?? 20000 };
  for (const [k, n] of Object.entries(sizes)) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`demoTask: ${k} must be a non-negative integer, got ${n}`);
  }
  const langs = demoLanguages(seed);
  const r = mulberry32((seed ^ 0x5bd1e995) >>> 0);
  const total = sizes.test + sizes.valid + sizes.train;
  const seen = new Set<string>();
  const drawn: DemoPair[] = [];
  const maxDraws = 50 * total + 10_000;
  for (let draws = 0; drawn.length < total; draws++) {
    if (draws >= maxDraws) throw new Error(`demoTask: only ${drawn.length} distinct sentences after ${draws} draws (asked for ${total})`);
    const p = langs.sample(r);
    if (seen.has(p.src)) continue;
    seen.add(p.src);
    drawn.push(p);
  }
  const split = (from: number, n: number): DemoSplit => {
    const part = drawn.slice(from, from + n);
    return { src: part.map((p) => p.src), tgt: part.map((p) => p.tgt) };
  };
  const test = split(0, sizes.test), valid = split(sizes.test, sizes.valid), train = split(sizes.test + sizes.valid, sizes.train);
  const ex = drawn.find((p) => p.src.split(" ").length >= 8) ?? drawn[0];
  const l = langs.lexicon;
  const description = [
    `Built-in demo task (seed ${seed}): translate Srclang (English-like: S-V-O, prepositions, adjectives before nouns) ` +
      `into Tgtlang (S-PP-O-V: verb last, postpositions, adjectives after nouns; determiners, adjectives and plural nouns ` +
      `agree in gender and number; verbs agree with the subject in person and number and mark tense).`,
    `Lexicon: ${l.nouns} nouns, ${l.adjectives} adjectives, ${l.transitiveVerbs + l.intransitiveVerbs} verbs, ` +
      `${l.adverbs} adverbs, ${l.postpositions} postpositions (pseudo-words from the seed). ` +
      `Splits: ${sizes.train} train, ${sizes.valid} valid, ${sizes.test} test, disjoint; source sentences of 3-14 words.`,
    ex ? `Example: "${ex.src}" -> "${ex.tgt}"` : "",
  ].filter(Boolean).join("\n");
  return { train, valid, test, description, lexicon: l, seed };
}
