/**
 * data/bpe.ts: exact round trip on any string, deterministic training that agrees with a naive
 * recount-everything BPE, the vocabulary layout (specials 0..3, bytes, characters, merges),
 * JSON save/load with checks, and size/speed on Multi30k when ../shared is present.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Bpe, preTokenize, SPECIAL_TOKENS } from "../../data/bpe.js";
import { SPECIALS } from "../../runtime/types.js";
import { hasShared, rng, sharedData } from "../helpers.js";

const CORPUS = [
  "A man in a blue shirt is standing on a ladder.",
  "Ein Mann in einem blauen Hemd steht auf einer Leiter.",
  "Two dogs are playing in the snow, near 3 trees!",
  "Zwei Hunde spielen im Schnee, in der Nähe von 3 Bäumen!",
  "A little girl climbing into a wooden playhouse.",
  "Ein kleines Mädchen klettert in ein Spielhaus aus Holz.",
  "The  quick brown fox\tjumps over the lazy dog ... again (and again).",
  "Der schnelle braune Fuchs springt über den faulen Hund – schon wieder.",
];

const TRICKY = [
  "", " ", "  ", "   leading", "trailing   ", "a  b   c", "\t\ttabs\tand\nnewlines\r\n", "...", "?!", "a.b,c;d",
  "don't stop", "3.14159 and 1,000,000", "ÄÖÜ äöü ß", "naïve café", "e\u0301 combining", "日本語のテキスト", "😀😃 emoji 🚀",
  "\u00a0nbsp\u00a0", "\u2581 already a marker", "<unk> <s> </s> <pad> <0x41>", "\u0000\u0001 controls \u007f",
  "lone \ud800 high", "lone \udc00 low", "\udbff\udfff max", "\ud83d", "x\ud83d\ude00y", "\ufeffbom", "﷽", "ǅ",
];

describe("preTokenize", () => {
  it("cuts text into chunks whose concatenation is the text", () => {
    expect(preTokenize(" A man,  in 2024!")).toEqual([" A", " man", ",", " ", " in", " 2024", "!"]);
    for (const s of TRICKY) expect(preTokenize(s).join("")).toBe(s);
  });

  it("cuts very long runs (not inside a surrogate pair), so encoding a 200k-character word is fast", () => {
    const long = "x".repeat(99) + "\u{1D400}" + "y".repeat(150); // a letter outside the BMP at the cut
    const chunks = preTokenize(long);
    expect(chunks.join("")).toBe(long);
    expect(chunks.map((c) => c.length)).toEqual([99, 100, 52]);
    const bpe = Bpe.train(CORPUS, { vocabSize: 400 });
    const blob = "ab".repeat(100_000);
    const t0 = performance.now();
    expect(bpe.decode(bpe.encode(blob))).toBe(blob);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("round trip", () => {
  const bpe = Bpe.train(CORPUS, { vocabSize: 4 + 256 + 120, minFrequency: 1 });

  it("decode(encode(s)) === s on the training text and on tricky strings", () => {
    for (const s of [...CORPUS, ...TRICKY]) expect(bpe.decode(bpe.encode(s)), JSON.stringify(s)).toBe(s);
  });

  it("round-trips random strings of any UTF-16 code units, lone surrogates included", () => {
    const r = rng(3);
    const pick = () => {
      const k = r();
      if (k < 0.5) return String.fromCharCode(32 + Math.floor(r() * 95));
      if (k < 0.6) return " ";
      if (k < 0.8) return String.fromCharCode(Math.floor(r() * 0x10000));
      return String.fromCodePoint(0x10000 + Math.floor(r() * 0x100000));
    };
    for (let t = 0; t < 2000; t++) {
      let s = "";
      const n = Math.floor(r() * 30);
      for (let i = 0; i < n; i++) s += pick();
      expect(bpe.decode(bpe.encode(s)), JSON.stringify(s)).toBe(s);
    }
  });

  it("without byte fallback: unseen characters become <unk>; seen ones round-trip", () => {
    const b = Bpe.train(CORPUS, { vocabSize: 150, byteFallback: false });
    const unseen = b.encode("x日本y");
    expect(unseen.filter((i) => i === SPECIALS.unk).length).toBe(2);
    expect(b.decode(b.encode("日"))).toBe("<unk>");
    expect(b.tokens().length).toBe(b.vocabSize);
    for (const s of [...CORPUS, "Der blaue Hund spielt.", "  a  b  "]) expect(b.decode(b.encode(s))).toBe(s);
  });

  it("without the prefix space the first word is its own token and the text still round-trips", () => {
    const b = Bpe.train(CORPUS, { vocabSize: 400, addPrefixSpace: false });
    expect(b.tokens()[b.encode("Ein")[0]]).not.toMatch(/^ /);
    for (const s of [...CORPUS, ...TRICKY]) expect(b.decode(b.encode(s))).toBe(s);
  });

  it("when the vocabulary is too small for every character, rare ones fall back to bytes", () => {
    const b = Bpe.train(CORPUS, { vocabSize: 4 + 256 + 10 });
    expect(b.vocabSize).toBe(270);
    expect(b.encode("Bäume").every((i) => i < 270)).toBe(true);
    expect(b.encode("ä").length).toBe(3); // prefix space + two UTF-8 bytes
    for (const s of [...CORPUS, ...TRICKY]) expect(b.decode(b.encode(s))).toBe(s);
  });

  it("decodes model output leniently: specials dropped, stray bytes as U+FFFD, bad ids refused", () => {
    const dot = bpe.tokens().indexOf(".");
    expect(bpe.decode([SPECIALS.eos, ...bpe.encode("Ein Mann"), SPECIALS.pad, SPECIALS.eos])).toBe("Ein Mann");
    expect(bpe.decode([4 + 0xc3, dot])).toBe("\ufffd."); // a truncated 2-byte sequence
    expect(bpe.decode([4 + 0xc3, 4 + 0xa4])).toBe("ä");
    expect(() => bpe.decode([bpe.vocabSize])).toThrow(/outside the vocabulary/);
  });
});

/** Textbook BPE: recount every pair before each merge (slow, obviously right), same tie rule, no prefix space. */
function naiveBpe(texts: string[], vocabSize: number, minFrequency: number) {
  const words = new Map<string, number>();
  for (const t of texts) for (const c of preTokenize(t)) words.set(c, (words.get(c) ?? 0) + 1);
  const charCount = new Map<number, number>();
  for (const [w, n] of words) for (const ch of w) charCount.set(ch.codePointAt(0)!, (charCount.get(ch.codePointAt(0)!) ?? 0) + n);
  const alphabet = [...charCount].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([cp]) => cp);
  const start = 260;
  const segs = [...words].map(([w, n]) => ({ ids: [...w].map((ch) => start + alphabet.indexOf(ch.codePointAt(0)!)), n }));
  const merges: number[] = [];
  let next = start + alphabet.length;
  while (next < vocabSize) {
    const counts = new Map<string, number>();
    for (const { ids, n } of segs) for (let i = 0; i + 1 < ids.length; i++) {
      const k = `${ids[i]},${ids[i + 1]}`;
      counts.set(k, (counts.get(k) ?? 0) + n);
    }
    let best: [number, number] | null = null, bestN = 0;
    for (const [k, n] of counts) {
      const [a, b] = k.split(",").map(Number);
      if (n > bestN || (n === bestN && best && (a < best[0] || (a === best[0] && b < best[1])))) { best = [a, b]; bestN = n; }
    }
    if (!best || bestN < minFrequency) break;
    const c = next++;
    merges.push(best[0], best[1]);
    for (const s of segs) {
      const out: number[] = [];
      for (let i = 0; i < s.ids.length; i++) {
        if (i + 1 < s.ids.length && s.ids[i] === best[0] && s.ids[i + 1] === best[1]) { out.push(c); i++; } else out.push(s.ids[i]);
      }
      s.ids = out;
    }
  }
  return { merges, segs: [...words.keys()].map((w, i) => [w, segs[i].ids] as const) };
}

