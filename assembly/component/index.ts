// The hat-edge component's core module (build/hat-component.core.wasm, wrapped into
// build/hat-component.wasm by `jco new`): the world `translator` of wit/hat.wit, with the
// canonical ABI glue written by hand (no wit-bindgen targets AssemblyScript). docs/runtime.md,
// "The component", has the whole picture; in short:
//
// - `cabi_realloc(old, oldSize, align, newSize)`: the host asks it for memory to put arguments in
//   (the model's bytes, strings, lists); the callee owns what it got. A model's bytes stay with
//   the model (its f32 tensors are used in place); strings and lists are freed once read.
// - Parameters arrive flattened (a string or list as pointer and length, a record as its fields,
//   an option as a discriminant and its payload); every result here is more than one flat value,
//   so each export returns a pointer to a return area laid out as the canonical ABI's memory
//   form (RET below: result's discriminant byte, then its payload at the payload's alignment).
// - Strings and lists in a result are blocks allocated for it; `cabi_post_<name>`, which the host
//   calls once it has read the result, frees them and runs the collector (runtime "minimal":
//   nothing managed is alive between calls but what globals hold).
// - Every failure is an `err(error)` result: input is checked before any kernel runs, sizes before
//   any allocation. What still traps is a bug (the abort handler) or the host's own allocation of
//   the arguments failing in cabi_realloc (a model of more than 1 GiB).

import { Model, loadModel, failCode, failMessage, fail, E_BAD_HANDLE, E_NO_TOKENIZER, E_BAD_INPUT, E_BAD_ARCH, MAX_POSITIONS, readArch, JsonParser } from "./hatm";
import { Net } from "./net";
import { readFile } from "./files";
import "./abort";

// ---- memory for the host ---------------------------------------------------------------------

/** The return area: one result at a time (the host reads it before the next call). Largest: info's 48 bytes. */
const RET: usize = memory.data(64, 8);

/** Blocks of the current result, freed by cabi_post_*. */
let resultBlocks: usize[] = [];

function cabiRealloc(old: usize, oldSize: usize, align: usize, newSize: usize): usize {
  // TLSF blocks are 16-byte aligned, more than the canonical ABI's largest alignment (8)
  if (old == 0) return heap.alloc(newSize == 0 ? 1 : newSize);
  return heap.realloc(old, newSize == 0 ? 1 : newSize);
}

function postReturn(_ret: usize): void {
  for (let i = 0; i < resultBlocks.length; i++) heap.free(resultBlocks[i]);
  resultBlocks = [];
  __collect();
}

/** An argument's block, freed once read (a zero-length one may not be a block at all). */
function freeArg(p: usize, len: usize): void {
  if (len > 0 && p != 0) heap.free(p);
}

function resultBlock(bytes: usize): usize {
  const p = heap.alloc(bytes == 0 ? 1 : bytes);
  resultBlocks.push(p);
  return p;
}

// ---- strings ---------------------------------------------------------------------------------

/** A string as UTF-8 in a result block; a lone surrogate (no WIT string holds one) becomes U+FFFD. */
function putString(at: usize, s: string): void {
  let n: usize = 0;
  for (let i = 0; i < s.length; i++) {
    const u = <u32>s.charCodeAt(i);
    if (u < 0x80) n += 1;
    else if (u < 0x800) n += 2;
    else if (u >= 0xd800 && u <= 0xdbff && i + 1 < s.length && (<u32>s.charCodeAt(i + 1) & 0xfc00) == 0xdc00) { n += 4; i++; }
    else n += 3;
  }
  const p = resultBlock(n);
  let q = p;
  for (let i = 0; i < s.length; i++) {
    let c = <u32>s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && i + 1 < s.length && (<u32>s.charCodeAt(i + 1) & 0xfc00) == 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (<u32>s.charCodeAt(i + 1) - 0xdc00);
        i++;
      } else c = 0xfffd;
    }
    if (c < 0x80) { store<u8>(q++, <u8>c); }
    else if (c < 0x800) { store<u8>(q++, <u8>(0xc0 | (c >> 6))); store<u8>(q++, <u8>(0x80 | (c & 63))); }
    else if (c < 0x10000) { store<u8>(q++, <u8>(0xe0 | (c >> 12))); store<u8>(q++, <u8>(0x80 | ((c >> 6) & 63))); store<u8>(q++, <u8>(0x80 | (c & 63))); }
    else { store<u8>(q++, <u8>(0xf0 | (c >> 18))); store<u8>(q++, <u8>(0x80 | ((c >> 12) & 63))); store<u8>(q++, <u8>(0x80 | ((c >> 6) & 63))); store<u8>(q++, <u8>(0x80 | (c & 63))); }
  }
  store<u32>(at, <u32>p);
  store<u32>(at + 4, <u32>n);
}

