/**
 * Weight quantization of a model's matrices (issue 14, 1; docs/runtime.md, "Quantized models"):
 *
 * - **K-means** as in HAT (Table 7): per weight matrix, 2^bits centroids initialised uniformly over
 *   [min, max], at most 300 Lloyd iterations; the file stores the codebook (f32) and one index per
 *   element.
 * - **Linear**: per output channel c an f32 scale s_c and an integer zero point z_c in [0, 2^bits):
 *   w ≈ (q - z_c)·s_c, the channel's range widened to hold 0, so every element is within s_c/2.
 *
 * Indices are packed row-major; 8 bits one per byte, 4 bits two per byte, element 2i in the low
 * nibble of byte i and 2i+1 in the high nibble (an odd count leaves the last high nibble zero).
 *
 * The output channel of a linear weight `[in, out]` (`y = x·W`) is a column (axis 1); of the
 * shared embedding `[V, D]`, which is also the output projection (`logits = h·Eᵀ`), a row (axis 0).
 *
 * A loaded file's matrices are dequantized to f32 (runtime/format.ts), so every host runs a
 * quantized model unchanged; at quant kmeans4/kmeans8 the runtime runs the k-means matrices on
 * their packed indices instead (runtime/kmeans.ts, assembly/kmeans.ts).
 */
import type { Quant } from "./protocol.js";
import { formatShape, shapeSize, type Tensor } from "./weights.js";

export type QuantMethod = "kmeans" | "linear";
export type QuantBits = 4 | 8;
export const QUANT_METHODS: readonly QuantMethod[] = ["kmeans", "linear"];
export const QUANT_BITS: readonly QuantBits[] = [4, 8];
/** HAT's iteration cap for K-means. */
export const KMEANS_MAX_ITERATIONS = 300;

/** A K-means matrix: `codebook[index[i]]` is element i. */
export interface KmeansTensor {
  method: "kmeans";
  bits: QuantBits;
  shape: number[];
  /** 2^bits centroids, ascending. */
  codebook: Float32Array;
  /** Packed indices, `packedBytes(size, bits)` bytes. */
  packed: Uint8Array;
}

/** A linear matrix: element (r, c) is `(q - zeroPoints[ch])·scales[ch]`, ch = r (axis 0) or c (axis 1). */
export interface LinearTensor {
  method: "linear";
  bits: QuantBits;
  shape: number[];
  /** The axis of the output channel: 0 rows, 1 columns. */
  axis: 0 | 1;
  /** One per channel, finite and > 0. */
  scales: Float32Array;
  /** One per channel, in [0, 2^bits). */
  zeroPoints: Uint8Array;
  packed: Uint8Array;
}

export type QuantizedTensor = KmeansTensor | LinearTensor;

/** Bytes of `n` packed `bits`-bit indices. */
export function packedBytes(n: number, bits: QuantBits): number {
  return bits === 8 ? n : Math.ceil(n / 2);
}

/** Pack `n` indices (each < 2^bits). */
export function packIndices(idx: ArrayLike<number>, bits: QuantBits): Uint8Array {
  const n = idx.length, out = new Uint8Array(packedBytes(n, bits));
  if (bits === 8) {
    out.set(idx);
    return out;
  }
  for (let i = 0; i + 1 < n; i += 2) out[i >> 1] = (idx[i] & 15) | ((idx[i + 1] & 15) << 4);
  if (n % 2 === 1) out[n >> 1] = idx[n - 1] & 15;
  return out;
}

/** The `n` indices of `packed`. */
export function unpackIndices(packed: Uint8Array, n: number, bits: QuantBits): Uint8Array {
  if (packed.length !== packedBytes(n, bits)) throw new RangeError(`${n} ${bits}-bit indices take ${packedBytes(n, bits)} bytes, got ${packed.length}`);
  if (bits === 8) return packed.slice();
  const out = new Uint8Array(n);
  for (let i = 0; i + 1 < n; i += 2) {
    const b = packed[i >> 1];
    out[i] = b & 15;
    out[i + 1] = b >> 4;
  }
  if (n % 2 === 1) out[n - 1] = packed[n >> 1] & 15;
  return out;
}

// ---- K-means ------------------------------------------------------------------------------

/** Options of {@link kmeansQuantize}. */
export interface KmeansOptions {
  bits: QuantBits;
  /** Lloyd iterations at most (default 300, HAT's); stops earlier when no centroid moves. */
  maxIterations?: number;
  /** Where the centroids start (default "uniform", HAT's): {@link KmeansInit}. */
  init?: KmeansInit;
}

