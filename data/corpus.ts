/**
 * Parallel corpora: two aligned text files (line i of one translates line i of the other) or one
 * TSV file (`source<TAB>target` per line), UTF-8.
 *
 * Nothing is dropped silently. Different line counts are an error naming both files and counts.
 * Lines that cannot be used are returned as problems `{line, kind, side, detail}` (line numbers
 * count from 1), and the caller decides: keep the report (`onProblem: "return"`, the default),
 * skip them with a one-line summary (`"skip"`), or stop (`"fail"`). The kinds:
 * - `bad-utf8`: the line is not valid UTF-8 (the detail names the byte offset in the line);
 * - `empty`: empty or whitespace-only;
 * - `too-long`: over `maxChars` characters (code points) or `maxTokens` tokens;
 * - `bad-tsv`: a TSV line without exactly one tab.
 * Line ends: `\n`, with a `\r` before it removed (CRLF files); a final line without `\n` counts.
 * A UTF-8 byte order mark at the start of a file is dropped. Other text, trailing spaces
 * included, is kept byte for byte.
 */
import { readFileSync } from "node:fs";
import { InputError } from "../runtime/errors.js";

/** What is wrong with a line. */
export type ProblemKind = "bad-utf8" | "empty" | "too-long" | "bad-tsv";

/** One unusable line. `side` says which text of the pair ("line" for the TSV line as a whole). */
export interface CorpusProblem {
  line: number;
  kind: ProblemKind;
  side: "src" | "tgt" | "line";
  detail: string;
}

/** One usable sentence pair and its line number (from 1). */
export interface Pair {
  src: string;
  tgt: string;
  line: number;
}

/** A read corpus: the usable pairs, the problems, and counts for reports. */
export interface CorpusResult {
  /** Pairs from lines without any problem, in file order. */
  pairs: Pair[];
  /** Every problem found, in line order (a line can have several). */
  problems: CorpusProblem[];
  /** Lines read (per file). */
  lines: number;
  /** Lines left out of `pairs` because of problems. */
  skipped: number;
  /** The input's name for messages: "a.en + a.de" or "corpus.tsv". */
  name: string;
}

/** Options of the corpus readers. */
export interface CorpusOptions {
  /** Longest accepted side in characters (code points). Default: no limit. */
  maxChars?: number;
  /** Longest accepted side in tokens, counted by `countTokens`. Default: no limit. */
  maxTokens?: number;
  /** Token counter for `maxTokens`; default: whitespace-separated words. Pass a subword tokenizer's. */
  countTokens?: (s: string) => number;
  /** "return" (default): report problems in the result; "skip": also log a summary; "fail": throw a CorpusError. */
  onProblem?: "return" | "skip" | "fail";
  /** Where "skip" writes its summary. Default: console.error. */
  log?: (message: string) => void;
  /** How many problems the summary and the error list in full (default 5). */
  maxListed?: number;
}

/** An unreadable or unacceptable corpus: different line counts, or problems under `onProblem: "fail"`. */
export class CorpusError extends InputError {
  override name = "CorpusError";
}

/** Text of a file or of memory, with a name for messages. */
export interface NamedText {
  name: string;
  data: Uint8Array | string;
}

/** Lines of one text: `null` where a line is not valid UTF-8 (then `problems` says why). */
export interface SplitLines {
  lines: (string | null)[];
  problems: CorpusProblem[];
}

const fatal = new TextDecoder("utf-8", { fatal: true });

/**
 * Offset of the first byte that is not part of valid UTF-8 in `b` (no overlongs, no surrogates,
 * nothing above U+10FFFF), or -1 when all of `b` is valid.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    let n: number, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) { n = 2; if (c === 0xe0) lo = 0xa0; else if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; if (c === 0xf0) lo = 0x90; else if (c === 0xf4) hi = 0x8f; }
    else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined) return i;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += n + 1;
  }
  return -1;
}

const stripCr = (s: string): string => (s.endsWith("\r") ? s.slice(0, -1) : s);

/**
 * Splits a text into lines (see the module comment for line ends and the BOM). Bytes are checked
 * as UTF-8: the whole text at once, and line by line only when that fails, so that each bad line
 * is reported with its number and the offset of the first bad byte.
 */
