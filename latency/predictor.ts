/**
 * A fitted latency predictor: HAT's MLP (docs/method.md §5) over normalised architecture
 * features, beside a linear skip path (least squares), with its normalisation, the device its data
 * was measured on and the space it was fitted for, saved as one small JSON file.
 *
 *   ms[o] = linear.b[o] + sum_k linear.w[o][k] z[k]  +  mlp(z)[o] * target.std[o] + target.mean[o]
 *   z[k]  = (x[k] - features.mean[k]) / features.std[k]
 *
 * The MLP models what the least-squares fit leaves (fit.ts says why); o runs over the outputs,
 * the total latency or the encoder and decoder latencies, which are summed. Prediction is plain JavaScript over Float64Arrays (no
 * tfjs: the search imports this file and predicts for 100,000+ architectures a second); training
 * is in ./fit.ts.
 *
 * Shapes: N architectures, K features, H hidden units, O outputs (1: total latency; 2: encoder
 * and decoder latencies, summed).
 *
 * Predictions are clamped from below, output by output: ms[o] = max(ms[o], floor.ms[o]), where the
 * fit sets floor.ms[o] to FLOOR_FRACTION of the smallest value of output o in its training rows
 * (fit.ts; docs/latency.md says why a half): a prediction is never negative, and never far below
 * anything the device was seen to do, however the linear part or the MLP extrapolates.
 *
 * The file (FORMAT, version 2; version 1 files still load):
 *   { format, version, device, space?, protocol? (runtime/protocol.ts, its build inside; older files
 *     have a top-level build and protocols without the later fields, read as UNRECORDED_DEFAULTS),
 *     model: "linear" | "mlp",                                     // version 1: always "mlp"
 *     features: { kind, maxEncoderLayers, maxDecoderLayers, names[K], mean[K], std[K], min[K], max[K] },
 *     linear: { w[O][K], b[O] },                                   // on z (normalised features)
 *     target: { kind: "total" | "split", mean[O], std[O] },       // of the MLP's output (the residual)
 *     floor: { fraction, ms[O] },                                  // version 1: none, read as ms 0 (never negative)
 *     mlp: { sizes: [K, H1, ..., O], activation: "relu", layers: [{ w, b }] },   // only with model "mlp"
 *          // w: [in, out] row-major and b: [out], float32 little-endian, base64
 *     fit: { ... the fit's report }, testSet: { measured[], predicted[] } }
 * A "linear" predictor is the linear part alone (fit.ts keeps the MLP only where it beats it).
 * Every problem with a file is a PredictorError naming the field.
 */
import { readFile } from "node:fs/promises";
import { validateSpace } from "../runtime/arch.js";
import { ArchError } from "../runtime/arch-error.js";
import type { Arch, Space } from "../runtime/types.js";
import { ProtocolError, readProtocol, type Protocol } from "../runtime/protocol.js";
import type { DeviceInfo, LatencyRow } from "./dataset.js";
import { checkInSpace, encodeArch, encodeRow, featureCount, featureNames, FEATURE_KINDS, type FeatureKind, type FeatureSpec } from "./features.js";
import { InputError } from "../runtime/errors.js";

export class PredictorError extends InputError {
  override name = "PredictorError";
}

export const PREDICTOR_FORMAT = "hat-edge/latency-predictor";
export const PREDICTOR_VERSION = 2;
/** Versions this build reads (1: before `model` and `floor`). */
export const PREDICTOR_VERSIONS_READ: readonly number[] = [1, 2];

/** The fit's floor: this fraction of the smallest latency (per output) of its training rows. */
export const FLOOR_FRACTION = 0.5;

/** "mlp": the linear part plus HAT's MLP on its residual; "linear": the linear part alone. */
export type ModelKind = "linear" | "mlp";

export type TargetKind = "total" | "split";

