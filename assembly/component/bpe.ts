// data/bpe.ts's byte-pair encoding, encode and decode, in AssemblyScript: the same chunks (the
// pre-tokenizer's classes come from unicode.ts, generated from Node's own tables), the same merges
// by rank, the same byte fallback and prefix space, so the component tokenizes exactly as the
// Node host does. Built from the model header's `tokenizer` field with Bpe.fromJSON's checks.

import { JValue, J_ARR, J_BOOL, J_NUM, J_OBJ, J_STR, describe } from "./json";
import { LETTER_OR_MARK, NUMBER } from "./unicode";

const NUM_SPECIALS = 4;
const NUM_BYTES = 256;
const KEY: u64 = 1 << 21;
const MAX_CHUNK = 100;
const UNK = 3;
const SPECIAL_TOKENS: string[] = ["<s>", "<pad>", "</s>", "<unk>"];

function inRanges(t: StaticArray<u32>, cp: u32): bool {
  let lo = 0, hi = (t.length >> 1) - 1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (cp < unchecked(t[2 * m])) hi = m - 1;
    else if (cp > unchecked(t[2 * m + 1])) lo = m + 1;
    else return true;
  }
  return false;
}

/** The pre-tokenizer's class of a code point: 0 space, 1 letter or mark, 2 number, 3 other. */
function classOf(cp: u32): i32 {
  if (cp == 0x20) return 0;
  if (inRanges(LETTER_OR_MARK, cp)) return 1;
  if (inRanges(NUMBER, cp)) return 2;
  return 3;
}

/** The code point at UTF-16 index i (a lone surrogate is itself) and its length in units. */
function cpAt(s: string, i: i32): u32 {
  const u = <u32>s.charCodeAt(i);
  if (u >= 0xd800 && u <= 0xdbff && i + 1 < s.length) {
    const v = <u32>s.charCodeAt(i + 1);
    if (v >= 0xdc00 && v <= 0xdfff) return 0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00);
  }
  return u;
}
function cpLen(cp: u32): i32 { return cp >= 0x10000 ? 2 : 1; }

/** data/bpe.ts's preTokenize: ` ?[\p{L}\p{M}]+| ?\p{N}+| ?[^ \p{L}\p{M}\p{N}]+| `, chunks cut after 100 units. */
export function preTokenize(text: string): string[] {
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const start = i;
    let cp = cpAt(text, i);
    let cls = classOf(cp);
    if (cls == 0) {
      if (i + 1 < n && classOf(cpAt(text, i + 1)) != 0) {
        i++;
        cp = cpAt(text, i);
        cls = classOf(cp);
      } else {
        out.push(" ");
        i++;
        continue;
      }
    }
    while (i < n) {
      const c = cpAt(text, i);
      if (classOf(c) != cls) break;
      i += cpLen(c);
    }
    let c0 = start;
    while (i - c0 > MAX_CHUNK) {
      let j = c0 + MAX_CHUNK;
      const u = text.charCodeAt(j - 1);
      if (u >= 0xd800 && u <= 0xdbff) j--;
      out.push(text.substring(c0, j));
      c0 = j;
    }
    out.push(text.substring(c0, i));
  }
  return out;
}

function utf8Bytes(cp: u32, out: i32[]): void {
  if (cp < 0x80) out.push(<i32>cp);
  else if (cp < 0x800) { out.push(<i32>(0xc0 | (cp >> 6))); out.push(<i32>(0x80 | (cp & 63))); }
  else if (cp < 0x10000) { out.push(<i32>(0xe0 | (cp >> 12))); out.push(<i32>(0x80 | ((cp >> 6) & 63))); out.push(<i32>(0x80 | (cp & 63))); }
  else { out.push(<i32>(0xf0 | (cp >> 18))); out.push(<i32>(0x80 | ((cp >> 12) & 63))); out.push(<i32>(0x80 | ((cp >> 6) & 63))); out.push(<i32>(0x80 | (cp & 63))); }
}