/** A string argument (valid UTF-8: the host checked it), its block freed. */
function argString(p: usize, len: usize): string {
  const s = len == 0 ? "" : String.UTF8.decodeUnsafe(p, len);
  freeArg(p, len);
  return s;
}

function putI32List(at: usize, xs: i32[]): void {
  const p = resultBlock(<usize>xs.length << 2);
  for (let i = 0; i < xs.length; i++) store<i32>(p + (<usize>i << 2), xs[i]);
  store<u32>(at, <u32>p);
  store<u32>(at + 4, <u32>xs.length);
}

// ---- results ---------------------------------------------------------------------------------
// result<T, error>: discriminant byte at 0 (0 ok, 1 err), payload at the payload's alignment
// (4, or 8 when T holds an f64 or u64); error = { code: u8 at 0, message: string at 4 }.

function ok(): usize {
  store<u8>(RET, 0);
  return RET;
}

/** The last failure (failCode, failMessage) as err(error), the payload at `payload`. */
function err(payload: usize): usize {
  store<u8>(RET, 1);
  store<u8>(RET + payload, <u8>failCode);
  putString(RET + payload + 4, failMessage);
  return RET;
}

// ---- models ----------------------------------------------------------------------------------

class Loaded {
  model: Model;
  net: Net;
  constructor(model: Model, net: Net) { this.model = model; this.net = net; }
}

const loaded = new Map<u32, Loaded>();
let nextHandle: u32 = 1;

function find(h: u32): Loaded | null {
  if (loaded.has(h)) return loaded.get(h);
  fail(E_BAD_HANDLE, "model handle " + h.toString() + " is not a loaded model (load returns handles; unload releases them)");
  return null;
}

function needBpe(l: Loaded): bool {
  if (l.model.bpe !== null) return true;
  if (l.model.bpeError.length > 0) return fail(E_NO_TOKENIZER, l.model.bpeError);
  return fail(E_NO_TOKENIZER, "this model carries no tokenizer: it was not trained on text");
}

/** Token ids of text, checked against the model's vocabulary (the tokenizer may be larger). */
function tokenize(l: Loaded, text: string, what: string): i32[] | null {
  const ids = l.model.bpe!.encode(text);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] >= l.model.V) { fail(E_BAD_INPUT, what + "[" + i.toString() + "] = " + ids[i].toString() + " is not a token id (vocabulary " + l.model.V.toString() + "): the tokenizer is larger than the model"); return null; }
  }
  return ids;
}

/** Decode and check the model file in block p (the model owns it now), build its SubTransformer,
 *  and give it a handle; 0 with a failure. */
function register(p: usize, len: usize): u32 {
  const m = loadModel(p, len);
  if (m === null) return 0;
  const net = new Net(m, m.arch);
  if (!net.build()) { net.release(); m.release(); return 0; }
  const h = nextHandle++;
  loaded.set(h, new Loaded(m, net));
  return h;
}

// load: func(bytes: list<u8>) -> result<u32, error>
function wLoad(p: usize, len: usize): usize {
  const h = register(p, len);
  if (h == 0) return err(4);
  store<u32>(RET + 4, h);
  return ok();
}

