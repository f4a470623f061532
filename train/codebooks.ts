/**
 * Quantization-aware fine-tuning of K-means matrices (docs/method.md §13): each matrix keeps its
 * assignment of elements to centroids fixed and only the centroids move. After every update the
 * trainer projects each such matrix back onto its codebook: centroid c becomes the mean of the
 * values its elements took, and every element takes its centroid's value. So the forward pass
 * always runs the quantized model, and a centroid moves by the mean of its members' updates (Deep
 * Compression's grouped gradient, with Adam's per-element steps).
 *
 * The trained variables have SuperTransformer shapes; a SubTransformer's matrix is the front slice
 * `[:rows, :cols]` of its variable (runtime/weights.ts sliceSubTensors), so an assignment names its
 * slice and the variable's row length.
 */
import * as tf from "@tensorflow/tfjs";
import { formatShape, shapeSize, type Tensor } from "../runtime/weights.js";
import { packIndices, unpackIndices, type KmeansTensor } from "../runtime/quant.js";

/** One matrix's fixed assignment: element (r, c) of its `[rows, cols]` slice belongs to centroid `index[r·cols + c]`. */
export interface Assignment {
  rows: number;
  cols: number;
  /** Row length of the variable the slice is cut from (>= cols). */
  ld: number;
  /** Centroids: 2^bits. */
  k: number;
  index: Uint8Array;
}

/** Fixed assignments by tensor name (docs/runtime.md names). */
export type Codebooks = ReadonlyMap<string, Assignment>;

/**
 * The assignment of a K-means matrix of a SubTransformer whose variable has shape `superShape`.
 * Throws naming the tensor when the slice does not fit the variable.
 */
export function assignmentOf(name: string, q: KmeansTensor, superShape: readonly number[]): Assignment {
  const [rows, cols] = q.shape.length === 2 ? q.shape : [1, q.shape[0]];
  const ld = superShape.length === 2 ? superShape[1] : superShape[0];
  const superRows = superShape.length === 2 ? superShape[0] : 1;
  if (q.shape.length !== superShape.length || rows > superRows || cols > ld) {
    throw new RangeError(`tensor ${name}: the quantized ${formatShape(q.shape)} is not a front slice of ${formatShape(superShape)}`);
  }
  return { rows, cols, ld, k: q.codebook.length, index: unpackIndices(q.packed, shapeSize(q.shape), q.bits) };
}

/**
 * Project `data` (a variable's values, row length `a.ld`) onto its codebook in place: each
 * centroid the mean of its members, each member its centroid. Returns the centroids (a centroid
 * with no member: NaN, never read back).
 */
export function projectOnto(data: Float32Array, a: Assignment): Float64Array {
  const sum = new Float64Array(a.k), count = new Float64Array(a.k);
  for (let r = 0; r < a.rows; r++) {
    const row = r * a.ld, irow = r * a.cols;
    for (let c = 0; c < a.cols; c++) {
      const j = a.index[irow + c];
      sum[j] += data[row + c];
      count[j]++;
    }
  }
  for (let j = 0; j < a.k; j++) sum[j] = count[j] > 0 ? sum[j] / count[j] : NaN;
  for (let r = 0; r < a.rows; r++) {
    const row = r * a.ld, irow = r * a.cols;
    for (let c = 0; c < a.cols; c++) data[row + c] = sum[a.index[irow + c]];
  }
  return sum;
}

/** Project every variable named in `codebooks` onto its codebook (after an update; at the start). */
export function projectVariables(variables: ReadonlyMap<string, tf.Variable>, codebooks: Codebooks): void {
  for (const [name, a] of codebooks) {
    const v = variables.get(name);
    if (!v) throw new RangeError(`tensor ${name} is quantized but the model has no such variable`);
    const data = Float32Array.from(v.dataSync() as Float32Array);
    projectOnto(data, a);
    tf.tidy(() => v.assign(tf.tensor(data, v.shape, "float32")));
  }
}

/**
 * The K-means matrix a projected compact tensor stands for: its distinct values as the codebook
 * (ascending, as `hat quantize` writes them) and the indices remapped to that order. A centroid
 * that lost every member keeps its old value.
 */
export function kmeansOfProjected(t: Tensor, a: Assignment, old: KmeansTensor): KmeansTensor {
  if (t.data.length !== a.rows * a.cols) throw new RangeError(`a ${formatShape(t.shape)} tensor cannot hold a ${a.rows}x${a.cols} assignment`);
  const values = Float64Array.from(old.codebook);
  const seen = new Uint8Array(a.k);
  for (let i = 0; i < t.data.length; i++) {
    const j = a.index[i];
    if (!seen[j]) { values[j] = t.data[i]; seen[j] = 1; }
  }
  const order = Array.from({ length: a.k }, (_, j) => j).sort((x, y) => values[x] - values[y]);
  const rank = new Uint8Array(a.k);
  order.forEach((j, r) => (rank[j] = r));
  const codebook = Float32Array.from(order, (j) => values[j]);
  const index = new Uint8Array(a.index.length);
  for (let i = 0; i < index.length; i++) index[i] = rank[a.index[i]];
  return { method: "kmeans", bits: old.bits, shape: [...old.shape], codebook, packed: packIndices(index, old.bits) };
}
