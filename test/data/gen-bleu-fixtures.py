"""Writes test/data/bleu-fixtures.json: reference BLEU values computed by sacreBLEU itself.

The project's tests must not need Python, so the values are stored. Regenerate with
    python3 -m venv /tmp/sb && /tmp/sb/bin/pip install sacrebleu
    /tmp/sb/bin/python test/data/gen-bleu-fixtures.py
from the repository root. Scores are sacrebleu.corpus_bleu(hyps, [refs]).score at full precision.
The "multi30k" cases are computed over ../shared/data/multi30k when present (their texts are not
stored: the test reads the same files and applies the same deterministic noise).
"""
import json
import os
import random
import sys

import sacrebleu
from sacrebleu.metrics import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(ROOT, "..", "shared", "data", "multi30k")


def score(hyps, refs, **kw):
    """refs: one list (single reference) or a list of reference streams."""
    streams = refs if refs and isinstance(refs[0], list) else [refs]
    b = sacrebleu.corpus_bleu(hyps, streams, **kw)
    return {
        "score": b.score,
        "precisions": list(b.precisions),
        "bp": b.bp,
        "sysLen": b.sys_len,
        "refLen": b.ref_len,
        "counts": list(b.counts),
        "totals": list(b.totals),
    }


def case(name, hyps, refs, **kw):
    c = {"name": name, "hyps": hyps, "refs": refs, "expected": score(hyps, refs, **kw)}
    if kw:
        c["options"] = {"lowercase": kw.get("lowercase", False)}
    return c


# --- a small Multi30k-like generator (image captions), with noise ---------------------------
SUBJ = ["A man", "A woman", "Two men", "A little girl", "A young boy", "Three people", "A dog",
        "A group of children", "An older woman", "A brown dog", "Several workers", "A person"]
ADJ = ["blue", "red", "white", "black", "green", "yellow", "large", "small", "wooden", "striped"]
CLOTH = ["shirt", "jacket", "hat", "dress", "helmet", "coat", "uniform", "sweater"]
VERB = ["is standing", "is sitting", "are walking", "is running", "is climbing", "are playing",
        "is jumping", "is riding a bike", "is looking", "are waiting"]
PLACE = ["on a ladder", "in the street", "near a fountain", "on the beach", "in a field",
         "next to a building", "under a tree", "at a market", "in front of a store", "on a bench"]
EXTRA = ["", "", ", smiling", " while talking on a phone", ", holding a cup of coffee",
         " with 2 friends", " at 5 p.m.", " in the rain", " - happily -", " (outdoors)"]


def caption(r):
    s = f"{r.choice(SUBJ)} in a {r.choice(ADJ)} {r.choice(CLOTH)} {r.choice(VERB)} {r.choice(PLACE)}{r.choice(EXTRA)}"
    return s + r.choice([".", ".", ".", "!", ""])