describe("training", () => {
  it("learns the same merges as a naive BPE, and encodes training words as training left them", () => {
    const r = rng(9), syl = ["ka", "ki", "ro", "ra", "mu", "te", "ta", "n", "s", "ä", "é"];
    const texts = Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(r() * 8) }, () =>
      Array.from({ length: 1 + Math.floor(r() * 4) }, () => syl[Math.floor(r() * syl.length)]).join("")).join(r() < 0.2 ? ", " : " "));
    for (const [size, minFreq] of [[320, 2], [600, 1]]) {
      const fast = Bpe.train(texts, { vocabSize: size, minFrequency: minFreq, addPrefixSpace: false });
      const slow = naiveBpe(texts, size, minFreq);
      expect(fast.toJSON().merges).toEqual(slow.merges);
      for (const [w, ids] of slow.segs) expect(fast.encode(w)).toEqual(ids);
    }
  });

  it("breaks ties by lower ids, and stops below minFrequency", () => {
    const b = Bpe.train(["abab", "cdcd"], { vocabSize: 300, addPrefixSpace: false });
    expect(b.tokens().slice(260)).toEqual(["a", "b", "c", "d", "ab", "cd"]);
    const b1 = Bpe.train(["abab", "cdcd"], { vocabSize: 300, addPrefixSpace: false, minFrequency: 1 });
    expect(b1.tokens().slice(264)).toEqual(["ab", "cd", "abab", "cdcd", "ba", "dc"].slice(0, b1.vocabSize - 264));
  });

  it("is deterministic and fills the vocabulary exactly", () => {
    const a = Bpe.train(CORPUS, { vocabSize: 400, minFrequency: 1 }), b = Bpe.train(CORPUS, { vocabSize: 400, minFrequency: 1 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.vocabSize).toBe(400);
  });

  it("puts the specials at 0..3 (fairseq's) and the byte tokens at 4..259", () => {
    const t = Bpe.train(CORPUS, { vocabSize: 300 }).tokens();
    expect(t.slice(0, 4)).toEqual([...SPECIAL_TOKENS]);
    expect(t[SPECIALS.bos]).toBe("<s>");
    expect(t[SPECIALS.pad]).toBe("<pad>");
    expect(t[SPECIALS.eos]).toBe("</s>");
    expect(t[SPECIALS.unk]).toBe("<unk>");
    expect(t[4]).toBe("<0x00>");
    expect(t[259]).toBe("<0xFF>");
    const b = Bpe.train(CORPUS, { vocabSize: 300 });
    expect(b.vocab()).toEqual({ size: b.vocabSize, bos: 0, pad: 1, eos: 2, unk: 3, tokens: b.tokens() });
  });

  it("refuses a vocabulary too small for the specials and bytes", () => {
    expect(() => Bpe.train(CORPUS, { vocabSize: 260 })).toThrow(/vocabSize must be an integer in 261\.\./);
    expect(() => Bpe.train(CORPUS, { vocabSize: 4, byteFallback: false })).toThrow(/in 5\.\./);
  });
});

