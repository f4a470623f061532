/**
 * The HAT SuperTransformer in TensorFlow.js, in the runtime's weight layout (docs/runtime.md):
 * one variable per tensor of `superTensorShapes(space, V)`, named as the model file names them
 * (`embed.tokens` [V, max(De, Dd)], `enc.{i}.self.q.w` [De, Q], ...), created at the
 * SuperTransformer's (max) dims. Any SubTransformer `arch` of the space runs on the FRONT SLICES
 * of these variables (./layers.ts), so training a sampled SubTransformer updates only its slice,
 * and `toTensorMap()` is directly a model file's tensors for the WASM runtime.
 *
 * Semantics (fairseq / HAT, post-norm): x = LN(x + Attn(x)), x = LN(x + FFN(x)); sqrt(D)-scaled
 * shared embedding plus sinusoids of the super dims sliced to D; decoder self-attention causal,
 * cross-attention over [last, second last, third last][:k] encoder outputs concatenated along the
 * sequence axis; output projection tied to the decoder's slice of the embedding.
 *
 * Shape letters (runtime/types.ts): B batch, S source length, T target length, De / Dd embed dims
 * of the SubTransformer, Q the q/k/v width, V vocabulary.
 */
import * as tf from "@tensorflow/tfjs";
import { archInSpace, superDims } from "../runtime/arch.js";
import type { Space, SuperDims, ValidArch } from "../runtime/types.js";
import { SPECIALS } from "../runtime/types.js";
import { MAX_POSITIONS, sinusoidTable } from "../runtime/wasm-model.js";
import { formatShape, shapeSize, superTensorShapes, type ShapeMap, type TensorMap } from "../runtime/weights.js";
import { initialTensors } from "./init.js";
import { matMulBT } from "./matmul.js";
import { addNorm, attention, dropout, embed, ffn, MASKED, type VarLookup } from "./layers.js";

/** Dropout probabilities at the SuperTransformer's embed dim; a SubTransformer scales some by D / D_max (scaledRates). */
export interface DropoutRates {
  /** After the embedding, after each attention block and after each FFN (fairseq's `dropout`). */
  dropout: number;
  /** On the attention probabilities (fairseq's `attention_dropout`). */
  attention: number;
  /** After the FFN's ReLU (fairseq's `activation_dropout`). */
  activation: number;
}

/** Options of a forward pass. */
export interface ForwardOptions {
  /** Apply dropout (training). Default false: inference, as the WASM runtime computes. */
  training?: boolean;
  /** Rates at the super dims; default none. */
  rates?: Partial<DropoutRates>;
}

/** Options of the constructor. */
export interface SuperTransformerOptions {
  /** Initial weights, shapes exactly `superTensorShapes(space, vocabSize)`; default `initialTensors(space, V, seed)`. */
  tensors?: TensorMap;
  /** Seed of the default initialisation (fairseq's, ./init.ts); default 1. */
  seed?: number;
  /** Longest sequence the position tables cover (default the runtime's MAX_POSITIONS). */
  maxPositions?: number;
}

let instances = 0;

/** The SuperTransformer of a design space, as tfjs variables in the runtime's layout. */
export class SuperTransformer {
  readonly space: Space;
  readonly vocabSize: number;
  readonly dims: SuperDims;
  /** Sinusoid table widths: the super embed dims (recorded in model files as `positionDims`). */
  readonly positionDims: { encoder: number; decoder: number };
  readonly maxPositions: number;
  /** Tensor name -> super shape, in model-file order. */
  readonly shapes: ShapeMap;
  /** The trainable variables by docs/runtime.md name (tfjs registers them as `st<n>/<name>`). */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  private readonly posEnc: tf.Tensor2D; // [maxPositions + 2, positionDims.encoder]
  private readonly posDec: tf.Tensor2D; // [maxPositions + 2, positionDims.decoder]
  private readonly v: VarLookup;

  constructor(space: Space, vocabSize: number, opts: SuperTransformerOptions = {}) {
    this.space = space;
    this.vocabSize = vocabSize;
    this.dims = superDims(space);
    this.shapes = superTensorShapes(space, vocabSize);
    this.positionDims = { encoder: this.dims.encoderEmbedDim, decoder: this.dims.decoderEmbedDim };
    this.maxPositions = opts.maxPositions ?? MAX_POSITIONS;
    const id = instances++;
    const vars = new Map<string, tf.Variable>();
    for (const [name, shape] of this.shapes) {
      vars.set(name, tf.tidy(() => tf.variable(tf.zeros(shape), true, `st${id}/${name}`)));
    }
    this.variables = vars;
    this.v = (name) => {
      const x = vars.get(name);
      if (!x) throw new Error(`SuperTransformer has no tensor ${name}`);
      return x;
    };
    const rows = this.maxPositions + 2; // positions start at padding_idx + 1 = 2
    this.posEnc = tf.tensor2d(sinusoidTable(rows, this.positionDims.encoder), [rows, this.positionDims.encoder]);
    this.posDec = tf.tensor2d(sinusoidTable(rows, this.positionDims.decoder), [rows, this.positionDims.decoder]);
    this.fromTensorMap(opts.tensors ?? initialTensors(space, vocabSize, opts.seed ?? 1));
  }