/**
 * K-means initialisations: "uniform" (HAT's, Deep Compression's "linear": evenly over [min, max],
 * which keeps centroids for the rare large weights), "quantile" (centroid j at the (j + 1/2)/k
 * quantile of the values: where the weights are dense, a lower squared error when they are bell-shaped).
 */
export type KmeansInit = "uniform" | "quantile";
export const KMEANS_INITS: readonly KmeansInit[] = ["uniform", "quantile"];

/** First index in sorted `a` whose value is > x (upper bound). */
function upperBound(a: Float32Array, x: number, lo = 0): number {
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * 1-D K-means of `values` with `k` centroids, initialised uniformly over [min, max] (centroid j at
 * min + j·(max - min)/(k - 1)), exact Lloyd iterations: a value joins its nearest centroid (the
 * lower one on a tie), a centroid moves to its cluster's mean, an empty cluster keeps its centroid.
 * Values are sorted once; each iteration is then O(k log n) by prefix sums over the sorted values.
 * Returns the ascending centroids (float64) and the iterations run.
 */
export function kmeans1d(values: Float32Array, k: number, maxIterations = KMEANS_MAX_ITERATIONS, init: KmeansInit = "uniform"): { centroids: Float64Array; iterations: number } {
  const n = values.length;
  if (n === 0) throw new RangeError("k-means of no values");
  const sorted = Float32Array.from(values).sort();
  const min = sorted[0], max = sorted[n - 1];
  const prefix = new Float64Array(n + 1); // prefix[i] = sum of sorted[0..i)
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i] + sorted[i];
  const c = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    c[j] = init === "quantile" ? sorted[Math.min(n - 1, Math.floor(((j + 0.5) * n) / k))]
      : k === 1 ? (min + max) / 2 : min + (j * (max - min)) / (k - 1);
  }
  let it = 0;
  while (it < maxIterations) {
    it++;
    let moved = false, start = 0;
    for (let j = 0; j < k; j++) {
      // cluster j: values in (b_{j-1}, b_j], b_j the midpoint to the next centroid
      const end = j === k - 1 ? n : upperBound(sorted, (c[j] + c[j + 1]) / 2, start);
      if (end > start) {
        const mean = (prefix[end] - prefix[start]) / (end - start);
        if (mean !== c[j]) { c[j] = mean; moved = true; }
      }
      start = end;
    }
    if (!moved) break;
    c.sort(); // Lloyd keeps 1-D centroids ordered; sorting guards rounding at equal centroids
  }
  return { centroids: c, iterations: it };
}

/** Index of the nearest of ascending `c` to x (the lower one on a tie). */
function nearest(c: Float32Array, x: number): number {
  let lo = 0, hi = c.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= (c[mid] + c[mid + 1]) / 2) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** K-means quantization of one matrix (any shape; the runtime applies it to 2-D weights). */
export function kmeansQuantize(t: Tensor, o: KmeansOptions): KmeansTensor {
  const k = 2 ** o.bits;
  const { centroids } = kmeans1d(t.data, k, o.maxIterations ?? KMEANS_MAX_ITERATIONS, o.init);
  const codebook = Float32Array.from(centroids).sort(); // f32 rounding can only merge neighbours
  const idx = new Uint8Array(t.data.length);
  for (let i = 0; i < idx.length; i++) idx[i] = nearest(codebook, t.data[i]);
  return { method: "kmeans", bits: o.bits, shape: [...t.shape], codebook, packed: packIndices(idx, o.bits) };
}

// ---- linear -------------------------------------------------------------------------------

/** Options of {@link linearQuantize}. */
export interface LinearOptions {
  bits: QuantBits;
  /** Axis of the output channel (default 1: the columns of a `[in, out]` weight). */
  axis?: 0 | 1;
}