describe("JSON", () => {
  const bpe = Bpe.train(CORPUS, { vocabSize: 380 });

  it("round-trips through JSON text and encodes identically", () => {
    const back = Bpe.fromJSON(JSON.parse(JSON.stringify(bpe)));
    expect(back.vocabSize).toBe(bpe.vocabSize);
    expect(back.tokens()).toEqual(bpe.tokens());
    for (const s of [...CORPUS, ...TRICKY]) expect(back.encode(s)).toEqual(bpe.encode(s));
  });

  it("refuses malformed tokenizer JSON with a reason", () => {
    const good = bpe.toJSON();
    expect(() => Bpe.fromJSON(null)).toThrow("BPE tokenizer JSON: not an object");
    expect(() => Bpe.fromJSON({ ...good, type: "wordpiece" })).toThrow(/type is "wordpiece"/);
    expect(() => Bpe.fromJSON({ ...good, version: 2 })).toThrow(/unsupported version 2/);
    expect(() => Bpe.fromJSON({ ...good, specials: { bos: 1, pad: 0, eos: 2, unk: 3 } })).toThrow(/specials/);
    expect(() => Bpe.fromJSON({ ...good, alphabet: ["a", "bc"] })).toThrow(/alphabet\[1\] is not one character/);
    expect(() => Bpe.fromJSON({ ...good, alphabet: ["a", "a"] })).toThrow(/repeated/);
    expect(() => Bpe.fromJSON({ ...good, merges: [1] })).toThrow(/flat array/);
    expect(() => Bpe.fromJSON({ ...good, merges: [260, 9999] })).toThrow(/merge 0 uses id 9999/);
    expect(() => Bpe.fromJSON({ ...good, merges: [...good.merges.slice(0, 2), ...good.merges.slice(0, 2)] })).toThrow(/repeats the pair/);
  });
});

describe.skipIf(!hasShared)("Multi30k", () => {
  const lines = (f: string) => { const l = readFileSync(join(sharedData, "multi30k", f), "utf8").split("\n"); l.pop(); return l; };

  it("trains a joint 8000-token BPE on 29k pairs, round-trips, and encodes fast", () => {
    const en = lines("train.en"), de = lines("train.de"), all = [...en, ...de];
    let t0 = performance.now();
    const bpe = Bpe.train(all, { vocabSize: 8000 });
    const trainS = (performance.now() - t0) / 1000;
    expect(bpe.vocabSize).toBe(8000);
    expect(trainS).toBeLessThan(60);

    t0 = performance.now();
    let tokens = 0;
    for (const s of all) tokens += bpe.encode(s).length;
    const perS = all.length / ((performance.now() - t0) / 1000);
    for (const s of [...all, ...lines("val.de"), ...lines("test_2016_flickr.en")]) {
      if (bpe.decode(bpe.encode(s)) !== s) expect(bpe.decode(bpe.encode(s))).toBe(s);
    }
    console.log(`multi30k BPE 8000: train ${trainS.toFixed(1)} s, encode ${Math.round(perS)} sentences/s, ${(tokens / all.length).toFixed(1)} tokens/sentence`);
    expect(perS).toBeGreaterThan(10_000); // ~100k/s on the 2-core VM; lenient for loaded machines
    expect(tokens / all.length).toBeLessThan(20);
  });
});
