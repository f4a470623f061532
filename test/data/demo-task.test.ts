/**
 * data/demo-task.ts: byte-identical data per seed (and a pinned digest), disjoint splits that do not
 * move with the train size, translation as a function of the source, and the promised structure
 * (lengths, verb-final target with agreement endings, a few hundred content words).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { demoLanguages, demoTask } from "../../data/demo-task.js";
import { mulberry32 } from "../../runtime/rng.js";

const digest = (x: unknown) => createHash("sha256").update(JSON.stringify(x)).digest("hex");
const words = (s: string) => s.slice(0, -1).split(" "); // without the final "."

describe("demoTask", () => {
  const t = demoTask({ seed: 1 });

  it("has the requested sizes and a description", () => {
    expect([t.train.src.length, t.train.tgt.length, t.valid.src.length, t.test.tgt.length]).toEqual([20000, 20000, 500, 500]);
    expect(t.description).toMatch(/Example: ".+" -> ".+"/);
    expect(t.lexicon.nouns + t.lexicon.adjectives + t.lexicon.transitiveVerbs + t.lexicon.intransitiveVerbs + t.lexicon.adverbs).toBeGreaterThanOrEqual(120);
  });

  it("is byte-identical for the same seed, and pinned", () => {
    const again = demoTask({ seed: 1 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(t));
    // a change of this digest means every trained demo model and reported demo BLEU is void: do it on purpose
    expect(digest([t.train, t.valid, t.test])).toBe("46086afd7d96b176c5c6f955ed2d988636abe60a185a062cc35c7b90096f2003");
  });

  it("differs for another seed", () => {
    const other = demoTask({ seed: 2, train: 200, valid: 10, test: 10 });
    expect(other.train.src).not.toEqual(t.train.src.slice(0, 200));
  });

  it("has disjoint splits whose valid and test sets do not depend on the train size", () => {
    const train = new Set(t.train.src), valid = new Set(t.valid.src);
    expect(train.size).toBe(t.train.src.length);
    expect(t.test.src.some((s) => train.has(s) || valid.has(s))).toBe(false);
    expect(t.valid.src.some((s) => train.has(s))).toBe(false);
    const small = demoTask({ seed: 1, train: 100 });
    expect(small.test).toEqual(t.test);
    expect(small.valid).toEqual(t.valid);
    expect(small.train.src).toEqual(t.train.src.slice(0, 100));
  });

  it("has sentences of 3..14 source words, capitalized, ending in a period", () => {
    for (const s of [...t.train.src, ...t.test.src]) {
      const n = words(s).length;
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(14);
      expect(s).toMatch(/^[A-Z].*[a-z]\.$/);
    }
    const lengths = t.train.src.map((s) => words(s).length);
    expect(lengths.filter((n) => n >= 12).length).toBeGreaterThan(1000); // real length variety
  });

  it("puts the target verb last with a person/number ending agreeing with the source subject", () => {
    const endings: Record<string, RegExp> = {
      "I": /m$/, "You": /s$/, "He": /t$/, "She": /t$/, "We": /mus$/, "They": /nt$/,
    };
    let checked = 0;
    t.train.src.forEach((s, i) => {
      const w = words(s), tw = words(t.train.tgt[i]);
      if (w.includes("and")) return; // one clause only
      const first = w[1] === "all" ? "You all" : w[0];
      const end = first === "You all" ? /tis$/ : endings[first];
      if (!end) return;
      expect(tw[tw.length - 1], `${s} -> ${t.train.tgt[i]}`).toMatch(end);
      checked++;
    });
    expect(checked).toBeGreaterThan(3000);
  });

  it("refuses bad sizes", () => {
    expect(() => demoTask({ train: -1 })).toThrow(/train must be a non-negative integer/);
    expect(() => demoTask({ valid: 1.5 })).toThrow(/valid/);
  });
});

describe("demoLanguages", () => {
  it("translation is a function of the source sentence", () => {
    const langs = demoLanguages(1), r = mulberry32(77), seen = new Map<string, string>();
    let repeats = 0;
    for (let i = 0; i < 60000; i++) {
      const { src, tgt } = langs.sample(r);
      const before = seen.get(src);
      if (before === undefined) seen.set(src, tgt);
      else { repeats++; expect(tgt, src).toBe(before); }
    }
    expect(repeats).toBeGreaterThan(40); // short sentences do repeat, so the check bites
  });

  it("each source word form has one target rendering in context-free positions (nouns after 'the'/'a')", () => {
    // a singular noun after "a" in a one-clause sentence with a pronoun subject and no PP is the object:
    // its target form must be the same in every sentence
    const langs = demoLanguages(3), r = mulberry32(5), forms = new Map<string, Set<string>>();
    for (let i = 0; i < 40000; i++) {
      const { src, tgt } = langs.sample(r);
      const w = words(src), tw = words(tgt);
      if (w.length !== 4 || !["I", "He", "She", "We", "They"].includes(w[0]) || w[2] !== "a") continue;
      // "He verbs a noun" -> "PRON DET NOUN VERB"
      const set = forms.get(w[3]) ?? new Set<string>();
      set.add(`${tw[1]} ${tw[2]}`);
      forms.set(w[3], set);
    }
    expect(forms.size).toBeGreaterThan(50);
    for (const [noun, set] of forms) expect([...set], noun).toHaveLength(1);
  });
});
