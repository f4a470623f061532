// A bounded JSON parser for the `.hatm` header (runtime/format.ts: a UTF-8 JSON object): RFC 8259
// JSON, as JSON.parse reads it (duplicate keys: the last one wins), with two bounds of its own:
// nesting at most MAX_DEPTH deep (the parser recurses), and nothing allocated beyond what the
// bytes given hold (each value is at least one byte of input). Invalid UTF-8 is refused, as
// runtime/format.ts's fatal TextDecoder refuses it. A failure is an `error` string naming the byte
// offset, never a trap.

export const J_NULL = 0;
export const J_BOOL = 1;
export const J_NUM = 2;
export const J_STR = 3;
export const J_ARR = 4;
export const J_OBJ = 5;

/** Deepest nesting of arrays and objects accepted (the header needs 4). */
export const MAX_DEPTH = 64;

const KIND_NAMES: string[] = ["null", "boolean", "number", "string", "array", "object"];

export class JValue {
  kind: i32 = J_NULL;
  num: f64 = 0;
  bool: bool = false;
  str: string = "";
  /** Array elements, or object values (keys[i] -> items[i]). */
  items: JValue[] = [];
  keys: string[] = [];

  /** The object member `key` (the last one of that name), or null. */
  get(key: string): JValue | null {
    for (let i = this.keys.length - 1; i >= 0; i--) if (this.keys[i] == key) return this.items[i];
    return null;
  }

  kindName(): string { return KIND_NAMES[this.kind]; }

  isInt(): bool { return this.kind == J_NUM && isFinite(this.num) && Math.floor(this.num) == this.num; }
}

/** `"null"`, `"number 3.5"`, `"string \"x\""`, ...: a value as an error message shows it. */
export function describe(v: JValue | null): string {
  if (v === null) return "nothing";
  if (v.kind == J_NUM) return numText(v.num);
  if (v.kind == J_STR) return "\"" + (v.str.length > 40 ? v.str.substring(0, 40) + "..." : v.str) + "\"";
  if (v.kind == J_BOOL) return v.bool ? "true" : "false";
  return v.kindName();
}

/** An integer-valued f64 without a fraction (as JSON.stringify writes it), else the f64 text. */
export function numText(x: f64): string {
  if (isFinite(x) && Math.floor(x) == x && Math.abs(x) < 9007199254740992) return (<i64>x).toString();
  return x.toString();
}

export class JsonParser {
  private p: usize;
  private end: usize;
  private start: usize;
  error: string = "";
  /** UTF-16 code units of the string being read. */
  private buf: StaticArray<u16> = new StaticArray<u16>(64);

  constructor(ptr: usize, len: usize) {
    this.p = ptr;
    this.start = ptr;
    this.end = ptr + len;
  }

  /** The whole input as one value (whitespace around it), or null with `error` set. */
  parse(): JValue | null {
    this.ws();
    const v = this.value(0);
    if (v === null) return null;
    this.ws();
    if (this.p != this.end) return this.fail("unexpected " + this.here() + " after the JSON value");
    return v;
  }

  private fail(msg: string): JValue | null {
    if (this.error.length == 0) this.error = msg + " at byte " + (this.p - this.start).toString();
    return null;
  }

  private here(): string {
    if (this.p >= this.end) return "end of input";
    const c = load<u8>(this.p);
    return c >= 0x20 && c < 0x7f ? "'" + String.fromCharCode(c) + "'" : "byte 0x" + (<u32>c).toString(16);
  }

  private ws(): void {
    while (this.p < this.end) {
      const c = load<u8>(this.p);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.p++;
    }
  }

