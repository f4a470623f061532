/**
 * Named f32 tensors of a SuperTransformer or a compact SubTransformer (docs/runtime.md, "Weight
 * layout"): their shapes, seeded random initialisation, and the export of a SubTransformer as the
 * front slices of its SuperTransformer's tensors.
 *
 * Every linear weight is row-major `[in, out]` (`y = x · W + b`); a SubTransformer uses the front
 * slice `W[:in, :out]`, so a compact model stores exactly that slice and runs through the same code.
 *
 * Shape letters (runtime/types.ts): V vocabulary, De / Dd encoder / decoder embed dim,
 * Demb = max(De, Dd) the shared embedding's width, F a layer's FFN dim, Q the q/k/v width.
 */
import type { Arch, Space } from "./types.js";

/** One tensor: row-major f32 data of `shape` (`data.length` = product of `shape`). */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** A model's tensors by name, in a stable (insertion) order. */
export type TensorMap = Map<string, Tensor>;

/** Tensor name -> shape. */
export type ShapeMap = Map<string, number[]>;

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** `[640, 2048]`: a shape as error messages print it. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** The dims one model's tensors are built from: per-layer FFN dims, every other dim fixed. */
interface LayoutDims {
  V: number;
  Demb: number;
  De: number;
  Dd: number;
  Q: number;
  encFfn: number[]; // one F per encoder layer
  decFfn: number[]; // one F per decoder layer
}

/** Self-attention tensors `${p}.${block}.{q,k,v,o}.{w,b}` of a layer of width D. */
function addSelfAttn(m: ShapeMap, p: string, block: string, D: number, Q: number): void {
  m.set(`${p}.${block}.q.w`, [D, Q]).set(`${p}.${block}.q.b`, [Q]);
  m.set(`${p}.${block}.k.w`, [D, Q]).set(`${p}.${block}.k.b`, [Q]);
  m.set(`${p}.${block}.v.w`, [D, Q]).set(`${p}.${block}.v.b`, [Q]);
  m.set(`${p}.${block}.o.w`, [Q, D]).set(`${p}.${block}.o.b`, [D]);
}

function addLn(m: ShapeMap, name: string, D: number): void {
  m.set(`${name}.g`, [D]).set(`${name}.b`, [D]);
}

function addFfn(m: ShapeMap, p: string, D: number, F: number): void {
  m.set(`${p}.ffn.fc1.w`, [D, F]).set(`${p}.ffn.fc1.b`, [F]);
  m.set(`${p}.ffn.fc2.w`, [F, D]).set(`${p}.ffn.fc2.b`, [D]);
}

/** Every tensor of the layout, in file order: embedding, encoder layers, decoder layers. */
function layoutShapes(d: LayoutDims): ShapeMap {
  const m: ShapeMap = new Map();
  m.set("embed.tokens", [d.V, d.Demb]);
  d.encFfn.forEach((F, i) => {
    const p = `enc.${i}`;
    addSelfAttn(m, p, "self", d.De, d.Q);
    addLn(m, `${p}.self_ln`, d.De);
    addFfn(m, p, d.De, F);
    addLn(m, `${p}.ffn_ln`, d.De);
  });
  d.decFfn.forEach((F, i) => {
    const p = `dec.${i}`;
    addSelfAttn(m, p, "self", d.Dd, d.Q);
    addLn(m, `${p}.self_ln`, d.Dd);
    // Cross attention: queries from the decoder (Dd), keys/values from encoder outputs (De).
    m.set(`${p}.cross.q.w`, [d.Dd, d.Q]).set(`${p}.cross.q.b`, [d.Q]);
    m.set(`${p}.cross.k.w`, [d.De, d.Q]).set(`${p}.cross.k.b`, [d.Q]);
    m.set(`${p}.cross.v.w`, [d.De, d.Q]).set(`${p}.cross.v.b`, [d.Q]);
    m.set(`${p}.cross.o.w`, [d.Q, d.Dd]).set(`${p}.cross.o.b`, [d.Dd]);
    addLn(m, `${p}.cross_ln`, d.Dd);
    addFfn(m, p, d.Dd, F);
    addLn(m, `${p}.ffn_ln`, d.Dd);
  });
  return m;
}

function checkDim(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
  return v;
}

function maxOf(what: string, xs: readonly number[]): number {
  if (!Array.isArray(xs) || xs.length === 0) throw new RangeError(`${what} must be a non-empty list`);
  return checkDim(`max of ${what}`, Math.max(...xs));
}

/**
 * Tensor shapes of the SuperTransformer of `space`: the largest choice of every dim,
 * `max(encoderLayerChoices)` encoder layers and `max(decoderLayerChoices)` decoder layers,
 * embedding `[V, max(De, Dd)]`.
 */
