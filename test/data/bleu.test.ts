/**
 * data/bleu.ts against sacreBLEU itself: test/data/bleu-fixtures.json holds hypotheses,
 * references and sacrebleu.corpus_bleu(...) results at full precision, and sacreBLEU's own 13a
 * tokenization of a few hundred strings (written by test/data/gen-bleu-fixtures.py; no Python needed here).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bleu, bleuFromStats, formatBleu, pySplit, tokenize13a, type BleuResult } from "../../data/bleu.js";
import { hasShared, repoRoot, sharedData } from "../helpers.js";

interface Expected { score: number; precisions: number[]; bp: number; sysLen: number; refLen: number; counts: number[]; totals: number[] }
interface Fixtures {
  sacrebleu: string;
  signature: string;
  cases: { name: string; hyps: string[]; refs: string[] | string[][]; options?: { lowercase: boolean }; expected: Expected }[];
  multi30k: { name: string; file: string; expected: Expected }[];
  tokenize13a: { input: string; tokens: string }[];
}

const fx = JSON.parse(readFileSync(join(repoRoot, "test/data/bleu-fixtures.json"), "utf8")) as Fixtures;

function expectMatches(got: BleuResult, want: Expected): void {
  expect(Math.abs(got.score - want.score)).toBeLessThan(1e-9);
  expect(got.sysLen).toBe(want.sysLen);
  expect(got.refLen).toBe(want.refLen);
  expect(got.counts).toEqual(want.counts);
  expect(got.totals).toEqual(want.totals);
  expect(Math.abs(got.bp - want.bp)).toBeLessThan(1e-12);
  got.precisions.forEach((p, i) => expect(Math.abs(p - want.precisions[i])).toBeLessThan(1e-9));
}

describe("tokenize13a", () => {
  it(`tokenizes ${fx.tokenize13a.length} strings exactly as sacreBLEU ${fx.sacrebleu}`, () => {
    for (const { input, tokens } of fx.tokenize13a) expect(tokenize13a(input), JSON.stringify(input)).toBe(tokens);
  });

  it("splits on Python's whitespace, not JavaScript's", () => {
    expect(pySplit("a\u0085b\u001cc\ufeffd")).toEqual(["a", "b", "c\ufeffd"]);
    expect(pySplit("  ")).toEqual([]);
  });
});

describe("bleu against sacreBLEU", () => {
  it("the fixtures were made with sacreBLEU's default signature", () => {
    expect(fx.signature).toMatch(/case:mixed\|eff:no\|tok:13a\|smooth:exp/);
    expect(fx.cases.length).toBeGreaterThanOrEqual(15);
  });

  for (const c of fx.cases) {
    it(c.name, () => expectMatches(bleu(c.hyps, c.refs, c.options ?? {}), c.expected));
  }

  for (const c of fx.multi30k) {
    it.skipIf(!hasShared)(c.name, () => {
      const text = readFileSync(join(sharedData, "multi30k", c.file), "utf8");
      const refs = text.split("\n");
      if (refs[refs.length - 1] === "") refs.pop();
      // the noise of gen-bleu-fixtures.py's m30k_noise, replayed
      const hyps = refs.map((s, i) => {
        let w = s.split(" ");
        if (i % 7 === 0) w = w.reverse();
        else if (i % 3 === 1) w = w.filter((_, j) => j % 4 !== 2);
        else if (i % 5 === 2) w = w.slice(0, Math.max(1, w.length - 2));
        return w.join(" ");
      });
      expectMatches(bleu(hyps, refs), c.expected);
    });
  }
});

describe("bleu API", () => {
  it("refuses different numbers of lines, naming both", () => {
    expect(() => bleu(["a", "b"], ["a"])).toThrow(/2 hypotheses but 1 references/);
    expect(() => bleu(["a"], [["a"], ["a", "b"]])).toThrow(/stream 2/);
  });

  it("an empty corpus scores 0", () => {
    expect(bleu([], []).score).toBe(0);
  });

  it("tokenize 'none' splits on whitespace only", () => {
    expect(bleu(["a b c d."], ["a b c d ."], { tokenize: "none" }).score).toBeLessThan(100);
    expect(bleu(["a b c d."], ["a b c d ."]).score).toBeCloseTo(100, 9);
  });

  it("bleuFromStats of summed statistics equals the corpus score", () => {
    const c = fx.cases.find((x) => x.name.startsWith("multi30k-like"))!;
    const half = c.hyps.length >> 1, refs = c.refs as string[];
    const a = bleu(c.hyps.slice(0, half), refs.slice(0, half)), b = bleu(c.hyps.slice(half), refs.slice(half));
    const sum = (x: number[], y: number[]) => x.map((v, i) => v + y[i]);
    const merged = bleuFromStats(sum(a.counts, b.counts), sum(a.totals, b.totals), a.sysLen + b.sysLen, a.refLen + b.refLen);
    expect(merged.score).toBeCloseTo(c.expected.score, 9);
  });

  it("formats like sacreBLEU's summary line", () => {
    const c = fx.cases.find((x) => x.name === "short hypothesis (brevity penalty)")!;
    expect(formatBleu(bleu(c.hyps, c.refs))).toMatch(/^BLEU = 15\.16 [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ \(BP = 0\.388 ratio = 0\.\d{3} hyp_len = \d+ ref_len = \d+\)$/);
  });
});