  /** The tfjs variable of tensor `name` (docs/runtime.md naming). */
  variable(name: string): tf.Variable {
    return this.v(name);
  }

  /**
   * Encoder of `arch`: source tokens [B, S] (right-padded with pad) -> every encoder layer's
   * output [B·S, De], first layer first. `srcBias` [B, 1, 1, S] hides padding keys.
   */
  encode(arch: ValidArch, src: tf.Tensor2D, srcBias: tf.Tensor4D, o: ForwardOptions = {}): tf.Tensor2D[] {
    const [B, S] = src.shape, De = arch.encoderEmbedDim, Q = arch.qkvDim;
    const r = this.rates(o, De / this.dims.encoderEmbedDim);
    let x = dropout(embed(this.v, src, De, this.posEnc), r.dropout); // [B·S, De]
    const outs: tf.Tensor2D[] = [];
    for (let i = 0; i < arch.encoderLayers; i++) {
      const p = `enc.${i}`;
      const att = attention(this.v, `${p}.self`, x, x, srcBias, {
        B, Tq: S, Tk: S, Dq: De, Dkv: De, Q, H: arch.encoderHeads[i], attnDropout: r.attention,
      }); // [B·S, De]
      x = addNorm(this.v, `${p}.self_ln`, x, dropout(att, r.dropout), De);
      const f = ffn(this.v, `${p}.ffn`, x, De, arch.encoderFfnDims[i], r.activation); // [B·S, De]
      x = addNorm(this.v, `${p}.ffn_ln`, x, dropout(f, r.dropout), De);
      outs.push(x);
    }
    return outs;
  }

  /**
   * Decoder of `arch` with teacher forcing: previous tokens [B, T] (eos first) over the encoder
   * outputs `enc` ([B·S, De] per layer) -> final decoder states [B·T, Dd].
   */
  decode(arch: ValidArch, enc: tf.Tensor2D[], srcBias: tf.Tensor4D, prev: tf.Tensor2D, o: ForwardOptions = {}): tf.Tensor2D {
    const [B, T] = prev.shape, S = srcBias.shape[3], De = arch.encoderEmbedDim, Dd = arch.decoderEmbedDim, Q = arch.qkvDim;
    const r = this.rates(o, Dd / this.dims.decoderEmbedDim);
    const causal = causalBias(T); // [1, 1, T, T]
    let y = dropout(embed(this.v, prev, Dd, this.posDec), r.dropout); // [B·T, Dd]
    for (let i = 0; i < arch.decoderLayers; i++) {
      const p = `dec.${i}`, k = arch.decoderEndeLayers[i];
      const self = attention(this.v, `${p}.self`, y, y, causal, {
        B, Tq: T, Tk: T, Dq: Dd, Dkv: Dd, Q, H: arch.decoderSelfHeads[i], attnDropout: r.attention,
      }); // [B·T, Dd]
      y = addNorm(this.v, `${p}.self_ln`, y, dropout(self, r.dropout), Dd);
      // memory: the last k encoder layers [last, second last, ...] concatenated along the sequence axis
      const last = enc.slice(enc.length - k).reverse().map((e) => tf.reshape(e, [B, S, De]));
      const mem = tf.reshape(k === 1 ? last[0] : tf.concat(last, 1), [B * k * S, De]) as tf.Tensor2D; // [B·k·S, De]
      const memBias = k === 1 ? srcBias : tf.concat(new Array<tf.Tensor4D>(k).fill(srcBias), 3); // [B, 1, 1, k·S]
      const cross = attention(this.v, `${p}.cross`, y, mem, memBias, {
        B, Tq: T, Tk: k * S, Dq: Dd, Dkv: De, Q, H: arch.decoderCrossHeads[i], attnDropout: r.attention,
      }); // [B·T, Dd]
      y = addNorm(this.v, `${p}.cross_ln`, y, dropout(cross, r.dropout), Dd);
      const f = ffn(this.v, `${p}.ffn`, y, Dd, arch.decoderFfnDims[i], r.activation); // [B·T, Dd]
      y = addNorm(this.v, `${p}.ffn_ln`, y, dropout(f, r.dropout), Dd);
    }
    return y;
  }

  /** Tied output projection: decoder states [R, Dd] -> logits [R, V] = h · embed.tokens[:, :Dd]^T. */
  logits(arch: ValidArch, hidden: tf.Tensor2D): tf.Tensor2D {
    const E = this.v("embed.tokens"), Dd = arch.decoderEmbedDim;
    const Ed = Dd === E.shape[1] ? (E as tf.Tensor2D) : tf.slice(E as tf.Tensor2D, [0, 0], [this.vocabSize, Dd]); // [V, Dd]
    return matMulBT(hidden, Ed); // [R, V]
  }

