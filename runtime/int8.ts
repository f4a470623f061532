/**
 * The host side of the int8 products (issue 14 item 2; docs/runtime.md, "int8 products"): a
 * linear 8-bit matrix (runtime/quant.ts) packed into the layout the kernels want
 * (assembly/q8-layout.ts), and the exports of assembly/int8.ts.
 *
 * The packed matrix is the product's W[K, N] (y = x·W): a front slice of a stored `[in, out]`
 * weight (channels its columns), or of the shared embedding `[V, D]` read transposed for the
 * output projection (logits = h·Eᵀ, channels its rows). Each element keeps the file's index q
 * (stored as q - 128), each column its scale and zero point: the weights are the file's, not
 * quantized again.
 */
import { Q8_HEADER_BYTES, Q8_K, Q8_KP, Q8_MAX_K, Q8_N, Q8_NP, Q8_R, Q8_SCALES, Q8_SUMS } from "../assembly/q8-layout.js";
import { linearQuantize, unpackIndices, type LinearTensor } from "./quant.js";
import type { Tensor } from "./weights.js";

/** The int8 kernels' exports (assembly/int8.ts), beside HatExports. */
export interface Q8Exports {
  q8_matmul(y: number, x: number, w: number, b: number, M: number, K: number, N: number, ldx: number, ldw: number, ldy: number): void;
  q8_matmul_naive(y: number, x: number, q: number, zp: number, scales: number, b: number, M: number, K: number, N: number, ldx: number, sk: number, sn: number, ldy: number): void;
  q8_levels(): number;
}

/** Products in f32 (the default) or int8 (linear 8-bit weights, activations quantized per row): a field of the measurement protocol (runtime/protocol.ts). */
export { QUANTS, type Quant } from "./protocol.js";

/** A refused int8 matrix (too large a K for the kernel's activation buffer). */
export class Q8ShapeError extends RangeError {
  override name = "Q8ShapeError";
}

/** An 8-bit linear matrix with its indices unpacked: what the packer reads. */
export interface Q8Source {
  shape: [number, number];
  /** The output channel's axis: 1 for a `[in, out]` weight, 0 for the embedding. */
  axis: 0 | 1;
  /** q, row-major over `shape`. */
  q: Uint8Array;
  zeroPoints: Uint8Array;
  scales: Float32Array;
}

/** The 8-bit source of a tensor: its own indices when the file stores it linear (8 or 4 bits:
 *  any index in [0, 256) is kept as is), else (f32, k-means) quantized linearly at 8 bits with
 *  the channels `axis`, as `hat quantize --method linear --bits 8` does. */
export function q8Source(t: Tensor, axis: 0 | 1, stored?: LinearTensor | { method: string }): Q8Source {
  if (t.shape.length !== 2) throw new Q8ShapeError(`int8 products need a 2-D matrix, got shape [${t.shape}]`);
  const lin = stored && stored.method === "linear" && (stored as LinearTensor).axis === axis
    ? stored as LinearTensor
    : linearQuantize(t, { bits: 8, axis });
  const [R, C] = t.shape;
  return { shape: [R, C], axis, q: unpackIndices(lin.packed, R * C, lin.bits), zeroPoints: lin.zeroPoints, scales: lin.scales };
}

const up = (n: number, m: number) => Math.ceil(n / m) * m;

/** Bytes of a packed K x N matrix (header, data, per-column scales, r, sums). */
export function q8Bytes(K: number, N: number): number {
  return Q8_HEADER_BYTES + up(K, 4) * up(N, 8) + 12 * up(N, 8);
}

/**
 * Pack the product's W[0:K, 0:N] of `src` (element (k, n) is q[k][n] of a `[in, out]` source,
 * q[n][k] of an axis-0 one, the embedding) into assembly/q8-layout.ts's layout.
 */
export function packQ8(src: Q8Source, K: number, N: number, name = "matrix"): Uint8Array<ArrayBuffer> {
  const [R, C] = src.shape;
  const [rowsNeed, colsNeed] = src.axis === 1 ? [K, N] : [N, K];
  if (!(Number.isInteger(K) && Number.isInteger(N) && K >= 1 && N >= 1 && rowsNeed <= R && colsNeed <= C)) {
    throw new Q8ShapeError(`${name}: a ${K}x${N} product does not fit its shape [${R},${C}]`);
  }
  if (K > Q8_MAX_K) throw new Q8ShapeError(`${name}: int8 products take K <= ${Q8_MAX_K}, this one has K = ${K}`);
  const Kp = up(K, 4), Np = up(N, 8);
  const out = new Uint8Array(q8Bytes(K, N));
  const dv = new DataView(out.buffer);
  const scalesOff = Q8_HEADER_BYTES + Kp * Np, rOff = scalesOff + 4 * Np, sumsOff = rOff + 4 * Np;
  for (const [i, v] of [[Q8_K, K], [Q8_N, N], [Q8_KP, Kp], [Q8_NP, Np], [Q8_SCALES, scalesOff], [Q8_R, rOff], [Q8_SUMS, sumsOff]]) dv.setInt32(4 * i, v, true);
  const q = src.q, sk = src.axis === 1 ? C : 1, sn = src.axis === 1 ? 1 : C;
  for (let n = 0; n < N; n++) {
    const z = src.zeroPoints[n];
    // column n: panel n >> 3, half (n >> 2) & 1, lane n & 3
    const col = Q8_HEADER_BYTES + (n >> 3) * Kp * 8 + ((n >> 2) & 1) * 16 + (n & 3) * 4;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const v = q[k * sk + n * sn];
      out[col + (k >> 2) * 32 + (k & 3)] = (v - 128) & 255;
      sum += v - z;
    }
    dv.setFloat32(scalesOff + 4 * n, src.scales[n], true);
    dv.setInt32(rOff + 4 * n, 128 - z, true);
    dv.setInt32(sumsOff + 4 * n, sum, true);
  }
  return out;
}
