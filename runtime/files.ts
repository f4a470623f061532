/**
 * Writing a file so that a kill never leaves half of it: a temporary file beside it, written
 * whole, fsynced, then renamed over the target (a rename within a directory is atomic). Shared by
 * the latency datasets, the server's artifacts and the agent's state.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

/** Write `data` to `path` atomically (tmp + fsync + rename); a new file gets `mode`. */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o666): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(tmp, "w", mode);
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