export function splitLines(text: NamedText): SplitLines {
  const { data } = text;
  if (typeof data === "string") return { lines: toLines(data), problems: [] };
  try {
    return { lines: toLines(fatal.decode(data)), problems: [] };
  } catch {
    // fall through: find the bad lines
  }
  const lines: (string | null)[] = [], problems: CorpusProblem[] = [];
  let start = 0;
  if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) start = 3;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end < 0) end = data.length;
    const bytes = data.subarray(start, end);
    const bad = firstInvalidUtf8(bytes);
    if (bad < 0) {
      lines.push(stripCr(fatal.decode(bytes)));
    } else {
      lines.push(null);
      const shown = Array.from(bytes.subarray(bad, bad + 4), (x) => x.toString(16).padStart(2, "0")).join(" ");
      problems.push({ line: lines.length, kind: "bad-utf8", side: "line", detail: `${text.name}: invalid UTF-8 at byte ${bad} of the line (bytes ${shown})` });
    }
    start = end + 1;
  }
  return { lines, problems };
}

function toLines(s: string): string[] {
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  if (s === "") return [];
  const lines = s.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  for (let i = 0; i < lines.length; i++) if (lines[i].endsWith("\r")) lines[i] = lines[i].slice(0, -1);
  return lines;
}

/** Whitespace-separated words: the default token count for `maxTokens`. */
export function countWords(s: string): number {
  const t = s.trim();
  return t === "" ? 0 : t.split(/\s+/).length;
}

function countCodePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { n--; i++; }
    }
  }
  return n;
}

/** Problems of one side of a pair: empty, too long. */
function checkSide(s: string, side: "src" | "tgt", line: number, opts: CorpusOptions, out: CorpusProblem[]): void {
  const name = side === "src" ? "source" : "target";
  if (s.trim() === "") {
    out.push({ line, kind: "empty", side, detail: s === "" ? `empty ${name}` : `whitespace-only ${name}` });
    return;
  }
  if (opts.maxChars !== undefined && s.length > opts.maxChars) {
    const n = countCodePoints(s);
    if (n > opts.maxChars) out.push({ line, kind: "too-long", side, detail: `${name} has ${n} characters (max ${opts.maxChars})` });
  }
  if (opts.maxTokens !== undefined) {
    const n = (opts.countTokens ?? countWords)(s);
    if (n > opts.maxTokens) out.push({ line, kind: "too-long", side, detail: `${name} has ${n} tokens (max ${opts.maxTokens})` });
  }
}

/** Builds the result from aligned lines (null = undecodable) and applies `onProblem`. */
function collect(name: string, src: (string | null)[], tgt: (string | null)[], problems: CorpusProblem[], opts: CorpusOptions): CorpusResult {
  const pairs: Pair[] = [];
  const bad = new Set(problems.map((p) => p.line));
  for (let i = 0; i < src.length; i++) {
    const line = i + 1, s = src[i], t = tgt[i];
    if (s === null || t === null) continue;
    const before = problems.length;
    checkSide(s, "src", line, opts, problems);
    checkSide(t, "tgt", line, opts, problems);
    if (problems.length > before) bad.add(line);
    else if (!bad.has(line)) pairs.push({ src: s, tgt: t, line });
  }
  problems.sort((a, b) => a.line - b.line);
  const result: CorpusResult = { pairs, problems, lines: src.length, skipped: bad.size, name };
  const policy = opts.onProblem ?? "return";
  if (problems.length > 0 && policy === "fail") throw new CorpusError(formatProblems(result, opts.maxListed));
  if (problems.length > 0 && policy === "skip") (opts.log ?? console.error)(formatProblems(result, opts.maxListed));
  return result;
}