export function superTensorShapes(space: Space, vocabSize: number): ShapeMap {
  const De = maxOf("encoderEmbedChoices", space.encoderEmbedChoices);
  const Dd = maxOf("decoderEmbedChoices", space.decoderEmbedChoices);
  const Fe = maxOf("encoderFfnChoices", space.encoderFfnChoices);
  const Fd = maxOf("decoderFfnChoices", space.decoderFfnChoices);
  const Le = maxOf("encoderLayerChoices", space.encoderLayerChoices);
  const Ld = maxOf("decoderLayerChoices", space.decoderLayerChoices);
  return layoutShapes({
    V: checkDim("vocabSize", vocabSize), Demb: Math.max(De, Dd), De, Dd, Q: checkDim("qkvDim", space.qkvDim),
    encFfn: new Array<number>(Le).fill(Fe), decFfn: new Array<number>(Ld).fill(Fd),
  });
}

/**
 * The compact tensor shapes a SubTransformer `arch` needs: its own dims, its layers only, each
 * layer's own FFN dim. The shared embedding is `[V, embedDim]`, `embedDim` defaulting to (and at
 * least) `max(De, Dd)`. These are also the minimum shapes a model file must hold to run `arch`.
 */
export function archTensorShapes(arch: Arch, vocabSize: number, embedDim?: number): ShapeMap {
  const De = checkDim("encoderEmbedDim", arch.encoderEmbedDim);
  const Dd = checkDim("decoderEmbedDim", arch.decoderEmbedDim);
  const Demb = embedDim ?? Math.max(De, Dd);
  if (!Number.isInteger(Demb) || Demb < Math.max(De, Dd)) {
    throw new RangeError(`embedDim ${Demb} must be an integer >= max(De, Dd) = ${Math.max(De, Dd)}`);
  }
  const layers = (what: string, n: number, ffn: number[]): number[] => {
    checkDim(what, n);
    if (ffn.length < n) throw new RangeError(`arch has ${n} ${what} but only ${ffn.length} FFN dims`);
    return ffn.slice(0, n).map((F, i) => checkDim(`${what} FFN dim of layer ${i}`, F));
  };
  return layoutShapes({
    V: checkDim("vocabSize", vocabSize), Demb, De, Dd, Q: checkDim("qkvDim", arch.qkvDim),
    encFfn: layers("encoderLayers", arch.encoderLayers, arch.encoderFfnDims),
    decFfn: layers("decoderLayers", arch.decoderLayers, arch.decoderFfnDims),
  });
}

// ---- seeded random weights ----------------------------------------------------------------

/**
 * mulberry32 draws, written out in the fill loops below (a closure per draw is ~5x slower on a
 * 90M-parameter SuperTransformer): state `a`, output mapped to (0, 1), never exactly 0 or 0.5.
 */
const MUL_STEP = 0x6d2b79f5;
const TWO_POW_32 = 4294967296;

/** data[i] = center + scale·u, u uniform in (-1, 1) and never 0. */
function fillUniform(data: Float32Array, seed: number, center: number, scale: number): void {
  let a = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    a = (a + MUL_STEP) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = (((t ^ (t >>> 14)) >>> 0) + 0.5) / TWO_POW_32;
    data[i] = center + scale * (2 * u - 1);
  }
}

/** data[i] ~ N(0, std²) by Box-Muller (both outputs); an exact zero is nudged off zero. */
function fillNormal(data: Float32Array, seed: number, std: number): void {
  let a = seed >>> 0;
  for (let i = 0; i < data.length; i += 2) {
    a = (a + MUL_STEP) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u1 = (((t ^ (t >>> 14)) >>> 0) + 0.5) / TWO_POW_32;
    a = (a + MUL_STEP) >>> 0;
    t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u2 = (((t ^ (t >>> 14)) >>> 0) + 0.5) / TWO_POW_32;
    const rad = Math.sqrt(-2 * Math.log(u1)) * std, th = 2 * Math.PI * u2;
    data[i] = rad * Math.cos(th) || std * 1e-3;
    if (i + 1 < data.length) data[i + 1] = rad * Math.sin(th) || std * 1e-3;
  }
}

/** FNV-1a of a name mixed with the seed: each tensor gets its own stream. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Deterministic random tensors for `shapes` (same seed and name -> same values, whatever the
 * other tensors are). Never zero, so numeric comparisons on them mean something:
 * - `embed.tokens [V, D]`: normal with std `D^-0.5` (fairseq's embedding init);
 * - linear weights `[in, out]`: Xavier-uniform, bound `sqrt(6 / (in + out))`;
 * - layer-norm gains `*_ln.g`: `1 + 0.1·u`, u uniform in (-1, 1);
 * - biases (linear and layer norm): `0.1·u`.
 */
