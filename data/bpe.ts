/**
 * A joint byte-pair-encoding subword tokenizer (Sennrich et al. 2016), trained on both sides of a
 * parallel corpus, with exact round trip: `decode(encode(s)) === s` for every JavaScript string.
 *
 * Vocabulary, in id order (its size, `vocabSize`, counts everything):
 *   0..3   the specials, fairseq's convention (runtime/types.ts SPECIALS): <s> <pad> </s> <unk>;
 *   4..259 the 256 byte tokens `<0x00>`..`<0xFF>` (byte fallback, on by default);
 *   then   the characters of the training text, most frequent first (ties: lower code point);
 *   then   one token per merge, in the order merges were learned.
 *
 * Round trip. Text is cut into chunks that merges never cross: an optional single space followed
 * by a run of letters (with combining marks), a run of digits, or a run of other non-space
 * characters; a space that no such run follows is a chunk of its own; chunks are cut after 100
 * UTF-16 units (never inside a surrogate pair). Spaces are kept as ordinary
 * characters of the tokens (" house"), so runs of spaces, tabs and newlines survive. With
 * `addPrefixSpace` (default) a space is put before the text, so the first word is the same token
 * as inside a sentence; decoding removes it. A character outside the alphabet becomes the bytes of
 * its UTF-8 encoding (a lone surrogate: its generalized, WTF-8 encoding), so nothing is ever lost.
 * Without byte fallback such a character becomes <unk> (decoded as "<unk>"): only then is the
 * round trip limited to text made of characters seen in training.
 *
 * Training is deterministic: the most frequent adjacent pair is merged first; ties go to the pair
 * of lower ids (the earlier left token, then the earlier right token). Pairs are counted
 * incrementally with a lazy max-heap, so a 29k-pair corpus with 8000 tokens trains in seconds.
 * Encoding applies merges by rank within each chunk, with a cache of chunks.
 */
import { SPECIALS } from "../runtime/types.js";

/** Options of {@link Bpe.train}. */
export interface BpeTrainOptions {
  /** Vocabulary size including the 4 specials (and the 256 byte tokens with byte fallback). */
  vocabSize: number;
  /** Encode characters outside the alphabet as UTF-8 byte tokens (default true). */
  byteFallback?: boolean;
  /** Put a space before the text so the first word is tokenized like the others (default true). */
  addPrefixSpace?: boolean;
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
}

/** The serialized tokenizer (JSON-safe): what the model file's `tokenizer` field holds. */
export interface BpeJSON {
  type: "bpe";
  version: 1;
  /** Always SPECIALS; checked on load. */
  specials: { bos: number; pad: number; eos: number; unk: number };
  byteFallback: boolean;
  addPrefixSpace: boolean;
  /** Characters (one code point each) in id order, from id 4 + (byteFallback ? 256 : 0). */
  alphabet: string[];
  /** Merges as flat id pairs [a0, b0, a1, b1, ...]; merge r makes the token after the alphabet's r-th. */
  merges: number[];
}

/** Names of the special tokens, fairseq's, in id order. */
export const SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>"] as const;
const NUM_SPECIALS = 4;
const NUM_BYTES = 256;
/** Pair keys are a * KEY + b: ids must stay below KEY. */
const KEY = 1 << 21;
const CACHE_LIMIT = 200_000;

/** The chunks that merges never cross (see the module comment). Matches every character of any string. */
const CHUNK = / ?[\p{L}\p{M}]+| ?\p{N}+| ?[^ \p{L}\p{M}\p{N}]+| /gu;

/** Longest chunk in UTF-16 units: longer runs (a URL, a blob) are cut, so encoding stays linear. */
const MAX_CHUNK = 100;

/** Cuts text into chunks; their concatenation is the text. */
export function preTokenize(text: string): string[] {
  const chunks = text.match(CHUNK) ?? [];
  if (!chunks.some((c) => c.length > MAX_CHUNK)) return chunks;
  const out: string[] = [];
  for (const c of chunks) {
    let i = 0;
    while (c.length - i > MAX_CHUNK) {
      let j = i + MAX_CHUNK;
      const u = c.charCodeAt(j - 1);
      if (u >= 0xd800 && u <= 0xdbff) j--; // do not split a surrogate pair
      out.push(c.slice(i, j));
      i = j;
    }
    out.push(c.slice(i));
  }
  return out;
}

/** UTF-8 bytes of one code point; a lone surrogate (0xD800..0xDFFF) gets the same 3-byte form (WTF-8). */
function utf8Bytes(cp: number, out: number[]): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