/** data/bpe.ts's decodeBytes: UTF-8 (encoded lone surrogates accepted), each bad byte U+FFFD. */
function decodeBytes(b: i32[]): string {
  let s = "";
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n = 0, cp = 0, min = 0;
    if (c < 0x80) { s += String.fromCharCode(c); i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 31; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 15; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 7; min = 0x10000; }
    let ok = n > 0;
    for (let k = 1; ok && k <= n; k++) {
      if (i + k >= b.length) { ok = false; break; }
      const d = b[i + k];
      if ((d & 0xc0) != 0x80) ok = false;
      else cp = (cp << 6) | (d & 63);
    }
    if (ok && cp >= min && cp <= 0x10ffff) { s += String.fromCodePoint(cp); i += n + 1; }
    else { s += "\ufffd"; i++; }
  }
  return s;
}

export class Bpe {
  byteFallback: bool = true;
  addPrefixSpace: bool = true;
  alphabetStart: i32 = 0;
  alphabetSize: i32 = 0;
  pieces: string[] = [];
  charIds: Map<u32, i32> = new Map<u32, i32>();
  ranks: Map<u64, i32> = new Map<u64, i32>();

  get vocabSize(): i32 { return this.pieces.length; }

  /** Token ids of a text (no eos). */
  encode(text: string): i32[] {
    const out: i32[] = [];
    if (text.length == 0) return out;
    const chunks = preTokenize(this.addPrefixSpace ? " " + text : text);
    for (let c = 0; c < chunks.length; c++) {
      const ids = this.encodeChunk(chunks[c]);
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
    return out;
  }

  private encodeChunk(chunk: string): i32[] {
    let ids: i32[] = [];
    let i = 0;
    while (i < chunk.length) {
      const cp = cpAt(chunk, i);
      i += cpLen(cp);
      if (this.charIds.has(cp)) ids.push(this.charIds.get(cp));
      else if (this.byteFallback) {
        const bs: i32[] = [];
        utf8Bytes(cp, bs);
        for (let k = 0; k < bs.length; k++) ids.push(NUM_SPECIALS + bs[k]);
      } else ids.push(UNK);
    }
    const start = this.alphabetStart, base = start + this.alphabetSize;
    for (;;) {
      let best = -1;
      let bestKey: u64 = 0;
      for (let j = 0; j + 1 < ids.length; j++) {
        if (ids[j] < start || ids[j + 1] < start) continue;
        const k = <u64>ids[j] * KEY + <u64>ids[j + 1];
        if (!this.ranks.has(k)) continue;
        const r = this.ranks.get(k);
        if (best < 0 || r < best) { best = r; bestKey = k; }
      }
      if (best < 0) return ids;
      const a = <i32>(bestKey / KEY), b = <i32>(bestKey % KEY), c = base + best;
      const merged: i32[] = [];
      for (let j = 0; j < ids.length; j++) {
        if (j + 1 < ids.length && ids[j] == a && ids[j + 1] == b) { merged.push(c); j++; } else merged.push(ids[j]);
      }
      ids = merged;
    }
    return ids;
  }

  /** Text of token ids (the caller checked every id < vocabSize): specials left out but <unk>,
   *  byte runs as UTF-8, the prefix space removed. */
  decode(ids: i32[]): string {
    let s = "";
    let bytes: i32[] = [];
    const byteEnd = this.byteFallback ? NUM_SPECIALS + NUM_BYTES : NUM_SPECIALS;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >= NUM_SPECIALS && id < byteEnd) { bytes.push(id - NUM_SPECIALS); continue; }
      if (bytes.length > 0) { s += decodeBytes(bytes); bytes = []; }
      if (id == UNK) s += "<unk>";
      else if (id >= NUM_SPECIALS) s += this.pieces[id];
    }
    if (bytes.length > 0) s += decodeBytes(bytes);
    return this.addPrefixSpace && s.startsWith(" ") ? s.substring(1) : s;
  }
}

/** Why the last bpeFromJSON failed. */
export let bpeError = "";

function bpeFail(why: string): Bpe | null {
  bpeError = "BPE tokenizer JSON: " + why;
  return null;
}