/** What a Predictor is made of (fit.ts builds one; fromJSON reads one). */
export interface PredictorParts {
  device: DeviceInfo | string;
  space?: Space;
  protocol?: Protocol;
  features: FeatureSpec & { mean: number[]; std: number[]; min: number[]; max: number[] };
  /** The least-squares part, on normalised features: w [O][K], b [O]. Absent: none (a plain MLP, as HAT's). */
  linear?: { w: number[][]; b: number[] };
  /** Normalisation of the MLP's outputs (the residual of the linear part), per output. */
  target: { kind: TargetKind; mean: number[]; std: number[] };
  /** Default: "linear" when `weights` is empty, else "mlp". "linear": sizes [K, O] and no weights (the MLP is not used). */
  model?: ModelKind;
  /** Per-output lower bound of predictions (ms). Absent: 0 (an older file). */
  floor?: { fraction: number; ms: number[] };
  /** sizes [K, H1, ..., O]; layer l: w [sizes[l], sizes[l+1]] row-major, b [sizes[l+1]]. */
  sizes: number[];
  weights: { w: Float32Array; b: Float32Array }[];
  fit?: Record<string, unknown>;
  testSet: { measured: number[]; predicted: number[] };
}

/** Rows per block of the forward pass: the activations of a block stay in cache. */
const BLOCK = 256;

export class Predictor {
  readonly device: DeviceInfo | string;
  readonly space?: Space;
  readonly protocol?: Protocol;
  readonly features: PredictorParts["features"];
  readonly target: PredictorParts["target"];
  readonly linear: NonNullable<PredictorParts["linear"]>;
  readonly sizes: readonly number[];
  readonly model: ModelKind;
  readonly floor: { fraction: number; ms: number[] };
  readonly fit?: Record<string, unknown>;
  readonly testSet: { measured: number[]; predicted: number[] };
  private readonly weights: PredictorParts["weights"];
  /** Per layer: weights transposed to [out, in] in float64; the first layer has the feature normalisation folded in. */
  private readonly wt: Float64Array[];
  private readonly bias: Float64Array[];
  /** The linear part on raw features (normalisation folded in): lw [O, K], lb [O]. */
  private readonly lw: Float64Array;
  private readonly lb: Float64Array;
  private readonly spec: FeatureSpec;
  private readonly K: number;
  private readonly O: number;
  private readonly bufA: Float64Array;
  private readonly bufB: Float64Array;
  private readonly lin: Float64Array;

  constructor(p: PredictorParts) {
    this.device = p.device;
    this.space = p.space;
    this.protocol = p.protocol;
    this.features = p.features;
    this.target = p.target;
    this.O = p.sizes[p.sizes.length - 1];
    this.K = p.sizes[0];
    this.linear = p.linear ?? { w: Array.from({ length: this.O }, () => new Array<number>(this.K).fill(0)), b: new Array<number>(this.O).fill(0) };
    this.model = p.model ?? (p.weights.length === 0 ? "linear" : "mlp"); // parts without layers: the linear part alone
    this.sizes = this.model === "linear" ? [this.K, this.O] : p.sizes;
    this.floor = p.floor ?? { fraction: 0, ms: new Array<number>(this.O).fill(0) };
    if (this.floor.ms.length !== this.O || this.floor.ms.some((v) => !(v >= 0))) throw new PredictorError(`floor.ms: expected ${this.O} values >= 0`);
    this.fit = p.fit;
    this.testSet = p.testSet;
    this.weights = p.weights;
    this.spec = { kind: p.features.kind, maxEncoderLayers: p.features.maxEncoderLayers, maxDecoderLayers: p.features.maxDecoderLayers };
    this.lw = new Float64Array(this.O * this.K);
    this.lb = Float64Array.from(this.linear.b);
    for (let o = 0; o < this.O; o++) {
      for (let k = 0; k < this.K; k++) {
        const w = this.linear.w[o][k] / p.features.std[k];
        this.lw[o * this.K + k] = w;
        this.lb[o] -= w * p.features.mean[k];
      }
    }
    this.wt = [];
    this.bias = [];
    if (this.model === "linear") this.weights = [];
    this.weights.forEach(({ w, b }, l) => {
      const nIn = p.sizes[l], nOut = p.sizes[l + 1];
      const wt = new Float64Array(nIn * nOut), bb = Float64Array.from(b);
      for (let k = 0; k < nIn; k++) {
        // layer 0 sees raw features: (x - mean) / std folded into its weights and bias
        const s = l === 0 ? 1 / p.features.std[k] : 1;
        for (let j = 0; j < nOut; j++) {
          wt[j * nIn + k] = w[k * nOut + j] * s;
          if (l === 0) bb[j] -= w[k * nOut + j] * s * p.features.mean[k];
        }
      }
      this.wt.push(wt);
      this.bias.push(bb);
    });
    const widest = Math.max(...this.sizes);
    this.bufA = new Float64Array(BLOCK * widest);
    this.bufB = new Float64Array(BLOCK * widest);
    this.lin = new Float64Array(BLOCK * this.O);
  }

