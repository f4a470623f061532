/**
 * data/corpus.ts: aligned files and TSV, line ends and BOM, and every reported problem
 * (different line counts, empty, over-long, invalid UTF-8, malformed TSV) under each policy.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  CorpusError, firstInvalidUtf8, formatProblems, parseParallel, parseTsv, readLines, readParallelFiles,
  readTsvFile, splitLines,
} from "../../data/corpus.js";
import { hasShared, rng, sharedData } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "hat-corpus-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, data: string | Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
const bytes = (...parts: (string | number[])[]): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) out.push(...(typeof p === "string" ? new TextEncoder().encode(p) : p));
  return Uint8Array.from(out);
};

describe("aligned files", () => {
  it("reads pairs with line numbers, keeping text byte for byte", () => {
    const src = file("a.en", "Hello world.\nTwo  spaces and a trailing one \nüñí©ødé 😀\n");
    const tgt = file("a.de", "Hallo Welt.\nZwei\u00a0Leerzeichen\nUnicode\u2009ok 😀\n");
    const r = readParallelFiles(src, tgt);
    expect(r.problems).toEqual([]);
    expect(r.lines).toBe(3);
    expect(r.skipped).toBe(0);
    expect(r.pairs[1]).toEqual({ src: "Two  spaces and a trailing one ", tgt: "Zwei\u00a0Leerzeichen", line: 2 });
    expect(r.pairs[2].src).toBe("üñí©ødé 😀");
  });

  it("handles CRLF, a BOM and a last line without a newline", () => {
    const r = parseParallel({ name: "s", data: bytes([0xef, 0xbb, 0xbf], "a\r\nb\r\nc") }, { name: "t", data: "x\ny\nz\n" });
    expect(r.pairs.map((p) => p.src)).toEqual(["a", "b", "c"]);
    expect(r.pairs.map((p) => p.tgt)).toEqual(["x", "y", "z"]);
  });

  it("refuses different line counts, naming both files and counts", () => {
    const src = file("b.en", "1\n2\n3\n"), tgt = file("b.de", "1\n2\n");
    expect(() => readParallelFiles(src, tgt)).toThrow(CorpusError);
    expect(() => readParallelFiles(src, tgt)).toThrow(`line counts differ: ${src} has 3 lines, ${tgt} has 2`);
  });

  it("an empty file pair is an empty corpus", () => {
    const r = parseParallel({ name: "s", data: "" }, { name: "t", data: new Uint8Array(0) });
    expect(r.lines).toBe(0);
    expect(r.pairs).toEqual([]);
  });
});

describe("problems", () => {
  const src = "ok one\n\nok three\n   \nfive five five five five five\nsix\n";
  const tgt = "eins\nzwei\n\nvier\nfünf\nsechs sechs sechs\n";

  it("reports empty and whitespace-only lines on either side, and skips them", () => {
    const r = parseParallel({ name: "s", data: src }, { name: "t", data: tgt });
    expect(r.problems).toEqual([
      { line: 2, kind: "empty", side: "src", detail: "empty source" },
      { line: 3, kind: "empty", side: "tgt", detail: "empty target" },
      { line: 4, kind: "empty", side: "src", detail: "whitespace-only source" },
    ]);
    expect(r.pairs.map((p) => p.line)).toEqual([1, 5, 6]);
    expect(r.skipped).toBe(3);
  });

  it("reports over-long lines by characters and by tokens", () => {
    const r = parseParallel({ name: "s", data: src }, { name: "t", data: tgt }, { maxChars: 20, maxTokens: 2 });
    const long = r.problems.filter((p) => p.kind === "too-long");
    expect(long).toEqual([
      { line: 5, kind: "too-long", side: "src", detail: "source has 29 characters (max 20)" },
      { line: 5, kind: "too-long", side: "src", detail: "source has 6 tokens (max 2)" },
      { line: 6, kind: "too-long", side: "tgt", detail: "target has 3 tokens (max 2)" },
    ]);
    expect(r.pairs.map((p) => p.line)).toEqual([1]);
  });

  it("counts characters as code points and tokens with the caller's counter", () => {
    const r = parseParallel({ name: "s", data: "😀😀😀\nabcd\n" }, { name: "t", data: "x\ny\n" }, {
      maxChars: 3, maxTokens: 2, countTokens: (s) => s.length,
    });
    expect(r.problems.map((p) => p.detail)).toEqual(["source has 6 tokens (max 2)", "source has 4 characters (max 3)", "source has 4 tokens (max 2)"]);
  });

  it("reports invalid UTF-8 with the line number and byte offset, and reads the other lines", () => {
    const bad = bytes("good\n", "ab", [0xc3, 0x28], "\n", [0xed, 0xa0, 0x80], "\nfine é\n", "x", [0xe2, 0x82], "\n");
    const r = parseParallel({ name: "bad.en", data: bad }, { name: "t", data: "1\n2\n3\n4\n5\n" });
    expect(r.problems.map((p) => [p.line, p.kind, p.side])).toEqual([[2, "bad-utf8", "src"], [3, "bad-utf8", "src"], [5, "bad-utf8", "src"]]);
    expect(r.problems[0].detail).toBe("bad.en: invalid UTF-8 at byte 2 of the line (bytes c3 28)");
    expect(r.problems[1].detail).toMatch(/at byte 0 of the line \(bytes ed a0 80\)/);
    expect(r.pairs.map((p) => [p.line, p.src])).toEqual([[1, "good"], [4, "fine é"]]);
  });

  it("firstInvalidUtf8 agrees with TextDecoder (fatal) on random bytes", () => {
    const r = rng(5), dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    const interesting = [0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff];
    for (let t = 0; t < 20000; t++) {
      const n = Math.floor(r() * 7);
      const b = Uint8Array.from({ length: n }, () => interesting[Math.floor(r() * interesting.length)]);
      let ok = true;
      try { dec.decode(b); } catch { ok = false; }
      expect(firstInvalidUtf8(b) < 0, Array.from(b).join(",")).toBe(ok);
    }
  });

  it("'skip' logs one summary with the count; 'fail' throws it", () => {
    const logs: string[] = [];
    const r = parseParallel({ name: "s", data: src }, { name: "t", data: tgt }, { onProblem: "skip", log: (m) => logs.push(m) });
    expect(r.pairs.length).toBe(3);
    expect(logs).toEqual([
      "corpus s + t: 3 of 6 lines skipped for problems (3 empty): line 2: empty source; line 3: empty target; line 4: whitespace-only source",
    ]);
    expect(() => parseParallel({ name: "s", data: src }, { name: "t", data: tgt }, { onProblem: "fail", maxListed: 1 }))
      .toThrow("corpus s + t: 3 of 6 lines skipped for problems (3 empty): line 2: empty source; and 2 more");
    // a clean corpus neither logs nor throws
    parseParallel({ name: "s", data: "a\n" }, { name: "t", data: "b\n" }, { onProblem: "fail" });
    expect(formatProblems(parseParallel({ name: "s", data: "a\n" }, { name: "t", data: "b\n" }))).toBe("corpus s + t: 1 lines, no problems");
  });
});

describe("TSV", () => {
  it("reads source<TAB>target and reports lines without exactly one tab", () => {
    const p = file("c.tsv", "a b\tx y\nno tab here\none\ttwo\tthree\n\tonly target\nlast\tline");
    const r = readTsvFile(p);
    expect(r.pairs).toEqual([{ src: "a b", tgt: "x y", line: 1 }, { src: "last", tgt: "line", line: 5 }]);
    expect(r.problems).toEqual([
      { line: 2, kind: "bad-tsv", side: "line", detail: `${p}: expected 2 tab-separated fields, found 1` },
      { line: 3, kind: "bad-tsv", side: "line", detail: `${p}: expected 2 tab-separated fields, found 3` },
      { line: 4, kind: "empty", side: "src", detail: "empty source" },
    ]);
  });

  it("reports invalid UTF-8 in a TSV line", () => {
    const r = parseTsv({ name: "d.tsv", data: bytes("a\tb\n", [0xff], "\tc\n") });
    expect(r.problems.map((p) => [p.line, p.kind])).toEqual([[2, "bad-utf8"]]);
    expect(r.pairs.length).toBe(1);
  });
});

describe("readLines", () => {
  it("keeps empty lines and refuses invalid UTF-8 naming the file and line", () => {
    expect(readLines(file("h.txt", "a\n\nc\n"))).toEqual(["a", "", "c"]);
    const p = file("bad.txt", bytes("a\nb", [0x80], "\n"));
    expect(() => readLines(p)).toThrow(`${p}: 1 line(s) are not valid UTF-8: line 2: ${p}: invalid UTF-8 at byte 1`);
  });

  it("splitLines of a string needs no decoding", () => {
    expect(splitLines({ name: "x", data: "\ufeffa\r\nb" }).lines).toEqual(["a", "b"]);
  });
});

describe.skipIf(!hasShared)("Multi30k", () => {
  it("train.en + train.de: 29000 pairs, problems reported", () => {
    const m = join(sharedData, "multi30k");
    const t0 = performance.now();
    const r = readParallelFiles(join(m, "train.en"), join(m, "train.de"), { maxTokens: 80 });
    const ms = performance.now() - t0;
    expect(r.lines).toBe(29000);
    expect(r.pairs.length + r.skipped).toBe(29000);
    expect(r.pairs.length).toBeGreaterThan(28900);
    expect(r.pairs[0]).toEqual({
      src: "Two young, White males are outside near many bushes.",
      tgt: "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.", line: 1,
    });
    expect(ms).toBeLessThan(3000);
  });
});