/** Decodes UTF-8 (accepting encoded lone surrogates, as utf8Bytes writes them); each bad byte gives U+FFFD. */
function decodeBytes(b: number[]): string {
  let s = "";
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let n = 0, cp = 0, min = 0;
    if (c < 0x80) { s += String.fromCharCode(c); i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 31; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 15; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 7; min = 0x10000; }
    let ok = n > 0;
    for (let k = 1; ok && k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (d & 63);
    }
    if (ok && cp >= min && cp <= 0x10ffff) { s += String.fromCodePoint(cp); i += n + 1; }
    else { s += "\ufffd"; i++; }
  }
  return s;
}

/** A binary max-heap of (count, key), larger count first, then smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number { return this.counts.length; }
  private above(i: number, j: number): boolean {
    const ci = this.counts[i], cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i]; this.counts[i] = this.counts[j]; this.counts[j] = c;
    const k = this.keys[i]; this.keys[i] = this.keys[j]; this.keys[j] = k;
  }
  push(count: number, key: number): void {
    this.counts.push(count); this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p); i = p;
    }
  }
  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC; this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < this.counts.length && this.above(l, m)) m = l;
        if (r < this.counts.length && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m); i = m;
      }
    }
    return top;
  }
}

/** A trained BPE tokenizer. Create with {@link Bpe.train} or {@link Bpe.fromJSON}. */
export class Bpe {
  /** Tokens in id order; specials and byte tokens by name (`<s>`, `<0x41>`), others as their text. */
  private readonly pieces: string[];
  private readonly charIds = new Map<number, number>();
  private readonly ranks = new Map<number, number>();
  private readonly cache = new Map<string, number[]>();
  private readonly alphabetStart: number;

