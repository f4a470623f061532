/**
 * Corpus BLEU as sacreBLEU computes it by default (`sacrebleu.corpus_bleu(hyps, [refs])`):
 * the 13a tokenizer (mteval-v13a), exponential smoothing ("exp", mteval's NIST smoothing),
 * n-grams 1..4, corpus-level statistics, case-sensitive, no effective order.
 *
 * Written against sacreBLEU 2.x (`metrics/bleu.py`, `tokenizers/tokenizer_13a.py`,
 * `tokenizer_re.py`); test/data/bleu-fixtures.json holds scores computed by sacreBLEU itself.
 * Details that matter for bit-compatibility:
 * - "whitespace" is Python's `str.isspace()` set (`str.split()`, `str.rstrip()`), which differs
 *   from JavaScript's `\s` (it has U+001C..U+001F and U+0085, not U+FEFF);
 * - segments are `rstrip()`ped before tokenizing;
 * - a precision of zero after the first non-zero one is smoothed 100 / (2^k * total);
 *   a missing order (no n-grams of that length at all) gives log 0 := -9999999999, so BLEU 0.
 */

/** Python's `str.isspace()` characters, as a regex character-class body. */
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPACE_RUNS = new RegExp(`[${PY_SPACE}]+`, "u");
const TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`, "u");

// tokenizer_re.py, in order. The class of the first rule is {|}~ [\]^_` space!"#$%& ()*+ :;<=>?@ /
const RE_SYMBOLS = /([{-~[-`\x20-&(-+:-@/])/gu;
const RE_PERIOD_COMMA_AFTER = /([^0-9])([.,])/gu;
const RE_PERIOD_COMMA_BEFORE = /([.,])([^0-9])/gu;
const RE_DASH_AFTER_DIGIT = /([0-9])(-)/gu;

/** Splits on runs of Python whitespace, dropping empty pieces (Python's `str.split()`). */
export function pySplit(s: string): string[] {
  const parts = s.split(SPACE_RUNS);
  return parts.filter((p) => p.length > 0);
}

/**
 * The 13a tokenizer of sacreBLEU (mteval-v13a.pl's, as WMT uses it): drops `<skipped>`, joins
 * `-\n` hyphenations, unescapes `&quot; &amp; &lt; &gt;`, splits off punctuation and symbols, and
 * periods/commas except between digits, and a dash after a digit. Returns tokens joined by one space.
 */
export function tokenize13a(line: string): string {
  line = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (line.includes("&")) {
    line = line.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  }
  line = ` ${line} `;
  line = line.replace(RE_SYMBOLS, " $1 ");
  line = line.replace(RE_PERIOD_COMMA_AFTER, "$1 $2 ");
  line = line.replace(RE_PERIOD_COMMA_BEFORE, " $1 $2");
  line = line.replace(RE_DASH_AFTER_DIGIT, "$1 $2 ");
  return pySplit(line).join(" ");
}

/** Options of {@link bleu}; the defaults are sacreBLEU's. */
export interface BleuOptions {
  /** Lowercase hypotheses and references first (sacreBLEU `-lc`). JavaScript's toLowerCase. Default false. */
  lowercase?: boolean;
  /** "13a" (default) or "none" (split on whitespace only, for pre-tokenized text). */
  tokenize?: "13a" | "none";
}

/** Corpus BLEU and its parts, in sacreBLEU's units (score and precisions in 0..100). */
export interface BleuResult {
  /** BLEU, 0..100, full precision (sacreBLEU prints it rounded to 2 decimals). */
  score: number;
  /** Modified n-gram precisions for n = 1..4 in percent, smoothed as sacreBLEU does. */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Hypothesis length in tokens (after tokenization). */
  sysLen: number;
  /** Effective reference length (closest reference length per segment, shorter on ties). */
  refLen: number;
  /** Matched n-grams per order (clipped counts). */
  counts: number[];
  /** Hypothesis n-grams per order. */
  totals: number[];
}

const MAX_ORDER = 4;

/** n-gram counts of a token list for n = 1..MAX_ORDER, keyed "n-gram tokens joined by a space". */
function ngramCounts(tokens: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= MAX_ORDER; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = n === 1 ? tokens[i] : tokens.slice(i, i + n).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Tokens have no spaces, so the order of a key is its number of spaces plus one. */
function orderOf(key: string): number {
  let n = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 32) n++;
  return n;
}

/**
 * Corpus BLEU of `hyps` against one reference per segment (`refs: string[]`) or several
 * reference streams (`refs: string[][]`, each stream as long as `hyps`, as sacreBLEU takes them).
 * Compatible with `sacrebleu.corpus_bleu(hyps, [refs]).score` (default settings).
 * Throws when the numbers of lines differ.
 */
export function bleu(hyps: readonly string[], refs: readonly string[] | readonly (readonly string[])[], options: BleuOptions = {}): BleuResult {
  const streams: readonly (readonly string[])[] =
    refs.length > 0 && Array.isArray(refs[0]) ? (refs as readonly (readonly string[])[]) : [refs as readonly string[]];
  streams.forEach((s, k) => {
    if (s.length !== hyps.length) {
      throw new Error(`BLEU: ${hyps.length} hypotheses but ${s.length} references${streams.length > 1 ? ` in reference stream ${k + 1}` : ""}`);
    }
  });
  const prep = (s: string): string[] => {
    if (options.lowercase) s = s.toLowerCase();
    s = s.replace(TRAILING_SPACE, "");
    return options.tokenize === "none" ? pySplit(s) : pySplit(tokenize13a(s));
  };
  const correct = new Array<number>(MAX_ORDER).fill(0);
  const total = new Array<number>(MAX_ORDER).fill(0);
  let sysLen = 0, refLen = 0;
  for (let i = 0; i < hyps.length; i++) {
    let refMax: Map<string, number> | undefined;
    const refLens: number[] = [];
    for (const stream of streams) {
      const toks = prep(stream[i]);
      refLens.push(toks.length);
      const c = ngramCounts(toks);
      if (!refMax) refMax = c;
      else for (const [k, v] of c) if (v > (refMax.get(k) ?? 0)) refMax.set(k, v);
    }
    const hypToks = prep(hyps[i]);
    const hypLen = hypToks.length;
    // closest reference length; on ties the shorter
    let best = -1, bestDiff = -1;
    for (const r of refLens) {
      const d = Math.abs(hypLen - r);
      if (bestDiff === -1 || d < bestDiff || (d === bestDiff && r < best)) { bestDiff = d; best = r; }
    }
    sysLen += hypLen;
    refLen += best;
    for (const [k, v] of ngramCounts(hypToks)) {
      const n = orderOf(k) - 1;
      total[n] += v;
      const r = refMax!.get(k);
      if (r !== undefined) correct[n] += Math.min(v, r);
    }
  }
  return bleuFromStats(correct, total, sysLen, refLen);
}

/** log with sacreBLEU's floor: log(0) = -9999999999. */
const myLog = (x: number): number => (x === 0 ? -9999999999 : Math.log(x));

/**
 * BLEU from sufficient statistics with exponential smoothing (sacreBLEU's `compute_bleu` with
 * smooth_method "exp"). Exposed so that statistics can be summed across shards.
 */
export function bleuFromStats(counts: number[], totals: number[], sysLen: number, refLen: number): BleuResult {
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(MAX_ORDER).fill(0);
  const result = (score: number): BleuResult =>
    ({ score, precisions, bp, sysLen, refLen, counts: counts.slice(), totals: totals.slice() });
  if (!counts.some((c) => c !== 0)) return result(0);
  let smooth = 1;
  for (let n = 0; n < MAX_ORDER; n++) {
    if (totals[n] === 0) break;
    if (counts[n] === 0) {
      smooth *= 2;
      precisions[n] = 100 / (smooth * totals[n]);
    } else {
      precisions[n] = (100 * counts[n]) / totals[n];
    }
  }
  let sum = 0;
  for (const p of precisions) sum += myLog(p);
  return result(bp * Math.exp(sum / MAX_ORDER));
}

/** sacreBLEU's one-line summary: `BLEU = 34.12 65.2/40.1/27.3/19.0 (BP = 1.000 ratio = 1.012 hyp_len = 123 ref_len = 122)`. */
export function formatBleu(r: BleuResult): string {
  const ratio = r.refLen ? r.sysLen / r.refLen : 0;
  return `BLEU = ${r.score.toFixed(2)} ${r.precisions.map((p) => p.toFixed(1)).join("/")} ` +
    `(BP = ${r.bp.toFixed(3)} ratio = ${ratio.toFixed(3)} hyp_len = ${r.sysLen} ref_len = ${r.refLen})`;
}
