/**
 * The host side of the k-means products (issue 14 item 1; docs/runtime.md, "k-means products"): a
 * k-means matrix (runtime/quant.ts) packed into the layout the kernels read
 * (assembly/km-layout.ts): its codebook and its indices, row after row, each row starting on a
 * byte. The kernels read any front slice of it, so one packing serves every architecture.
 */
import { KM_BITS, KM_CODEBOOK, KM_CODEBOOK_ENTRIES, KM_COLS, KM_DATA, KM_MAX_NT_K, KM_ROWS, KM_STRIDE } from "../assembly/km-layout.js";
import { packedBytes, type KmeansTensor } from "./quant.js";

/** The k-means kernels' exports (assembly/kmeans.ts), beside HatExports. */
export interface KmExports {
  km_matmul(y: number, x: number, w: number, b: number, M: number, K: number, N: number, ldx: number, ldw: number, ldy: number): void;
  km_matmul_nt(y: number, x: number, w: number, b: number, M: number, K: number, N: number, ldx: number, ldw: number, ldy: number): void;
  km_decode(dst: number, w: number, R: number, C: number): void;
}

/** The largest embed dim a k-means embedding may have (the kernels' decoded row). */
export const KM_MAX_EMBED_DIM = KM_MAX_NT_K;

/** Bytes of the packed form of a [R, C] matrix at `bits`. */
export function kmBytes(R: number, C: number, bits: 4 | 8): number {
  return KM_DATA + R * packedBytes(C, bits);
}

/** `t` (a 2-D k-means tensor) in the kernels' layout. */
export function packKm(t: KmeansTensor): Uint8Array {
  if (t.shape.length !== 2) throw new RangeError(`a k-means matrix is 2-D, got [${t.shape}]`);
  const [R, C] = t.shape, bits = t.bits, stride = packedBytes(C, bits);
  if (t.codebook.length > KM_CODEBOOK_ENTRIES || t.codebook.length > 2 ** bits) throw new RangeError(`a ${bits}-bit codebook holds at most ${2 ** bits} centroids, got ${t.codebook.length}`);
  const out = new Uint8Array(kmBytes(R, C, bits));
  const h = new Int32Array(out.buffer, 0, 16);
  h[KM_ROWS] = R; h[KM_COLS] = C; h[KM_BITS] = bits; h[KM_STRIDE] = stride;
  new Float32Array(out.buffer, KM_CODEBOOK, KM_CODEBOOK_ENTRIES).set(t.codebook);
  const data = out.subarray(KM_DATA);
  if (bits === 8 || C % 2 === 0) { data.set(t.packed); return out; } // rows already start on a byte
  // 4 bits, odd C: row r starts at element r·C of the file's run of nibbles
  const nib = (i: number) => (i & 1 ? t.packed[i >> 1] >> 4 : t.packed[i >> 1] & 15);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) data[r * stride + (c >> 1)] |= nib(r * C + c) << ((c & 1) * 4);
  }
  return out;
}