  /**
   * Teacher-forced logits of SubTransformer `arch`: src [B, S] right-padded with pad, prev [B, T]
   * (eos, y_1, ..., right-padded) -> logits [B·T, V]; with `o.rows` (int32 indices into the B·T
   * positions), the logits of those rows only, [rows, V]: training scores real targets only, so
   * the output projection (the largest product at a large vocabulary) skips the padding.
   * Call inside tf.tidy / a gradient function.
   */
  forward(arch: ValidArch, src: tf.Tensor2D, prev: tf.Tensor2D, o: ForwardOptions & { rows?: tf.Tensor1D } = {}): tf.Tensor2D {
    this.checkArch(arch);
    if (src.shape[0] !== prev.shape[0]) throw new RangeError(`forward: ${src.shape[0]} sources but ${prev.shape[0]} targets`);
    const maxLen = Math.max(src.shape[1], prev.shape[1]);
    if (maxLen > this.maxPositions) throw new RangeError(`sequence of ${maxLen} tokens exceeds maxPositions ${this.maxPositions}`);
    const srcBias = paddingBias(src); // [B, 1, 1, S]
    const enc = this.encode(arch, src, srcBias, o);
    const hidden = this.decode(arch, enc, srcBias, prev, o); // [B·T, Dd]
    return this.logits(arch, o.rows ? tf.gather(hidden, o.rows) : hidden);
  }

  /** Every variable's value as a runtime TensorMap (f32, row-major, super shapes, model-file order). */
  toTensorMap(): TensorMap {
    const out: TensorMap = new Map();
    for (const [name, shape] of this.shapes) {
      const data = Float32Array.from(this.v(name).dataSync() as Float32Array);
      out.set(name, { shape: [...shape], data });
    }
    return out;
  }

  /**
   * Load every variable from `tensors` (a SuperTransformer's, e.g. a model file's or
   * `randomTensors(superTensorShapes(space, V), seed)`). Shapes must equal the super shapes.
   */
  fromTensorMap(tensors: TensorMap): void {
    for (const [name, shape] of this.shapes) {
      const t = tensors.get(name);
      if (!t) throw new RangeError(`tensor ${name} (shape ${formatShape(shape)}) is missing`);
      const same = t.shape.length === shape.length && t.shape.every((s, i) => s === shape[i]);
      if (!same) throw new RangeError(`tensor ${name} has shape ${formatShape(t.shape)}, the SuperTransformer's is ${formatShape(shape)}`);
      if (t.data.length !== shapeSize(shape)) throw new RangeError(`tensor ${name} holds ${t.data.length} values, not ${shapeSize(shape)}`);
      tf.tidy(() => this.v(name).assign(tf.tensor(t.data, shape, "float32")));
    }
  }

  /** Free the variables and position tables. */
  dispose(): void {
    for (const x of this.variables.values()) x.dispose();
    this.posEnc.dispose();
    this.posDec.dispose();
  }

  private checkArch(arch: ValidArch): void {
    archInSpace(arch, this.space);
  }

  /** Dropout rates of a SubTransformer whose embed dim is `ratio` of the super one (0 when not training). */
  private rates(o: ForwardOptions, ratio: number): DropoutRates {
    if (!o.training) return { dropout: 0, attention: 0, activation: 0 };
    return scaledRates(o.rates ?? {}, ratio);
  }
}

/**
 * HAT's dropout of a SubTransformer (`calc_dropout` in HAT's transformer_super.py): `dropout` and
 * `activation` times embedDim / maxEmbedDim, so smaller SubTransformers get less; `attention`
 * (on the attention probabilities) is not scaled, as in HAT. Missing rates are 0. (HAT's encoder
 * layers use the unscaled rate for the dropout after self-attention, an inconsistency of its code;
 * here every `dropout` site uses the scaled rate, as the paper describes.)
 */
export function scaledRates(rates: Partial<DropoutRates>, ratio: number): DropoutRates {
  return { dropout: (rates.dropout ?? 0) * ratio, attention: rates.attention ?? 0, activation: (rates.activation ?? 0) * ratio };
}

/** Key padding mask of right-padded tokens [B, S]: MASKED where the token is pad -> [B, 1, 1, S]. */
export function paddingBias(src: tf.Tensor2D, pad: number = SPECIALS.pad): tf.Tensor4D {
  const [B, S] = src.shape;
  return tf.reshape(tf.mul(tf.cast(tf.equal(src, pad), "float32"), MASKED), [B, 1, 1, S]);
}

/** Causal mask: MASKED where key j > query i -> [1, 1, T, T]. */
export function causalBias(T: number): tf.Tensor4D {
  const future = tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)); // 1 above the diagonal
  return tf.reshape(tf.mul(future, MASKED), [1, 1, T, T]);
}