/** Linear quantization of a 2-D matrix, one scale and zero point per output channel. */
export function linearQuantize(t: Tensor, o: LinearOptions): LinearTensor {
  if (t.shape.length !== 2) throw new RangeError(`linear quantization needs a 2-D tensor, got shape ${formatShape(t.shape)}`);
  const axis = o.axis ?? 1, [R, C] = t.shape, channels = t.shape[axis], qmax = 2 ** o.bits - 1;
  const lo = new Float64Array(channels), hi = new Float64Array(channels); // ranges widened to hold 0
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const v = t.data[r * C + c], ch = axis === 0 ? r : c;
      if (v < lo[ch]) lo[ch] = v;
      if (v > hi[ch]) hi[ch] = v;
    }
  }
  const scales = new Float32Array(channels), zeroPoints = new Uint8Array(channels);
  for (let ch = 0; ch < channels; ch++) {
    const s = Math.fround((hi[ch] - lo[ch]) / qmax);
    scales[ch] = s > 0 && Number.isFinite(s) ? s : 1; // an all-zero channel: any scale, q = z
    zeroPoints[ch] = Math.min(qmax, Math.max(0, Math.round(-lo[ch] / scales[ch])));
  }
  const idx = new Uint8Array(R * C);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const ch = axis === 0 ? r : c, s = scales[ch];
      idx[r * C + c] = Math.min(qmax, Math.max(0, Math.round(t.data[r * C + c] / s) + zeroPoints[ch]));
    }
  }
  return { method: "linear", bits: o.bits, shape: [R, C], axis, scales, zeroPoints, packed: packIndices(idx, o.bits) };
}

// ---- dequantize ---------------------------------------------------------------------------

/** The f32 matrix a quantized tensor stands for. */
export function dequantize(q: QuantizedTensor): Tensor {
  const n = shapeSize(q.shape), idx = unpackIndices(q.packed, n, q.bits), data = new Float32Array(n);
  if (q.method === "kmeans") {
    for (let i = 0; i < n; i++) data[i] = q.codebook[idx[i]];
  } else {
    const [R, C] = q.shape;
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) {
        const ch = q.axis === 0 ? r : c;
        data[r * C + c] = (idx[r * C + c] - q.zeroPoints[ch]) * q.scales[ch];
      }
    }
  }
  return { shape: [...q.shape], data };
}

// ---- a model's tensors --------------------------------------------------------------------

/** Options of {@link quantizeTensors}. */
export interface QuantizeOptions {
  bits: QuantBits;
  /** Default "kmeans" (HAT's). */
  method?: QuantMethod;
  /** Lloyd iterations at most, k-means only (default 300). */
  maxIterations?: number;
  /** K-means only: where the centroids start (default "uniform", HAT's). */
  init?: KmeansInit;
  /**
   * Bits of the shared embedding `embed.tokens` (default `bits`; 32 keeps it f32). It is the input
   * embedding and the output projection at once: on the demo model 4 bits there cost 1.4 BLEU of
   * the 2.5 that 4 bits everywhere cost (docs/runtime.md).
   */
  embedBits?: QuantBits | 32;
}

/** What {@link quantizeTensors} did. */
export interface QuantizeSummary {
  method: QuantMethod;
  bits: QuantBits;
  /** Bits of the embedding (32: kept f32). */
  embedBits: QuantBits | 32;
  /** Matrices quantized / tensors kept f32 (biases, layer norms). */
  quantized: number;
  kept: number;
  /** Parameters in quantized matrices / in all tensors. */
  quantizedParams: number;
  params: number;
  /** sqrt(Σ(w' - w)² / Σw²) over the quantized matrices. */
  relRmse: number;
}

/** Which tensors are quantized: the 2-D ones (projections, FFN, the embedding). */
export const isQuantizable = (t: Tensor): boolean => t.shape.length === 2;

/** The channel axis of a tensor's linear quantization: rows for the embedding (the output projection), columns otherwise. */
export const channelAxis = (name: string): 0 | 1 => (name === "embed.tokens" ? 0 : 1);

/**
 * Quantize every 2-D tensor of `tensors` (others pass through as f32), in order. Returns the map
 * to hand to encodeModel and a summary with the reconstruction error.
 */