/**
 * A summary of a result's problems: `corpus a.en + a.de: 3 of 29000 lines have problems
 * (2 empty, 1 too-long), skipped; line 17: empty target; ...` listing the first `maxListed` (5).
 */
export function formatProblems(r: CorpusResult, maxListed = 5): string {
  if (r.problems.length === 0) return `corpus ${r.name}: ${r.lines} lines, no problems`;
  const byKind = new Map<string, number>();
  for (const p of r.problems) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
  const kinds = [...byKind].map(([k, n]) => `${n} ${k}`).join(", ");
  const listed = r.problems.slice(0, maxListed).map((p) => `line ${p.line}: ${p.detail}`).join("; ");
  const more = r.problems.length > maxListed ? `; and ${r.problems.length - maxListed} more` : "";
  return `corpus ${r.name}: ${r.skipped} of ${r.lines} lines skipped for problems (${kinds}): ${listed}${more}`;
}

/**
 * Reads a parallel corpus from two texts (in memory or read by the caller), line i of `src`
 * aligned with line i of `tgt`. Throws a CorpusError when the line counts differ.
 */
export function parseParallel(src: NamedText, tgt: NamedText, opts: CorpusOptions = {}): CorpusResult {
  const a = splitLines(src), b = splitLines(tgt);
  if (a.lines.length !== b.lines.length) {
    throw new CorpusError(`line counts differ: ${src.name} has ${a.lines.length} lines, ${tgt.name} has ${b.lines.length}`);
  }
  const problems = [
    ...a.problems.map((p) => ({ ...p, side: "src" as const })),
    ...b.problems.map((p) => ({ ...p, side: "tgt" as const })),
  ];
  return collect(`${src.name} + ${tgt.name}`, a.lines, b.lines, problems, opts);
}

/** Reads a TSV corpus (`source<TAB>target` per line) from a text in memory. */
export function parseTsv(text: NamedText, opts: CorpusOptions = {}): CorpusResult {
  const { lines, problems } = splitLines(text);
  const src: (string | null)[] = [], tgt: (string | null)[] = [];
  lines.forEach((l, i) => {
    const tab = l === null ? -1 : l.indexOf("\t");
    if (l === null || tab < 0 || l.indexOf("\t", tab + 1) >= 0) {
      if (l !== null) {
        const fields = tab < 0 ? 1 : l.split("\t").length;
        problems.push({ line: i + 1, kind: "bad-tsv", side: "line", detail: `${text.name}: expected 2 tab-separated fields, found ${fields}` });
      }
      src.push(null); tgt.push(null);
    } else {
      src.push(l.slice(0, tab)); tgt.push(l.slice(tab + 1));
    }
  });
  return collect(text.name, src, tgt, problems, opts);
}

/** Reads two aligned text files. See {@link parseParallel}. */
export function readParallelFiles(srcPath: string, tgtPath: string, opts: CorpusOptions = {}): CorpusResult {
  return parseParallel({ name: srcPath, data: readFileSync(srcPath) }, { name: tgtPath, data: readFileSync(tgtPath) }, opts);
}

/** Reads a TSV file. See {@link parseTsv}. */
export function readTsvFile(path: string, opts: CorpusOptions = {}): CorpusResult {
  return parseTsv({ name: path, data: readFileSync(path) }, opts);
}

/**
 * Reads the lines of one UTF-8 text file (a hypothesis or reference file, text to translate).
 * Throws a CorpusError naming the file and the first bad lines when some are not valid UTF-8.
 * Empty lines are kept: in a hypothesis file they are legitimate (empty translations).
 */
export function readLines(path: string): string[] {
  const { lines, problems } = splitLines({ name: path, data: readFileSync(path) });
  if (problems.length > 0) {
    const first = problems.slice(0, 5).map((p) => `line ${p.line}: ${p.detail}`).join("; ");
    throw new CorpusError(`${path}: ${problems.length} line(s) are not valid UTF-8: ${first}`);
  }
  return lines as string[];
}