// open: func(path: string) -> result<u32, error>
function wOpen(pp: usize, pl: usize): usize {
  const path = argString(pp, pl);
  const len: usize[] = [0];
  const p = readFile(path, len);
  if (p == 0) return err(4);
  const h = register(p, len[0]);
  if (h == 0) { fail(failCode, path + ": " + failMessage); return err(4); }
  store<u32>(RET + 4, h);
  return ok();
}

// unload: func(model: u32) -> result<_, error>
function wUnload(h: u32): usize {
  const l = find(h);
  if (l === null) return err(4);
  l.net.release();
  l.model.release();
  loaded.delete(h);
  return ok();
}

// info: func(model: u32) -> result<model-info, error>; model-info at 8: kind @0, vocab-size @8,
// params @16, arch @24, has-tokenizer @32, format-version @36
function wInfo(h: u32): usize {
  const l = find(h);
  if (l === null) return err(8);
  const m = l.model, base = RET + 8;
  putString(base, m.kind);
  store<u32>(base + 8, <u32>m.V);
  store<u64>(base + 16, l.net.arch.params(m.V));
  putString(base + 24, l.net.arch.toJSON());
  store<u8>(base + 32, m.bpe !== null ? 1 : 0);
  store<u32>(base + 36, <u32>m.version);
  return ok();
}

// tokenize: func(model: u32, text: string) -> result<list<u32>, error>
function wTokenize(h: u32, tp: usize, tl: usize): usize {
  const text = argString(tp, tl);
  const l = find(h);
  if (l === null || !needBpe(l)) return err(4);
  putI32List(RET + 4, l.model.bpe!.encode(text));
  return ok();
}

function maxLenOf(has: u32, v: u32): i32 {
  return has != 0 ? <i32>min<u32>(v, 1 << 20) : -1;
}

// decode: func(model: u32, source: list<u32>, options: translate-options) -> result<list<u32>, error>
function wDecode(h: u32, sp: usize, sl: usize, beam: u32, lenpen: f64, hasMax: u32, maxLen: u32): usize {
  const src: i32[] = [];
  const n = <i32>min<usize>(sl, MAX_POSITIONS + 1);
  for (let i = 0; i < n; i++) src.push(load<i32>(sp + (<usize>i << 2)));
  const tooLong = sl > <usize>(MAX_POSITIONS - 1);
  freeArg(sp, sl);
  const l = find(h);
  if (l === null) return err(4);
  if (tooLong) { fail(E_BAD_INPUT, "the source has " + sl.toString() + " tokens; at most " + (MAX_POSITIONS - 1).toString() + " (with its eos, " + MAX_POSITIONS.toString() + ")"); return err(4); }
  src.push(2);
  const out = l.net.beamSearch(src, <i32>min<u32>(beam, 1 << 20), lenpen, maxLenOf(hasMax, maxLen));
  if (out === null) return err(4);
  putI32List(RET + 4, out);
  return ok();
}

// translate: func(model: u32, text: string, options: translate-options) -> result<string, error>
function wTranslate(h: u32, tp: usize, tl: usize, beam: u32, lenpen: f64, hasMax: u32, maxLen: u32): usize {
  const text = argString(tp, tl);
  const l = find(h);
  if (l === null || !needBpe(l)) return err(4);
  if (text.trim().length == 0) { putString(RET + 4, ""); return ok(); }
  const ids = tokenize(l, text, "src");
  if (ids === null) return err(4);
  // as runtime/decode.ts translateLines: cut to the positions the model has, then eos
  const src = ids.length > MAX_POSITIONS - 1 ? ids.slice(0, MAX_POSITIONS - 1) : ids;
  src.push(2);
  const out = l.net.beamSearch(src, <i32>min<u32>(beam, 1 << 20), lenpen, maxLenOf(hasMax, maxLen));
  if (out === null) return err(4);
  for (let i = 0; i < out.length; i++) {
    if (out[i] >= l.model.bpe!.vocabSize) { fail(E_BAD_INPUT, "BPE decode: token id " + out[i].toString() + " at position " + i.toString() + " is outside the vocabulary (0.." + (l.model.bpe!.vocabSize - 1).toString() + ")"); return err(4); }
  }
  putString(RET + 4, l.model.bpe!.decode(out));
  return ok();
}