  private constructor(
    readonly byteFallback: boolean,
    readonly addPrefixSpace: boolean,
    private readonly alphabet: string[],
    private readonly merges: number[],
  ) {
    this.alphabetStart = NUM_SPECIALS + (byteFallback ? NUM_BYTES : 0);
    const pieces: string[] = [...SPECIAL_TOKENS];
    if (byteFallback) for (let b = 0; b < NUM_BYTES; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    alphabet.forEach((ch, i) => {
      this.charIds.set(ch.codePointAt(0)!, this.alphabetStart + i);
      pieces.push(ch);
    });
    for (let r = 0; r < merges.length / 2; r++) {
      const a = merges[2 * r], b = merges[2 * r + 1];
      this.ranks.set(a * KEY + b, r);
      pieces.push(pieces[a] + pieces[b]);
    }
    this.pieces = pieces;
  }

  /** Number of tokens (ids are 0..vocabSize-1). Can be below the requested size when merges ran out. */
  get vocabSize(): number { return this.pieces.length; }

  /** Number of learned merges. */
  get numMerges(): number { return this.merges.length / 2; }

  /** The tokens in id order, for display and the model header (`vocab.tokens`). */
  tokens(): string[] { return this.pieces.slice(); }

  /** The model file header's `vocab` field (docs/runtime.md): size, special ids and tokens. */
  vocab(): { size: number; pad: number; bos: number; eos: number; unk: number; tokens: string[] } {
    return { size: this.vocabSize, ...SPECIALS, tokens: this.tokens() };
  }

  /**
   * Learns a joint BPE from texts (pass both sides of the corpus). Deterministic: the same texts
   * in the same order give the same tokenizer. Throws when `vocabSize` leaves no room for the
   * specials, byte tokens and at least one character.
   */
  static train(texts: Iterable<string>, options: BpeTrainOptions): Bpe {
    const byteFallback = options.byteFallback ?? true;
    const addPrefixSpace = options.addPrefixSpace ?? true;
    const minFrequency = Math.max(1, options.minFrequency ?? 2);
    const vocabSize = options.vocabSize;
    const reserved = NUM_SPECIALS + (byteFallback ? NUM_BYTES : 0);
    if (!Number.isInteger(vocabSize) || vocabSize <= reserved || vocabSize >= KEY) {
      throw new Error(`BPE vocabSize must be an integer in ${reserved + 1}..${KEY - 1} ` +
        `(${NUM_SPECIALS} specials${byteFallback ? ` + ${NUM_BYTES} byte tokens` : ""} + at least one character); got ${vocabSize}`);
    }

    // chunk types and their counts
    const chunkCounts = new Map<string, number>();
    for (const t of texts) {
      for (const c of preTokenize(addPrefixSpace && t.length > 0 ? " " + t : t)) chunkCounts.set(c, (chunkCounts.get(c) ?? 0) + 1);
    }

    // the alphabet: characters by frequency (ties: lower code point), as many as fit
    const charCounts = new Map<number, number>();
    for (const [chunk, n] of chunkCounts) {
      for (const ch of chunk) { const cp = ch.codePointAt(0)!; charCounts.set(cp, (charCounts.get(cp) ?? 0) + n); }
    }
    const chars = [...charCounts].sort((x, y) => y[1] - x[1] || x[0] - y[0]).map(([cp]) => cp);
    const alphabetCps = chars.slice(0, vocabSize - reserved);
    const alphabet = alphabetCps.map((cp) => String.fromCodePoint(cp));
    const start = reserved;
    const charIds = new Map<number, number>(alphabetCps.map((cp, i) => [cp, start + i]));

    // words as id arrays; ids below `start` (bytes, unk) are never merged
    const words: number[][] = [], freqs: number[] = [];
    for (const [chunk, n] of chunkCounts) {
      const ids: number[] = [];
      for (const ch of chunk) {
        const cp = ch.codePointAt(0)!;
        const id = charIds.get(cp);
        if (id !== undefined) ids.push(id);
        else if (byteFallback) { const bs: number[] = []; utf8Bytes(cp, bs); for (const b of bs) ids.push(NUM_SPECIALS + b); }
        else ids.push(SPECIALS.unk);
      }
      words.push(ids); freqs.push(n);
    }

    const counts = new Map<number, number>();
    const where = new Map<number, number[]>();
    for (let w = 0; w < words.length; w++) {
      const ids = words[w], f = freqs[w];
      for (let i = 0; i + 1 < ids.length; i++) {
        if (ids[i] < start || ids[i + 1] < start) continue;
        const k = ids[i] * KEY + ids[i + 1];
        counts.set(k, (counts.get(k) ?? 0) + f);
        const list = where.get(k);
        if (list === undefined) where.set(k, [w]);
        else if (list[list.length - 1] !== w) list.push(w);
      }
    }
    const heap = new PairHeap();
    for (const [k, n] of counts) heap.push(n, k);

    const merges: number[] = [];
    const seen = new Int32Array(words.length).fill(-1);
    let next = start + alphabet.length;
    while (next < vocabSize && heap.size > 0) {
      const [stored, key] = heap.pop();
      const cur = counts.get(key) ?? 0;
      if (cur !== stored) { if (cur > 0) heap.push(cur, key); continue; }
      if (cur < minFrequency) break;
      const a = Math.floor(key / KEY), b = key - a * KEY, c = next++;
      const stamp = merges.length;
      merges.push(a, b);
      const touched = new Set<number>();
      const list = where.get(key)!;
      where.delete(key);
      for (const w of list) {
        if (seen[w] === stamp) continue;
        seen[w] = stamp;
        const ids = words[w], f = freqs[w];
        let has = false;
        for (let i = 0; i + 1 < ids.length; i++) if (ids[i] === a && ids[i + 1] === b) { has = true; break; }
        if (!has) continue;
        for (let i = 0; i + 1 < ids.length; i++) {
          if (ids[i] < start || ids[i + 1] < start) continue;
          const k = ids[i] * KEY + ids[i + 1], n = (counts.get(k) ?? 0) - f;
          if (n > 0) counts.set(k, n); else counts.delete(k);
        }
        const out: number[] = [];
        for (let i = 0; i < ids.length; i++) {
          if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) { out.push(c); i++; } else out.push(ids[i]);
        }
        words[w] = out;
        for (let i = 0; i + 1 < out.length; i++) {
          if (out[i] < start || out[i + 1] < start) continue;
          const k = out[i] * KEY + out[i + 1];
          counts.set(k, (counts.get(k) ?? 0) + f);
          if (out[i] === c || out[i + 1] === c) {
            touched.add(k);
            const wl = where.get(k);
            if (wl === undefined) where.set(k, [w]);
            else if (wl[wl.length - 1] !== w) wl.push(w);
          }
        }
      }
      for (const k of touched) { const n = counts.get(k); if (n) heap.push(n, k); }
    }
    return new Bpe(byteFallback, addPrefixSpace, alphabet, merges);
  }