export function randomTensors(shapes: ShapeMap, seed: number): TensorMap {
  const g = randomTensorSteps(shapes, seed);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** randomTensors as steps: yields after each tensor (runtime/profile.ts gives the event loop back between them). */
export function* randomTensorSteps(shapes: ShapeMap, seed: number): Generator<void, TensorMap> {
  const out: TensorMap = new Map();
  for (const [name, shape] of shapes) {
    if (out.size > 0) yield;
    const s = tensorSeed(seed, name);
    const data = new Float32Array(shapeSize(shape));
    if (name === "embed.tokens") fillNormal(data, s, 1 / Math.sqrt(shape[shape.length - 1]));
    else if (shape.length === 2) fillUniform(data, s, 0, Math.sqrt(6 / (shape[0] + shape[1])));
    else if (name.endsWith("_ln.g")) fillUniform(data, s, 1, 0.1);
    else fillUniform(data, s, 0, 0.1);
    out.set(name, { shape: [...shape], data });
  }
  return out;
}

// ---- export of a SubTransformer ------------------------------------------------------------

/**
 * Copy the front slice `src[:need[0], :need[1]]` (or `src[:need[0]]`) into a compact tensor.
 * Throws naming the tensor and both shapes when `src` is too small.
 */
function frontSlice(name: string, src: Tensor, need: number[]): Tensor {
  const ok = src.shape.length === need.length && src.shape.every((s, i) => s >= need[i]);
  if (!ok) {
    throw new RangeError(
      `tensor ${name} has shape ${formatShape(src.shape)} but the architecture needs at least ${formatShape(need)}`,
    );
  }
  if (src.data.length !== shapeSize(src.shape)) {
    throw new RangeError(`tensor ${name} of shape ${formatShape(src.shape)} holds ${src.data.length} values, not ${shapeSize(src.shape)}`);
  }
  if (need.length === 1) return { shape: [...need], data: src.data.slice(0, need[0]) };
  if (need.length !== 2) throw new RangeError(`tensor ${name}: only 1-d and 2-d tensors can be sliced, got ${formatShape(need)}`);
  const [rows, cols] = need, ld = src.shape[1];
  const data = new Float32Array(rows * cols);
  if (cols === ld) data.set(src.data.subarray(0, rows * cols));
  else for (let r = 0; r < rows; r++) data.set(src.data.subarray(r * ld, r * ld + cols), r * cols);
  return { shape: [...need], data };
}

/**
 * Export SubTransformer `arch` of a SuperTransformer as a compact model: each linear weight
 * `W[:in, :out]`, each vector its front entries, the embedding `[V, max(De, Dd)]` its front
 * columns, the first `encoderLayers` / `decoderLayers` layers. Running `arch` on the result gives
 * the same numbers as running it on `superTensors`. The copies never alias the source.
 */
export function sliceSubTensors(superTensors: TensorMap, arch: Arch, vocabSize: number): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, need] of archTensorShapes(arch, vocabSize)) {
    const src = superTensors.get(name);
    if (!src) throw new RangeError(`tensor ${name} (needed shape ${formatShape(need)}) is missing from the SuperTransformer`);
    out.set(name, frontSlice(name, src, need));
  }
  return out;
}

/**
 * The inverse of sliceSubTensors: SubTransformer `arch`'s compact tensors placed at the front of
 * `shapes` (a SuperTransformer's, e.g. of the space it was cut from), the rest zeros (the layers
 * `arch` lacks too), so a trainer of SuperTransformer shapes can fine-tune it. Throws naming the
 * tensor when one of `arch`'s is missing or does not fit.
 */
export function padSubTensors(compact: TensorMap, arch: Arch, shapes: ShapeMap): TensorMap {
  const vocabSize = shapes.get("embed.tokens")?.[0] ?? 0;
  const own = archTensorShapes(arch, vocabSize);
  const out: TensorMap = new Map();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shapeSize(shape));
    out.set(name, { shape: [...shape], data });
    if (!own.has(name)) continue; // a layer the SubTransformer does not have
    const t = compact.get(name);
    if (!t) throw new RangeError(`tensor ${name} (shape ${formatShape(own.get(name)!)}) is missing from the SubTransformer`);
    const fits = t.shape.length === shape.length && t.shape.every((s, i) => s <= shape[i]) && t.data.length === shapeSize(t.shape);
    if (!fits) throw new RangeError(`tensor ${name} has shape ${formatShape(t.shape)}, which does not fit ${formatShape(shape)}`);
    if (shape.length === 1) data.set(t.data);
    else for (let r = 0, ld = shape[1], c = t.shape[1]; r < t.shape[0]; r++) data.set(t.data.subarray(r * c, (r + 1) * c), r * ld);
  }
  return out;
}

/** Number of parameters: the sum of the tensors' sizes (of their shapes, for a ShapeMap). */
export function paramCount(tensors: TensorMap | ShapeMap): number {
  let n = 0;
  for (const t of tensors.values()) n += shapeSize(Array.isArray(t) ? t : t.shape);
  return n;
}