// score: func(model: u32, source: string, target: string) -> result<score-result, error>;
// score-result at 8: log-prob f64 @0, token-log-probs list<f32> @8
function wScore(h: u32, sp: usize, sl: usize, tp: usize, tl: usize): usize {
  const source = argString(sp, sl), target = argString(tp, tl);
  const l = find(h);
  if (l === null || !needBpe(l)) return err(8);
  const src = tokenize(l, source, "src");
  if (src === null) return err(8);
  const tgt = tokenize(l, target, "tgt");
  if (tgt === null) return err(8);
  src.push(2);
  const lp: f32[] = [];
  if (!l.net.score(src, tgt, lp)) return err(8);
  let sum: f64 = 0;
  const p = resultBlock(<usize>lp.length << 2);
  for (let i = 0; i < lp.length; i++) { store<f32>(p + (<usize>i << 2), lp[i]); sum += <f64>lp[i]; }
  store<f64>(RET + 8, sum);
  store<u32>(RET + 16, <u32>p);
  store<u32>(RET + 20, <u32>lp.length);
  return ok();
}

// profile: func(model: u32, arch: option<string>, options: profile-options) -> result<latency, error>;
// latency at 8: encoder-ms @0, decoder-ms @8, total-ms @16
function wProfile(h: u32, hasArch: u32, ap: usize, al: usize, runs: u32, warmup: u32, srcLen: u32, tgtLen: u32, beam: u32, trim: f64): usize {
  const archText = hasArch != 0 ? argString(ap, al) : "";
  const l = find(h);
  if (l === null) return err(8);
  let net = l.net;
  let own = false;
  if (hasArch != 0) {
    const parser = new JsonParser(changetype<usize>(String.UTF8.encode(archText)), <usize>String.UTF8.byteLength(archText));
    const j = parser.parse();
    if (j === null) { fail(E_BAD_ARCH, "the architecture is not JSON: " + parser.error); return err(8); }
    const a = readArch(j, l.model.space);
    if (a === null) return err(8);
    net = new Net(l.model, a);
    own = true;
    if (!net.build()) { net.release(); return err(8); }
  }
  const out: f64[] = [];
  const c = (x: u32): i32 => <i32>min<u32>(x, 1 << 20);
  const ok_ = net.profile(c(runs), c(warmup), c(srcLen), c(tgtLen), c(beam), trim, out);
  if (own) net.release();
  if (!ok_) return err(8);
  store<f64>(RET + 8, out[0]);
  store<f64>(RET + 16, out[1]);
  store<f64>(RET + 24, out[2]);
  return ok();
}

function postLoad(r: usize): void { postReturn(r); }
function postOpen(r: usize): void { postReturn(r); }
function postUnload(r: usize): void { postReturn(r); }
function postInfo(r: usize): void { postReturn(r); }
function postTokenize(r: usize): void { postReturn(r); }
function postDecode(r: usize): void { postReturn(r); }
function postTranslate(r: usize): void { postReturn(r); }
function postScore(r: usize): void { postReturn(r); }
function postProfile(r: usize): void { postReturn(r); }

export {
  cabiRealloc as cabi_realloc,
  wLoad as load, wOpen as open, wUnload as unload, wInfo as info, wTokenize as tokenize, wDecode as decode,
  wTranslate as translate, wScore as score, wProfile as profile,
  postLoad as cabi_post_load, postOpen as cabi_post_open, postUnload as cabi_post_unload, postInfo as cabi_post_info,
  postTokenize as cabi_post_tokenize, postDecode as cabi_post_decode, postTranslate as cabi_post_translate,
  postScore as cabi_post_score, postProfile as cabi_post_profile,
};