  /** Number of features the predictor reads, and their names. */
  get featureNames(): string[] {
    return featureNames(this.spec);
  }

  /**
   * Total latency (encoder + decoder, ms) of each architecture. Each must be in the predictor's
   * space (ArchError otherwise); without a space, its features must lie in the training range.
   */
  predict(archs: readonly Arch[]): Float64Array {
    return this.run(archs.length, (i, x, off) => this.encode(archs[i], i, x, off)).total;
  }

  /** Encoder and decoder latencies (ms) apart (undefined for a "total" predictor), and their sum. */
  predictParts(archs: readonly Arch[]): { total: Float64Array; encoder?: Float64Array; decoder?: Float64Array } {
    return this.run(archs.length, (i, x, off) => this.encode(archs[i], i, x, off));
  }

  /** Checked features of architecture i at x[off..]. */
  private encode(a: Arch, i: number, x: Float64Array, off: number): void {
    if (this.space) {
      this.checkArch(a, i);
      encodeArch(a, this.spec, x, off);
      return;
    }
    try {
      for (const [k, n] of [["encoderFfnDims", a.encoderLayers], ["encoderHeads", a.encoderLayers], ["decoderFfnDims", a.decoderLayers], ["decoderSelfHeads", a.decoderLayers], ["decoderCrossHeads", a.decoderLayers], ["decoderEndeLayers", a.decoderLayers]] as const) {
        if (!Array.isArray(a[k]) || a[k].length !== n) throw new ArchError(k, `expected ${n} entries (one per layer)`);
      }
      encodeArch(a, this.spec, x, off);
    } catch (e) {
      if (e instanceof ArchError) throw new ArchError(e.field, e.detail, `architecture ${i}`);
      throw new ArchError("", `not an architecture (${(e as Error).message})`, `architecture ${i}`);
    }
    this.checkRange(x, off, `architecture ${i}`); // also catches NaN from missing or non-numeric entries
  }

  /** Total latency (ms) of dataset rows: their 10 features (or their arch, for "layers" predictors). */
  predictRows(rows: readonly LatencyRow[]): Float64Array {
    return this.run(rows.length, (i, x, off) => {
      const f = encodeRow(rows[i], this.spec);
      for (let k = 0; k < this.K; k++) x[off + k] = f[k];
    }).total;
  }

  /** Encoder and decoder latencies (ms) of dataset rows apart (undefined for a "total" predictor), and their sum (./transfer.ts uses the parts). */
  predictRowsParts(rows: readonly LatencyRow[]): { total: Float64Array; encoder?: Float64Array; decoder?: Float64Array } {
    return this.run(rows.length, (i, x, off) => {
      const f = encodeRow(rows[i], this.spec);
      for (let k = 0; k < this.K; k++) x[off + k] = f[k];
    });
  }

  private checkArch(a: Arch, i: number): void {
    try {
      checkInSpace(a, this.space!);
    } catch (e) {
      if (e instanceof ArchError) throw new ArchError(e.field, e.detail, `architecture ${i}`);
      throw e;
    }
  }

  private checkRange(x: Float64Array, off: number, what: string): void {
    const { min, max } = this.features;
    for (let k = 0; k < this.K; k++) {
      const v = x[off + k], tol = 1e-9 * Math.max(1, Math.abs(max[k]));
      if (!(v >= min[k] - tol && v <= max[k] + tol)) {
        throw new ArchError(this.featureNames[k], `${v} is outside the range the predictor was trained on [${min[k]}, ${max[k]}] (it has no space to check against)`, what);
      }
    }
  }