  private value(depth: i32): JValue | null {
    if (this.p >= this.end) return this.fail("unexpected end of input");
    const c = load<u8>(this.p);
    if (c == 0x7b) return this.object(depth + 1); // {
    if (c == 0x5b) return this.array(depth + 1); // [
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      const v = new JValue();
      v.kind = J_STR;
      v.str = s;
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.word("true")) { const v = new JValue(); v.kind = J_BOOL; v.bool = true; return v; }
    if (this.word("false")) { const v = new JValue(); v.kind = J_BOOL; return v; }
    if (this.word("null")) return new JValue();
    return this.fail("unexpected " + this.here());
  }

  private word(w: string): bool {
    const n = <usize>w.length;
    if (this.end - this.p < n) return false;
    for (let i: usize = 0; i < n; i++) if (<u32>load<u8>(this.p + i) != <u32>w.charCodeAt(<i32>i)) return false;
    this.p += n;
    return true;
  }

  private object(depth: i32): JValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.p++; // {
    const v = new JValue();
    v.kind = J_OBJ;
    this.ws();
    if (this.p < this.end && load<u8>(this.p) == 0x7d) { this.p++; return v; }
    for (;;) {
      this.ws();
      if (this.p >= this.end || load<u8>(this.p) != 0x22) return this.fail("expected a string key, got " + this.here());
      const k = this.string();
      if (k === null) return null;
      this.ws();
      if (this.p >= this.end || load<u8>(this.p) != 0x3a) return this.fail("expected ':', got " + this.here());
      this.p++;
      this.ws();
      const x = this.value(depth);
      if (x === null) return null;
      v.keys.push(k);
      v.items.push(x);
      this.ws();
      if (this.p >= this.end) return this.fail("unterminated object");
      const c = load<u8>(this.p++);
      if (c == 0x7d) return v;
      if (c != 0x2c) { this.p--; return this.fail("expected ',' or '}', got " + this.here()); }
    }
    return null;
  }

  private array(depth: i32): JValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.p++; // [
    const v = new JValue();
    v.kind = J_ARR;
    this.ws();
    if (this.p < this.end && load<u8>(this.p) == 0x5d) { this.p++; return v; }
    for (;;) {
      this.ws();
      const x = this.value(depth);
      if (x === null) return null;
      v.items.push(x);
      this.ws();
      if (this.p >= this.end) return this.fail("unterminated array");
      const c = load<u8>(this.p++);
      if (c == 0x5d) return v;
      if (c != 0x2c) { this.p--; return this.fail("expected ',' or ']', got " + this.here()); }
    }
    return null;
  }

  private number(): JValue | null {
    const s = this.p;
    if (load<u8>(this.p) == 0x2d) this.p++;
    if (this.p >= this.end) return this.fail("bad number");
    let c = load<u8>(this.p);
    if (c == 0x30) this.p++;
    else if (c >= 0x31 && c <= 0x39) { while (this.p < this.end && isDigit(load<u8>(this.p))) this.p++; }
    else return this.fail("bad number");
    let integer = true;
    if (this.p < this.end && load<u8>(this.p) == 0x2e) {
      integer = false;
      this.p++;
      if (this.p >= this.end || !isDigit(load<u8>(this.p))) return this.fail("bad number: digits must follow '.'");
      while (this.p < this.end && isDigit(load<u8>(this.p))) this.p++;
    }
    if (this.p < this.end && (load<u8>(this.p) | 0x20) == 0x65) {
      integer = false;
      this.p++;
      if (this.p < this.end && (load<u8>(this.p) == 0x2b || load<u8>(this.p) == 0x2d)) this.p++;
      if (this.p >= this.end || !isDigit(load<u8>(this.p))) return this.fail("bad number: digits must follow the exponent");
      while (this.p < this.end && isDigit(load<u8>(this.p))) this.p++;
    }
    const v = new JValue();
    v.kind = J_NUM;
    if (integer && this.p - s <= 15) {
      // exact: at most 15 digits (with the sign)
      let x: f64 = 0;
      let q = s;
      const neg = load<u8>(q) == 0x2d;
      if (neg) q++;
      for (; q < this.p; q++) x = x * 10 + <f64>(load<u8>(q) - 0x30);
      v.num = neg ? -x : x;
    } else {
      v.num = parseFloat(String.UTF8.decodeUnsafe(s, this.p - s));
    }
    return v;
  }

  private push(i: i32, u: u16): i32 {
    if (i >= this.buf.length) {
      const nb = new StaticArray<u16>(this.buf.length * 2);
      memory.copy(changetype<usize>(nb), changetype<usize>(this.buf), <usize>this.buf.length << 1);
      this.buf = nb;
    }
    unchecked(this.buf[i] = u);
    return i + 1;
  }

  /** A string literal (at its opening quote), UTF-8 validated, escapes resolved. */
  private string(): string | null {
    this.p++; // "
    let n = 0;
    for (;;) {
      if (this.p >= this.end) { this.fail("unterminated string"); return null; }
      const c = <u32>load<u8>(this.p);
      if (c == 0x22) { this.p++; break; }
      if (c < 0x20) { this.fail("control character in a string"); return null; }
      if (c == 0x5c) {
        this.p++;
        if (this.p >= this.end) { this.fail("unterminated string"); return null; }
        const e = <u32>load<u8>(this.p++);
        if (e == 0x22 || e == 0x5c || e == 0x2f) n = this.push(n, <u16>e);
        else if (e == 0x62) n = this.push(n, 8);
        else if (e == 0x66) n = this.push(n, 12);
        else if (e == 0x6e) n = this.push(n, 10);
        else if (e == 0x72) n = this.push(n, 13);
        else if (e == 0x74) n = this.push(n, 9);
        else if (e == 0x75) {
          if (this.end - this.p < 4) { this.fail("bad \\u escape"); return null; }
          let u: u32 = 0;
          for (let k = 0; k < 4; k++) {
            const h = hexVal(load<u8>(this.p++));
            if (h < 0) { this.p--; this.fail("bad \\u escape"); return null; }
            u = (u << 4) | <u32>h;
          }
          n = this.push(n, <u16>u);
        } else { this.p--; this.fail("bad escape"); return null; }
        continue;
      }
      if (c < 0x80) { n = this.push(n, <u16>c); this.p++; continue; }
      // multi-byte UTF-8: the shortest form, no surrogates, at most U+10FFFF (a fatal TextDecoder's rules)
      let len = 0, cp: u32 = 0, min: u32 = 0;
      if (c >= 0xc2 && c <= 0xdf) { len = 1; cp = c & 31; min = 0x80; }
      else if (c >= 0xe0 && c <= 0xef) { len = 2; cp = c & 15; min = 0x800; }
      else if (c >= 0xf0 && c <= 0xf4) { len = 3; cp = c & 7; min = 0x10000; }
      else { this.fail("invalid UTF-8"); return null; }
      if (this.end - this.p <= <usize>len) { this.fail("invalid UTF-8 (cut short)"); return null; }
      for (let k = 1; k <= len; k++) {
        const d = <u32>load<u8>(this.p + k);
        if ((d & 0xc0) != 0x80) { this.fail("invalid UTF-8"); return null; }
        cp = (cp << 6) | (d & 63);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) { this.fail("invalid UTF-8"); return null; }
      this.p += len + 1;
      if (cp >= 0x10000) {
        const x = cp - 0x10000;
        n = this.push(n, <u16>(0xd800 + (x >> 10)));
        n = this.push(n, <u16>(0xdc00 + (x & 0x3ff)));
      } else n = this.push(n, <u16>cp);
    }
    return String.UTF16.decodeUnsafe(changetype<usize>(this.buf), <usize>n << 1);
  }
}

function isDigit(c: u8): bool { return c >= 0x30 && c <= 0x39; }

function hexVal(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