export function quantizeTensors(tensors: ReadonlyMap<string, Tensor>, o: QuantizeOptions): { tensors: Map<string, Tensor | QuantizedTensor>; summary: QuantizeSummary } {
  const method = o.method ?? "kmeans";
  if (!QUANT_METHODS.includes(method)) throw new RangeError(`method must be one of ${QUANT_METHODS.join(", ")}, got ${String(method)}`);
  if (!QUANT_BITS.includes(o.bits)) throw new RangeError(`bits must be one of ${QUANT_BITS.join(", ")}, got ${String(o.bits)}`);
  const embedBits = o.embedBits ?? o.bits;
  if (embedBits !== 32 && !QUANT_BITS.includes(embedBits)) throw new RangeError(`embedBits must be one of ${QUANT_BITS.join(", ")} or 32, got ${String(embedBits)}`);
  const out = new Map<string, Tensor | QuantizedTensor>();
  const s: QuantizeSummary = { method, bits: o.bits, embedBits, quantized: 0, kept: 0, quantizedParams: 0, params: 0, relRmse: 0 };
  let err = 0, ref = 0;
  for (const [name, t] of tensors) {
    s.params += t.data.length;
    const bits = name === "embed.tokens" ? embedBits : o.bits;
    if (!isQuantizable(t) || bits === 32) {
      out.set(name, t);
      s.kept++;
      continue;
    }
    const q = method === "kmeans"
      ? kmeansQuantize(t, { bits, maxIterations: o.maxIterations, init: o.init })
      : linearQuantize(t, { bits, axis: channelAxis(name) });
    const back = dequantize(q).data;
    for (let i = 0; i < back.length; i++) {
      const d = back[i] - t.data[i];
      err += d * d;
      ref += t.data[i] * t.data[i];
    }
    out.set(name, q);
    s.quantized++;
    s.quantizedParams += t.data.length;
  }
  s.relRmse = ref > 0 ? Math.sqrt(err / ref) : Math.sqrt(err);
  return { tensors: out, summary: s };
}

export const isQuantized = (t: Tensor | QuantizedTensor): t is QuantizedTensor => "method" in t;

// ---- a protocol's weight form -------------------------------------------------------------

/**
 * The `hat quantize` form of a protocol quant (runtime/protocol.ts): linear8, kmeans8 and kmeans4
 * are files of that method and bits (every matrix, the embedding included, as `hat quantize
 * --bits B --method M` writes them); f32 and int8 are not quantized files (int8 is products,
 * runtime/int8.ts).
 */
export function quantForm(quant: Quant): { method: QuantMethod; bits: QuantBits } | undefined {
  switch (quant) {
    case "linear8": return { method: "linear", bits: 8 };
    case "kmeans8": return { method: "kmeans", bits: 8 };
    case "kmeans4": return { method: "kmeans", bits: 4 };
    default: return undefined;
  }
}

/**
 * The f32 matrices a model of form `quant` runs (docs/latency.md "Products and threads in the
 * protocol"): every 2-D tensor the file stores in f32 is quantized as `hat quantize` would
 * (quantForm), then dequantized, as the runtime dequantizes a quantized file at load; a tensor the
 * file stores quantized (`quantized`) is run as stored, since its form is the file's own choice
 * (`--embed-bits` included). f32 and int8 return `tensors` unchanged.
 */
export function tensorsOfForm(tensors: ReadonlyMap<string, Tensor>, quant: Quant, quantized?: ReadonlyMap<string, QuantizedTensor>): ReadonlyMap<string, Tensor> {
  if (!quantForm(quant)) return tensors;
  const out = new Map<string, Tensor>();
  for (const [name, t] of tensors) out.set(name, quantized?.has(name) ? t : tensorOfForm(name, t, quant));
  return out;
}

/** One f32 tensor as a file of form `quant` holds it, dequantized (unchanged when 1-D, or for f32 and int8). */
export function tensorOfForm(name: string, t: Tensor, quant: Quant): Tensor {
  const f = quantForm(quant);
  if (!f || !isQuantizable(t)) return t;
  return dequantize(f.method === "kmeans" ? kmeansQuantize(t, { bits: f.bits }) : linearQuantize(t, { bits: f.bits, axis: channelAxis(name) }));
}

/**
 * The protocol quant of a file's stored forms (its header's tensor entries): linear8, kmeans8 or
 * kmeans4 when every quantized matrix but the embedding (whose bits `--embed-bits` may set apart)
 * has that method and bits; f32 for an f32 file or any other mix (linear4: no protocol form, its
 * matrices run as stored at f32 products). What a deployment of the file measures by default.
 */
export function quantOfFile(entries: readonly { name: string; quant?: { method: QuantMethod; bits: QuantBits } }[]): Quant {
  const forms = new Set(entries.filter((e) => e.quant && e.name !== "embed.tokens").map((e) => `${e.quant!.method}${e.quant!.bits}`));
  const embed = entries.find((e) => e.name === "embed.tokens")?.quant;
  if (forms.size === 0 && embed) forms.add(`${embed.method}${embed.bits}`);
  const [only] = forms;
  return forms.size === 1 && (only === "linear8" || only === "kmeans8" || only === "kmeans4") ? only : "f32";
}