  /** Token ids of a text (no BOS/EOS: append SPECIALS.eos where the model needs it). */
  encode(text: string): number[] {
    if (text.length === 0) return [];
    const out: number[] = [];
    for (const chunk of preTokenize(this.addPrefixSpace ? " " + text : text)) {
      let ids = this.cache.get(chunk);
      if (ids === undefined) {
        ids = this.encodeChunk(chunk);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(chunk, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
    return out;
  }

  private encodeChunk(chunk: string): number[] {
    let ids: number[] = [];
    for (const ch of chunk) {
      const cp = ch.codePointAt(0)!;
      const id = this.charIds.get(cp);
      if (id !== undefined) ids.push(id);
      else if (this.byteFallback) { const bs: number[] = []; utf8Bytes(cp, bs); for (const b of bs) ids.push(NUM_SPECIALS + b); }
      else ids.push(SPECIALS.unk);
    }
    const start = this.alphabetStart, base = start + this.alphabet.length;
    for (;;) {
      let best = -1, bestKey = 0;
      for (let i = 0; i + 1 < ids.length; i++) {
        if (ids[i] < start || ids[i + 1] < start) continue;
        const r = this.ranks.get(ids[i] * KEY + ids[i + 1]);
        if (r !== undefined && (best < 0 || r < best)) { best = r; bestKey = ids[i] * KEY + ids[i + 1]; }
      }
      if (best < 0) return ids;
      const a = Math.floor(bestKey / KEY), b = bestKey - a * KEY, c = base + best;
      const merged: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) { merged.push(c); i++; } else merged.push(ids[i]);
      }
      ids = merged;
    }
  }

  /**
   * Text of token ids. <s>, <pad> and </s> are left out, <unk> is written "<unk>", runs of byte
   * tokens are decoded as UTF-8 (invalid bytes as U+FFFD), and the prefix space is removed.
   * Throws on an id outside the vocabulary.
   */
  decode(ids: ArrayLike<number>): string {
    let s = "";
    let bytes: number[] = [];
    const byteEnd = this.byteFallback ? NUM_SPECIALS + NUM_BYTES : NUM_SPECIALS;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.pieces.length) {
        throw new Error(`BPE decode: token id ${id} at position ${i} is outside the vocabulary (0..${this.pieces.length - 1})`);
      }
      if (id >= NUM_SPECIALS && id < byteEnd) { bytes.push(id - NUM_SPECIALS); continue; }
      if (bytes.length > 0) { s += decodeBytes(bytes); bytes = []; }
      if (id === SPECIALS.unk) s += "<unk>";
      else if (id >= NUM_SPECIALS) s += this.pieces[id];
    }
    if (bytes.length > 0) s += decodeBytes(bytes);
    return this.addPrefixSpace && s.startsWith(" ") ? s.slice(1) : s;
  }

  /** The JSON-safe form, for the model file's `tokenizer` field. */
  toJSON(): BpeJSON {
    return {
      type: "bpe", version: 1, specials: { ...SPECIALS }, byteFallback: this.byteFallback,
      addPrefixSpace: this.addPrefixSpace, alphabet: this.alphabet.slice(), merges: this.merges.slice(),
    };
  }

  /** Rebuilds a tokenizer from {@link Bpe.toJSON}'s output, checking it; errors say what is wrong. */
  static fromJSON(json: unknown): Bpe {
    const fail = (why: string): never => { throw new Error(`BPE tokenizer JSON: ${why}`); };
    if (typeof json !== "object" || json === null) return fail("not an object");
    const j = json as Partial<BpeJSON>;
    if (j.type !== "bpe") fail(`type is ${JSON.stringify(j.type)}, expected "bpe"`);
    if (j.version !== 1) fail(`unsupported version ${JSON.stringify(j.version)} (this build reads 1)`);
    const sp = j.specials;
    if (!sp || sp.bos !== SPECIALS.bos || sp.pad !== SPECIALS.pad || sp.eos !== SPECIALS.eos || sp.unk !== SPECIALS.unk) {
      fail(`specials ${JSON.stringify(sp)} differ from ${JSON.stringify(SPECIALS)}`);
    }
    if (typeof j.byteFallback !== "boolean") fail("byteFallback is not a boolean");
    if (typeof j.addPrefixSpace !== "boolean") fail("addPrefixSpace is not a boolean");
    if (!Array.isArray(j.alphabet)) return fail("alphabet is not an array");
    const seen = new Set<number>();
    j.alphabet.forEach((ch, i) => {
      if (typeof ch !== "string" || ch.length === 0 || [...ch].length !== 1) fail(`alphabet[${i}] is not one character: ${JSON.stringify(ch)}`);
      const cp = ch.codePointAt(0)!;
      if (seen.has(cp)) fail(`alphabet[${i}] ${JSON.stringify(ch)} is repeated`);
      seen.add(cp);
    });
    if (!Array.isArray(j.merges) || j.merges.length % 2 !== 0) return fail("merges is not a flat array of id pairs");
    const start = NUM_SPECIALS + (j.byteFallback ? NUM_BYTES : 0);
    let size = start + j.alphabet.length;
    if (size + j.merges.length / 2 >= KEY) fail(`vocabulary too large (${size + j.merges.length / 2} tokens)`);
    const pairs = new Set<number>();
    for (let r = 0; r < j.merges.length; r += 2) {
      const key = j.merges[r] * KEY + j.merges[r + 1];
      if (pairs.has(key)) fail(`merge ${r / 2} repeats the pair ${j.merges[r]} ${j.merges[r + 1]}`);
      pairs.add(key);
      for (const id of [j.merges[r], j.merges[r + 1]]) {
        if (!Number.isInteger(id) || id < start || id >= size) {
          fail(`merge ${r / 2} uses id ${id}, outside ${start}..${size - 1} (characters and earlier merges)`);
        }
      }
      size++;
    }
    return new Bpe(j.byteFallback!, j.addPrefixSpace!, j.alphabet.slice(), j.merges.slice());
  }
}