  /** The forward pass in blocks of BLOCK rows; `fill(i, x, off)` writes row i's raw features at x[off..]. */
  private run(n: number, fill: (i: number, x: Float64Array, off: number) => void): { total: Float64Array; encoder?: Float64Array; decoder?: Float64Array } {
    const K = this.K, O = this.O, L = this.wt.length;
    const total = new Float64Array(n);
    const encoder = O === 2 ? new Float64Array(n) : undefined;
    const decoder = O === 2 ? new Float64Array(n) : undefined;
    const { mean, std } = this.target;
    const lin = this.lin, lw = this.lw, lb = this.lb, floor = this.floor.ms;
    for (let r0 = 0; r0 < n; r0 += BLOCK) {
      const m = Math.min(BLOCK, n - r0);
      let cur = this.bufA, nxt = this.bufB;
      for (let r = 0; r < m; r++) fill(r0 + r, cur, r * K);
      // the linear part, on the raw features
      for (let r = 0; r < m; r++) {
        for (let o = 0; o < O; o++) {
          let s = lb[o];
          for (let k = 0; k < K; k++) s += lw[o * K + k] * cur[r * K + k];
          lin[r * O + o] = s;
        }
      }
      if (L === 0) {
        // a linear predictor: the linear part alone, then the floor
        for (let r = 0; r < m; r++) {
          if (O === 1) total[r0 + r] = Math.max(lin[r], floor[0]);
          else {
            const e = Math.max(lin[2 * r], floor[0]), d = Math.max(lin[2 * r + 1], floor[1]);
            encoder![r0 + r] = e;
            decoder![r0 + r] = d;
            total[r0 + r] = e + d;
          }
        }
        continue;
      }
      for (let l = 0; l < L; l++) {
        denseLayer(nxt, cur, this.wt[l], this.bias[l], m, this.sizes[l], this.sizes[l + 1], l + 1 < L);
        const t = cur; cur = nxt; nxt = t;
      }
      for (let r = 0; r < m; r++) {
        if (O === 1) total[r0 + r] = Math.max(lin[r] + cur[r] * std[0] + mean[0], floor[0]);
        else {
          const e = Math.max(lin[2 * r] + cur[2 * r] * std[0] + mean[0], floor[0]), d = Math.max(lin[2 * r + 1] + cur[2 * r + 1] * std[1] + mean[1], floor[1]);
          encoder![r0 + r] = e;
          decoder![r0 + r] = d;
          total[r0 + r] = e + d;
        }
      }
    }
    return { total, encoder, decoder };
  }

  /** What the predictor is made of (a copy of the lists; ./transfer.ts rewrites a prior's). */
  toParts(): PredictorParts {
    return {
      device: this.device, space: this.space, protocol: this.protocol, features: this.features,
      linear: { w: this.linear.w.map((r) => [...r]), b: [...this.linear.b] }, target: this.target, sizes: [...this.sizes],
      weights: this.weights.map(({ w, b }) => ({ w: w.slice(), b: b.slice() })), fit: this.fit, testSet: this.testSet,
      model: this.model, floor: { fraction: this.floor.fraction, ms: [...this.floor.ms] },
    };
  }

  toJSON(): object {
    return {
      format: PREDICTOR_FORMAT,
      version: PREDICTOR_VERSION,
      device: this.device,
      ...(this.space ? { space: this.space } : {}),
      ...(this.protocol ? { protocol: this.protocol } : {}),
      model: this.model,
      features: { ...this.features, names: this.featureNames },
      linear: this.linear,
      target: this.target,
      floor: this.floor,
      ...(this.model === "mlp" ? {
        mlp: {
          sizes: this.sizes,
          activation: "relu",
          layers: this.weights.map(({ w, b }) => ({ w: f32ToBase64(w), b: f32ToBase64(b) })),
        },
      } : {}),
      ...(this.fit ? { fit: this.fit } : {}),
      testSet: this.testSet,
    };
  }

  /** Read a predictor object (JSON.parse of a file); every field is checked. */
  static fromJSON(obj: unknown): Predictor {
    return new Predictor(readParts(obj));
  }

