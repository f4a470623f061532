// Reading a model file through WASI 0.2's filesystem (wit/deps/filesystem: preopens and
// descriptor.open-at / read), for the export `open`. The canonical ABI of the imports by hand, as
// the exports' (assembly/component/index.ts): results come back in a return area given as the
// last argument, lists and strings in blocks the host asked cabi_realloc for (ours to free), and
// descriptors as handles (`own`, dropped with [resource-drop]descriptor once used).

import { fail, E_IO, E_TOO_LARGE } from "./hatm";

// @ts-ignore: decorator
@external("wasi:filesystem/preopens@0.2.0", "get-directories")
declare function getDirectories(ret: usize): void;
// @ts-ignore: decorator
@external("wasi:filesystem/types@0.2.0", "[method]descriptor.open-at")
declare function openAt(self: i32, pathFlags: i32, path: usize, pathLen: usize, openFlags: i32, flags: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:filesystem/types@0.2.0", "[method]descriptor.read")
declare function read(self: i32, length: u64, offset: u64, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:filesystem/types@0.2.0", "[resource-drop]descriptor")
declare function dropDescriptor(self: i32): void;

const IMPORT_RET: usize = memory.data(16, 8);
const CHUNK: u64 = 16 << 20;
/** The largest block the allocator gives (1 GiB), less room for alignment. */
const MAX_FILE: usize = (1 << 30) - 256;

// wasi:filesystem/types error-code, in order
const FS_ERRORS: string[] = [
  "access", "would-block", "already", "bad-descriptor", "busy", "deadlock", "quota", "exist", "file-too-large",
  "illegal-byte-sequence", "in-progress", "interrupted", "invalid", "io", "is-directory", "loop", "too-many-links",
  "message-size", "name-too-long", "no-device", "no-entry", "no-lock", "insufficient-memory", "insufficient-space",
  "not-directory", "not-empty", "not-recoverable", "unsupported", "no-tty", "no-such-device", "overflow",
  "not-permitted", "pipe", "read-only", "invalid-seek", "text-file-busy", "cross-device",
];

function fsError(code: u8): string { return <i32>code < FS_ERRORS.length ? FS_ERRORS[code] : "error " + code.toString(); }

/** The part of `path` after the preopen `name` ("" if it is not under it); "." takes relative paths. */
function under(path: string, name: string): string | null {
  let n = name;
  while (n.length > 1 && n.endsWith("/")) n = n.substring(0, n.length - 1);
  if (n == "." || n == "") return path.startsWith("/") ? null : (path.startsWith("./") ? path.substring(2) : path);
  if (n == "/") return path.startsWith("/") ? path.substring(1) : null;
  if (path.startsWith(n + "/")) return path.substring(n.length + 1);
  return null;
}

/**
 * The bytes of the file at `path` in a new heap block (its length in `len[0]`), or 0 with a
 * failure (io: no preopen holds it, or the filesystem's error; too-large: over 1 GiB).
 */
export function readFile(path: string, len: usize[]): usize {
  getDirectories(IMPORT_RET);
  const list = <usize>load<u32>(IMPORT_RET), n = <usize>load<u32>(IMPORT_RET + 4);
  let dir = -1, rel = "", best = -1, names = "";
  for (let i: usize = 0; i < n; i++) {
    const e = list + i * 12;
    const h = load<i32>(e), np = <usize>load<u32>(e + 4), nl = <usize>load<u32>(e + 8);
    const name = String.UTF8.decodeUnsafe(np, nl);
    if (nl > 0) heap.free(np);
    names += (i > 0 ? ", " : "") + "\"" + name + "\"";
    const r = under(path, name);
    if (r !== null && name.length > best) {
      if (dir >= 0) dropDescriptor(dir);
      dir = h; rel = r; best = name.length;
    } else dropDescriptor(h);
  }
  if (n > 0) heap.free(list);
  if (dir < 0) {
    fail(E_IO, "cannot open " + path + ": no directory the host preopened holds it (" + (n > 0 ? "preopened: " + names : "none preopened") + ")");
    return 0;
  }
  const pathBytes = String.UTF8.encode(rel);
  openAt(dir, 1 /* symlink-follow */, changetype<usize>(pathBytes), <usize>pathBytes.byteLength, 0, 1 /* read */, IMPORT_RET);
  dropDescriptor(dir);
  if (load<u8>(IMPORT_RET) != 0) {
    fail(E_IO, "cannot open " + path + ": " + fsError(load<u8>(IMPORT_RET + 4)));
    return 0;
  }
  const file = load<i32>(IMPORT_RET + 4);
  let buf: usize = 0, size: usize = 0, cap: usize = 0;
  for (;;) {
    read(file, CHUNK, <u64>size, IMPORT_RET);
    if (load<u8>(IMPORT_RET) != 0) {
      dropDescriptor(file);
      if (buf != 0) heap.free(buf);
      fail(E_IO, "cannot read " + path + ": " + fsError(load<u8>(IMPORT_RET + 4)));
      return 0;
    }
    const cp = <usize>load<u32>(IMPORT_RET + 4), cl = <usize>load<u32>(IMPORT_RET + 8), end = load<u8>(IMPORT_RET + 12) != 0;
    if (cl > 0) {
      if (size + cl > MAX_FILE) {
        heap.free(cp);
        dropDescriptor(file);
        if (buf != 0) heap.free(buf);
        fail(E_TOO_LARGE, path + " is larger than the component's largest block (1 GiB)");
        return 0;
      }
      if (buf == 0) { buf = cp; size = cl; cap = cl; }
      else {
        if (size + cl > cap) {
          cap = min<usize>(max<usize>(cap * 2, size + cl), MAX_FILE);
          buf = heap.realloc(buf, cap);
        }
        memory.copy(buf + size, cp, cl);
        size += cl;
        heap.free(cp);
      }
    }
    if (end || cl == 0) break;
  }
  dropDescriptor(file);
  if (buf == 0) buf = heap.alloc(1);
  len[0] = size;
  return buf;
}