/** data/bpe.ts's Bpe.fromJSON, with its checks; null (bpeError set) when they fail. */
export function bpeFromJSON(j: JValue): Bpe | null {
  if (j.kind != J_OBJ) return bpeFail("not an object");
  const type = j.get("type");
  if (type === null || type.kind != J_STR || type.str != "bpe") return bpeFail("type is " + describe(type) + ", expected \"bpe\"");
  const version = j.get("version");
  if (version === null || version.kind != J_NUM || version.num != 1) return bpeFail("unsupported version " + describe(version) + " (this build reads 1)");
  const sp = j.get("specials");
  if (sp === null || sp.kind != J_OBJ || !specialIs(sp, "bos", 0) || !specialIs(sp, "pad", 1) || !specialIs(sp, "eos", 2) || !specialIs(sp, "unk", 3)) {
    return bpeFail("specials differ from {\"bos\":0,\"pad\":1,\"eos\":2,\"unk\":3}");
  }
  const bf = j.get("byteFallback");
  if (bf === null || bf.kind != J_BOOL) return bpeFail("byteFallback is not a boolean");
  const ps = j.get("addPrefixSpace");
  if (ps === null || ps.kind != J_BOOL) return bpeFail("addPrefixSpace is not a boolean");
  const alphabet = j.get("alphabet");
  if (alphabet === null || alphabet.kind != J_ARR) return bpeFail("alphabet is not an array");
  const merges = j.get("merges");
  if (merges === null || merges.kind != J_ARR || merges.items.length % 2 != 0) return bpeFail("merges is not a flat array of id pairs");

  const bpe = new Bpe();
  bpe.byteFallback = bf.bool;
  bpe.addPrefixSpace = ps.bool;
  bpe.alphabetStart = NUM_SPECIALS + (bf.bool ? NUM_BYTES : 0);
  for (let i = 0; i < SPECIAL_TOKENS.length; i++) bpe.pieces.push(SPECIAL_TOKENS[i]);
  if (bf.bool) {
    for (let b = 0; b < NUM_BYTES; b++) {
      const h = b.toString(16).toUpperCase();
      bpe.pieces.push("<0x" + (h.length < 2 ? "0" + h : h) + ">");
    }
  }
  const A = alphabet.items.length;
  for (let i = 0; i < A; i++) {
    const ch = alphabet.items[i];
    if (ch.kind != J_STR || ch.str.length == 0 || cpLen(cpAt(ch.str, 0)) != ch.str.length) {
      return bpeFail("alphabet[" + i.toString() + "] is not one character: " + describe(ch));
    }
    const cp = cpAt(ch.str, 0);
    if (bpe.charIds.has(cp)) return bpeFail("alphabet[" + i.toString() + "] " + describe(ch) + " is repeated");
    bpe.charIds.set(cp, bpe.alphabetStart + i);
    bpe.pieces.push(ch.str);
  }
  bpe.alphabetSize = A;
  let size = bpe.alphabetStart + A;
  if (<u64>size + <u64>(merges.items.length / 2) >= KEY) return bpeFail("vocabulary too large");
  for (let r = 0; r < merges.items.length; r += 2) {
    const x = merges.items[r], y = merges.items[r + 1];
    const m = (r / 2).toString();
    if (!x.isInt() || x.num < <f64>bpe.alphabetStart || x.num >= <f64>size) return bpeFail("merge " + m + " uses id " + describe(x) + ", outside " + bpe.alphabetStart.toString() + ".." + (size - 1).toString() + " (characters and earlier merges)");
    if (!y.isInt() || y.num < <f64>bpe.alphabetStart || y.num >= <f64>size) return bpeFail("merge " + m + " uses id " + describe(y) + ", outside " + bpe.alphabetStart.toString() + ".." + (size - 1).toString() + " (characters and earlier merges)");
    const a = <i32>x.num, b = <i32>y.num;
    const key = <u64>a * KEY + <u64>b;
    if (bpe.ranks.has(key)) return bpeFail("merge " + m + " repeats the pair " + a.toString() + " " + b.toString());
    bpe.ranks.set(key, r / 2);
    bpe.pieces.push(bpe.pieces[a] + bpe.pieces[b]);
    size++;
  }
  return bpe;
}

function specialIs(sp: JValue, key: string, id: i32): bool {
  const v = sp.get(key);
  return v !== null && v.kind == J_NUM && v.num == <f64>id;
}