def noisy(r, s):
    w = s.split(" ")
    k = r.random()
    if k < 0.15:
        return s  # exact
    if k < 0.3 and len(w) > 3:  # drop a word
        del w[r.randrange(len(w))]
    elif k < 0.45 and len(w) > 3:  # swap neighbours
        i = r.randrange(len(w) - 1)
        w[i], w[i + 1] = w[i + 1], w[i]
    elif k < 0.6:  # substitute
        w[r.randrange(len(w))] = r.choice(ADJ + CLOTH + ["thing", "it", "a"])
    elif k < 0.7:  # truncate
        w = w[: max(1, len(w) // 2)]
    elif k < 0.8:  # punctuation change
        return s.rstrip(".!") + r.choice([" .", "?", "...", ",", ""])
    elif k < 0.9:  # a completely different caption
        return caption(r)
    else:  # insertion
        w.insert(r.randrange(len(w) + 1), r.choice(ADJ + ["very", "the", "-", "&"]))
    return " ".join(w)


def multi30k_like(seed, n):
    r = random.Random(seed)
    refs = [caption(r) for _ in range(n)]
    hyps = [noisy(r, s) for s in refs]
    return hyps, refs


# --- the noise the test replays on the shared Multi30k files ---------------------------------
def m30k_noise(i, s):
    """Deterministic and trivial to replay in TypeScript: split on ASCII space only."""
    w = s.split(" ")
    if i % 7 == 0:
        w = w[::-1]
    elif i % 3 == 1:
        w = [x for j, x in enumerate(w) if j % 4 != 2]
    elif i % 5 == 2:
        w = w[: max(1, len(w) - 2)]
    return " ".join(w)


def signature():
    m = BLEU()
    m.corpus_score(["a"], [["a"]])
    return str(m.get_signature())


def read_lines(path):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def tokenizer_cases():
    """Strings that exercise every rule of 13a, and random strings over a nasty alphabet."""
    fixed = [
        "Hello, world! 3.14 1,000 e-mail 2-3 U.S.A. $5 &amp; &quot;q&quot; &lt;b&gt; <skipped>",
        "a-\nb c\nd", "ends with dot.", ".starts", "1.5.2019", "x.y,z", "9-", "-9", "a--b", "(1)",
        "{braces} [brackets] `tick` ~tilde |pipe| \\back", "it's don't", "50%", "#1 @home",
        "Zwei junge weiße Männer sind im Freien.", "naïve café, résumé.", "日本語のテキスト。",
        "emoji 😀. ok", "nbsp\u00a0here", "thin\u2009space", "ideographic\u3000space",
        "nel\u0085line", "fs\u001cgs\u001drs\u001eus\u001f", "zwsp\u200bno", "bom\ufeffno",
        "tab\there", "   leading and trailing   ", "", " ", "...", ",,,", "a ,b", "3 ,4", "3, 4",
    ]
    r = random.Random(7)
    alphabet = list("ab1 2.,-&;<>'\"()$%") + ["&amp;", "&quot;", "<skipped>", "\n", "\u00a0", "\u2009", "é", "ß", "😀", "\u0085", "\t"]
    rand = ["".join(r.choice(alphabet) for _ in range(r.randrange(0, 25))) for _ in range(200)]
    tok = Tokenizer13a()
    return [{"input": s, "tokens": tok(s)} for s in fixed + rand]


def main():
    cases = []
    base_refs = ["The cat sat on the mat.", "A man in a blue shirt is standing on a ladder.",
                 "Two dogs are playing in the snow.", "The quick brown fox jumps over the lazy dog."]
    cases.append(case("perfect match", base_refs, base_refs))
    cases.append(case("empty hypotheses", ["", "", "", ""], base_refs))
    cases.append(case("one empty hypothesis", ["", base_refs[1], base_refs[2], base_refs[3]], base_refs))
    cases.append(case("short hypothesis (brevity penalty)",
                      ["The cat sat.", "A man is standing.", "Two dogs are playing.", "The quick fox jumps."], base_refs))
    cases.append(case("longer hypothesis (no brevity penalty)",
                      ["The cat sat on the mat today .", "A man in a bright blue shirt is standing on a tall ladder.",
                       "Two dogs are playing together in the white snow.", "The quick brown fox jumps over the lazy dog again."], base_refs))
    cases.append(case("zero 4-gram matches (exp smoothing)",
                      ["the cat on sat mat the", "man a in shirt blue a"], ["the cat sat on the mat", "a man in a blue shirt"]))
    cases.append(case("zero 3- and 4-gram matches", ["cat the mat on dog sat", "a b c"], ["the cat sat on the mat", "c b a"]))
    cases.append(case("only unigram matches, short", ["a b"], ["b a c d e"]))
    cases.append(case("no match at all", ["x y z w"], ["a b c d"]))
    cases.append(case("hypothesis shorter than 4 tokens", ["a b c"], ["a b c"]))
    cases.append(case("punctuation and numbers split by 13a",
                      ["It costs $3.50, i.e. 3,50 EUR (approx.) - see e-mail from 2-3 p.m.!",
                       "U.S.A. & UK: 1,000,000 people; 42% said \"yes\".",
                       "Version 1.5.2019 - done.", "&amp; &quot;quoted&quot; &lt;tag&gt;"],
                      ["It costs $3.50 , i.e. 3,50 EUR ( approx . ) - see email from 2 - 3 p.m.!",
                       "USA & UK: 1,000,000 people ; 42 % said \"yes\" .",
                       "Version 1.5.2019 -- done", "& \"quoted\" <tag>"]))
    cases.append(case("unicode", ["Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
                                  "Ein kleines Mädchen klettert in ein Spielhaus aus Holz.",
                                  "日本語 の テキスト 。", "Emoji 😀 and café\u00a0au lait, naïve.",
                                  "Ελληνικά κείμενα εδώ."],
                      ["Zwei junge weiße Männer sind draußen in der Nähe vieler Büsche.",
                       "Ein kleines Mädchen klettert in ein hölzernes Spielhaus.",
                       "日本語 の テキスト です 。", "Emoji 😀 and café au lait, naive.",
                       "Ελληνικά κείμενα εδώ!"]))
    cases.append(case("trailing whitespace is stripped", ["the cat sat on the mat  \u00a0", "a dog ran away\t", "a dog ran over\u2009\u0085\u001c"],
                      ["the cat sat on the mat", "a dog ran", "a dog ran over there"]))
    cases.append(case("lowercase option", ["The Cat SAT on the mat.", "A DOG."], ["the cat sat on the mat.", "a dog."], lowercase=True))
    cases.append(case("two reference streams",
                      ["the cat is on the mat", "there is a cat on the mat today"],
                      [["the cat is on the mat", "there is a cat on the mat"], ["a cat sits on the mat", "a cat is on the mat right now"]]))
    hyps, refs = multi30k_like(1, 300)
    cases.append(case("multi30k-like captions with noise (300)", hyps, refs))
    hyps, refs = multi30k_like(2, 200)
    cases.append(case("multi30k-like captions with noise (200, second draw)", hyps, refs))

    shared = []
    if os.path.isdir(SHARED):
        for name in ["val.de", "test_2016_flickr.en", "test_2016_flickr.de"]:
            refs = read_lines(os.path.join(SHARED, name))
            hyps = [m30k_noise(i, s) for i, s in enumerate(refs)]
            shared.append({"name": f"multi30k {name} with replayed noise", "file": name,
                           "expected": score(hyps, refs)})
    else:
        print("warning: ../shared/data/multi30k is absent: no multi30k cases", file=sys.stderr)

    out = {
        "generator": "test/data/gen-bleu-fixtures.py",
        "sacrebleu": sacrebleu.__version__,
        "signature": signature(),
        "cases": cases,
        "multi30k": shared,
        "tokenize13a": tokenizer_cases(),
    }
    with open(os.path.join(HERE, "bleu-fixtures.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases, {len(shared)} multi30k cases, {len(out['tokenize13a'])} tokenizer strings")


if __name__ == "__main__":
    main()