  static async load(path: string): Promise<Predictor> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      throw new PredictorError(`${path}: cannot read (${(e as Error).message})`);
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new PredictorError(`${path}: not a predictor file: malformed JSON (${(e as Error).message})${text.length > 0 && !text.trimEnd().endsWith("}") ? "; the file looks truncated" : ""}`);
    }
    try {
      return Predictor.fromJSON(obj);
    } catch (e) {
      if (e instanceof PredictorError) throw new PredictorError(`${path}: ${e.message}`);
      throw e;
    }
  }
}

/**
 * y[m, N] = act(x[m, K] W + b), W given transposed as wt [N, K]. Register blocking: 4 rows x 2
 * outputs per pass over k (8 independent accumulators; each weight load serves 4 rows, each input
 * load 2 outputs): about 3x a plain triple loop in V8. Then the leftover column and rows.
 */
function denseLayer(y: Float64Array, x: Float64Array, wt: Float64Array, b: Float64Array, m: number, K: number, N: number, relu: boolean): void {
  let r = 0;
  for (; r + 4 <= m; r += 4) {
    const x0 = r * K, x1 = x0 + K, x2 = x1 + K, x3 = x2 + K;
    let j = 0;
    for (; j + 2 <= N; j += 2) {
      const wa = j * K, wb = wa + K;
      let a0 = b[j], a1 = a0, a2 = a0, a3 = a0;
      let c0 = b[j + 1], c1 = c0, c2 = c0, c3 = c0;
      for (let k = 0; k < K; k++) {
        const u = wt[wa + k], v = wt[wb + k];
        const p0 = x[x0 + k], p1 = x[x1 + k], p2 = x[x2 + k], p3 = x[x3 + k];
        a0 += p0 * u; a1 += p1 * u; a2 += p2 * u; a3 += p3 * u;
        c0 += p0 * v; c1 += p1 * v; c2 += p2 * v; c3 += p3 * v;
      }
      if (relu) {
        a0 = a0 > 0 ? a0 : 0; a1 = a1 > 0 ? a1 : 0; a2 = a2 > 0 ? a2 : 0; a3 = a3 > 0 ? a3 : 0;
        c0 = c0 > 0 ? c0 : 0; c1 = c1 > 0 ? c1 : 0; c2 = c2 > 0 ? c2 : 0; c3 = c3 > 0 ? c3 : 0;
      }
      const yo = r * N + j;
      y[yo] = a0; y[yo + 1] = c0;
      y[yo + N] = a1; y[yo + N + 1] = c1;
      y[yo + 2 * N] = a2; y[yo + 2 * N + 1] = c2;
      y[yo + 3 * N] = a3; y[yo + 3 * N + 1] = c3;
    }
    for (; j < N; j++) {
      const wa = j * K;
      let a0 = b[j], a1 = a0, a2 = a0, a3 = a0;
      for (let k = 0; k < K; k++) {
        const u = wt[wa + k];
        a0 += x[x0 + k] * u; a1 += x[x1 + k] * u; a2 += x[x2 + k] * u; a3 += x[x3 + k] * u;
      }
      if (relu) { a0 = a0 > 0 ? a0 : 0; a1 = a1 > 0 ? a1 : 0; a2 = a2 > 0 ? a2 : 0; a3 = a3 > 0 ? a3 : 0; }
      const yo = r * N + j;
      y[yo] = a0; y[yo + N] = a1; y[yo + 2 * N] = a2; y[yo + 3 * N] = a3;
    }
  }
  for (; r < m; r++) {
    const x0 = r * K;
    for (let j = 0; j < N; j++) {
      let s = b[j];
      const wo = j * K;
      for (let k = 0; k < K; k++) s += x[x0 + k] * wt[wo + k];
      y[r * N + j] = relu && s < 0 ? 0 : s;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The file

export function f32ToBase64(a: Float32Array): string {
  const le = new Uint8Array(a.length * 4);
  const dv = new DataView(le.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i], true);
  return Buffer.from(le).toString("base64");
}

function base64ToF32(s: string, n: number, field: string): Float32Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new PredictorError(`${field}: not base64`);
  const bytes = Buffer.from(s, "base64");
  if (bytes.length !== n * 4) throw new PredictorError(`${field}: ${bytes.length} bytes, expected ${n * 4} (${n} float32 values)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = dv.getFloat32(i * 4, true);
    if (!Number.isFinite(out[i])) throw new PredictorError(`${field}[${i}] is not finite`);
  }
  return out;
}

type Rec = Record<string, unknown>;

function rec(v: unknown, field: string): Rec {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PredictorError(`${field}: expected an object`);
  return v as Rec;
}

function nums(v: unknown, field: string, n?: number): number[] {
  if (!Array.isArray(v)) throw new PredictorError(`${field}: expected a list of numbers`);
  if (n !== undefined && v.length !== n) throw new PredictorError(`${field}: ${v.length} values, expected ${n}`);
  v.forEach((x, i) => {
    if (typeof x !== "number" || !Number.isFinite(x)) throw new PredictorError(`${field}[${i}]: ${JSON.stringify(x)} is not a finite number`);
  });
  return v as number[];
}

function posInt(v: unknown, field: string, min = 1): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new PredictorError(`${field}: ${JSON.stringify(v)} is not an integer >= ${min}`);
  return v;
}

function readDevice(v: unknown): DeviceInfo | string {
  if (typeof v === "string" && v.length > 0) return v;
  const d = rec(v, "device");
  if (typeof d.cpu !== "string" || typeof d.arch !== "string" || typeof d.platform !== "string") throw new PredictorError("device: expected { cpu, cores, arch, platform } or a name");
  return { cpu: d.cpu, cores: posInt(d.cores, "device.cores"), arch: d.arch, platform: d.platform };
}

function readParts(obj: unknown): PredictorParts {
  const o = rec(obj, "predictor");
  if (o.format !== PREDICTOR_FORMAT) throw new PredictorError(`not a latency predictor (format ${JSON.stringify(o.format)}, expected "${PREDICTOR_FORMAT}")`);
  if (!PREDICTOR_VERSIONS_READ.includes(o.version as number)) throw new PredictorError(`version ${JSON.stringify(o.version)} is not supported (this build reads versions ${PREDICTOR_VERSIONS_READ.join(" and ")})`);
  const model = (o.version === 1 ? "mlp" : o.model) as ModelKind;
  if (model !== "mlp" && model !== "linear") throw new PredictorError(`model: ${JSON.stringify(o.model)} is not "linear" or "mlp"`);
  const device = readDevice(o.device);
  let space: Space | undefined;
  if (o.space !== undefined) {
    try {
      space = validateSpace(o.space);
    } catch (e) {
      throw new PredictorError(`space: ${(e as Error).message}`);
    }
  }
  if (o.build !== undefined && typeof o.build !== "string") throw new PredictorError("build: expected a string");
  let protocol: Protocol | undefined;
  if (o.protocol !== undefined) {
    try {
      protocol = readProtocol(rec(o.protocol, "protocol"), o.build === undefined ? {} : { build: o.build as string }); // an older file's build sits beside it
    } catch (e) {
      if (e instanceof ProtocolError) throw new PredictorError(`protocol.${e.message}`);
      throw e;
    }
  }

  const f = rec(o.features, "features");
  if (!FEATURE_KINDS.includes(f.kind as FeatureKind)) throw new PredictorError(`features.kind: ${JSON.stringify(f.kind)} is not one of ${FEATURE_KINDS.join(", ")}`);
  const spec: FeatureSpec = {
    kind: f.kind as FeatureKind,
    maxEncoderLayers: posInt(f.maxEncoderLayers, "features.maxEncoderLayers", 0),
    maxDecoderLayers: posInt(f.maxDecoderLayers, "features.maxDecoderLayers", 0),
  };
  const K = featureCount(spec);
  const features = {
    ...spec, mean: nums(f.mean, "features.mean", K), std: nums(f.std, "features.std", K), min: nums(f.min, "features.min", K), max: nums(f.max, "features.max", K),
  };
  features.std.forEach((s, i) => { if (!(s > 0)) throw new PredictorError(`features.std[${i}]: ${s} is not positive`); });

  const t = rec(o.target, "target");
  if (t.kind !== "total" && t.kind !== "split") throw new PredictorError(`target.kind: ${JSON.stringify(t.kind)} is not "total" or "split"`);
  const O = t.kind === "total" ? 1 : 2;
  const target = { kind: t.kind as TargetKind, mean: nums(t.mean, "target.mean", O), std: nums(t.std, "target.std", O) };
  target.std.forEach((s, i) => { if (!(s > 0)) throw new PredictorError(`target.std[${i}]: ${s} is not positive`); });

  let linear: PredictorParts["linear"];
  if (o.linear !== undefined) {
    const lrec = rec(o.linear, "linear");
    if (!Array.isArray(lrec.w) || lrec.w.length !== O) throw new PredictorError(`linear.w: expected ${O} rows of ${K} weights`);
    linear = { w: lrec.w.map((row, i) => nums(row, `linear.w[${i}]`, K)), b: nums(lrec.b, "linear.b", O) };
  }

  let floor: PredictorParts["floor"];
  if (o.floor !== undefined) {
    const fl = rec(o.floor, "floor");
    if (typeof fl.fraction !== "number" || !(fl.fraction >= 0 && fl.fraction <= 1)) throw new PredictorError(`floor.fraction: ${JSON.stringify(fl.fraction)} is not a number in [0, 1]`);
    floor = { fraction: fl.fraction, ms: nums(fl.ms, "floor.ms", O) };
    floor.ms.forEach((v, i) => { if (v < 0) throw new PredictorError(`floor.ms[${i}]: ${v} is negative`); });
  } else if (o.version !== 1) throw new PredictorError("floor: missing (version 2 files have one)");

  if (model === "linear") {
    if (linear === undefined) throw new PredictorError('linear: missing, and model is "linear"');
    if (o.mlp !== undefined) throw new PredictorError('mlp: present, but model is "linear"');
  }
  const m = model === "mlp" ? rec(o.mlp, "mlp") : { activation: "relu", sizes: [K, O], layers: [] as unknown[] };
  if (m.activation !== "relu") throw new PredictorError(`mlp.activation: ${JSON.stringify(m.activation)} (only "relu")`);
  if (!Array.isArray(m.sizes) || m.sizes.length < 2) throw new PredictorError("mlp.sizes: expected [inputs, hidden..., outputs]");
  const sizes = m.sizes.map((s, i) => posInt(s, `mlp.sizes[${i}]`));
  if (sizes[0] !== K) throw new PredictorError(`mlp.sizes[0] is ${sizes[0]} but the ${spec.kind} features are ${K}`);
  if (sizes[sizes.length - 1] !== O) throw new PredictorError(`mlp.sizes ends with ${sizes[sizes.length - 1]} outputs but target.kind ${t.kind} needs ${O}`);
  if (!Array.isArray(m.layers) || m.layers.length !== (model === "mlp" ? sizes.length - 1 : 0)) throw new PredictorError(`mlp.layers: expected ${sizes.length - 1} layers`);
  const weights = m.layers.map((l, i) => {
    const r = rec(l, `mlp.layers[${i}]`);
    if (typeof r.w !== "string" || typeof r.b !== "string") throw new PredictorError(`mlp.layers[${i}]: w and b must be base64 strings`);
    return { w: base64ToF32(r.w, sizes[i] * sizes[i + 1], `mlp.layers[${i}].w`), b: base64ToF32(r.b, sizes[i + 1], `mlp.layers[${i}].b`) };
  });

  const ts = rec(o.testSet, "testSet");
  const measured = nums(ts.measured, "testSet.measured");
  const predicted = nums(ts.predicted, "testSet.predicted", measured.length);
  const fit = o.fit === undefined ? undefined : rec(o.fit, "fit");
  if (space && spec.kind === "layers") {
    if (spec.maxEncoderLayers < Math.max(...space.encoderLayerChoices) || spec.maxDecoderLayers < Math.max(...space.decoderLayerChoices)) {
      throw new PredictorError("features: fewer layer slots than the space's largest layer counts");
    }
  }
  return { device, space, protocol, features, linear, target, model, floor, sizes, weights, fit, testSet: { measured, predicted } };
}
