/**
 * The optimiser side of HAT's training (docs/method.md §3), as fairseq does it:
 * Adam with betas (0.9, 0.98); gradient clipping by global norm; learning-rate schedules as pure
 * functions of the update number: cosine with linear warm-up (HAT's WMT setting) and inverse
 * square root (IWSLT).
 *
 * Adam keeps a step count per variable, as PyTorch's does: a variable the sampled SubTransformer
 * did not use gets no gradient and is not touched (its moments do not decay, its bias correction
 * does not advance); a used variable's entries outside the slice get a zero gradient and are
 * updated like any other entry (their moments decay), exactly as in HAT.
 */
import * as tf from "@tensorflow/tfjs";
import type { TensorMap } from "../runtime/weights.js";

/** Adam's hyper-parameters (fairseq names in comments). */
export interface AdamConfig {
  beta1: number; // --adam-betas (0.9, 0.98)
  beta2: number;
  eps: number; // --adam-eps 1e-8
}

export const ADAM_DEFAULTS: AdamConfig = { beta1: 0.9, beta2: 0.98, eps: 1e-8 };

/** Adam's state of one variable: its step count and both moments, flat (the variable's size). */
interface Moments {
  step: number;
  shape: number[]; // the variable's (checkpoints keep it)
  m: Float32Array; // first moment
  v: Float32Array; // second moment
}

/** Everything needed to resume Adam: per variable its step count and both moments (f32, row-major). */
export interface AdamState {
  steps: Record<string, number>;
  m: TensorMap;
  v: TensorMap;
}

/** A gradient: a tensor, or its values (row-major, the variable's size). */
export type Gradient = tf.Tensor | Float32Array;

/**
 * Adam over named variables (names are the caller's, e.g. docs/runtime.md tensor names).
 *
 * Fused over flat buffers: the moments are plain Float32Arrays, and one pass per variable reads
 * the gradient (summing its squares: the norm when nothing is clipped), updates both moments and
 * the weight, which goes back to the backend with one `assign`, where tfjs ops make ~12 passes
 * and as many tensors per variable (bench/adam.ts; docs/training.md "Adam over flat buffers").
 * The moments live outside the backend's heap (tfjs-wasm's 4 GiB).
 */
export class Adam {
  readonly config: AdamConfig;
  private readonly moments = new Map<string, Moments>();

  constructor(config: Partial<AdamConfig> = {}) {
    this.config = { ...ADAM_DEFAULTS, ...config };
  }

  private momentsOf(name: string, p: tf.Variable): Moments {
    let s = this.moments.get(name);
    if (s && s.m.length !== p.size) throw new Error(`Adam: moments of ${name} have ${s.m.length} values, the variable ${p.size}`);
    if (!s) {
      s = { step: 0, shape: [...p.shape], m: new Float32Array(p.size), v: new Float32Array(p.size) };
      this.moments.set(name, s);
    }
    return s;
  }

  /**
   * One update with learning rate `lr`: for each named gradient g (times `scale`, a clipping
   * factor), p -= lr·sqrt(1-b2^t)/(1-b1^t) · m / (sqrt(v) + eps), t the variable's own step count.
   * Variables without a gradient are skipped. Returns the sum of the squared gradients as given
   * (unscaled, float64: the global norm's square, read in the same pass).
   */
  apply(variables: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, Gradient>, lr: number, scale = 1): number {
    const { beta1, beta2, eps } = this.config;
    let sumSquares = 0;
    for (const [name, grad] of grads) {
      const p = variables.get(name);
      if (!p) throw new Error(`Adam: gradient for unknown variable ${name}`);
      const g = grad instanceof Float32Array ? grad : (grad.dataSync() as Float32Array);
      if (g.length !== p.size) throw new Error(`Adam: gradient of ${name} has ${g.length} values, the variable ${p.size}`);
      const s = this.momentsOf(name, p);
      s.step++;
      const stepSize = (lr * Math.sqrt(1 - Math.pow(beta2, s.step))) / (1 - Math.pow(beta1, s.step));
      const old = p.dataSync() as Float32Array; // read only (on the cpu backend it is the variable's own storage)
      const w = new Float32Array(old.length);
      const m = s.m, v = s.v, c1 = 1 - beta1, c2 = 1 - beta2;
      let ss = 0;
      for (let i = 0; i < w.length; i++) {
        const g0 = g[i], gi = g0 * scale;
        ss += g0 * g0;
        const mi = beta1 * m[i] + c1 * gi;
        const vi = beta2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = old[i] - (stepSize * mi) / (Math.sqrt(vi) + eps);
      }
      sumSquares += ss;
      tf.tidy(() => p.assign(tf.tensor(w, p.shape, "float32")));
    }
    return sumSquares;
  }

  /** A copy of the state, for checkpoints. */
  state(): AdamState {
    const out: AdamState = { steps: {}, m: new Map(), v: new Map() };
    for (const [name, s] of this.moments) {
      out.steps[name] = s.step;
      out.m.set(name, { shape: [...s.shape], data: Float32Array.from(s.m) });
      out.v.set(name, { shape: [...s.shape], data: Float32Array.from(s.v) });
    }
    return out;
  }

  /** Replace the state by `st` (from state()). */
  loadState(st: AdamState): void {
    this.dispose();
    for (const [name, step] of Object.entries(st.steps)) {
      const m = st.m.get(name), v = st.v.get(name);
      if (!m || !v) throw new Error(`Adam state: moments of ${name} missing`);
      if (m.data.length !== v.data.length) throw new Error(`Adam state: moments of ${name} have ${m.data.length} and ${v.data.length} values`);
      this.moments.set(name, { step, shape: [...m.shape], m: Float32Array.from(m.data), v: Float32Array.from(v.data) });
    }
  }

  /** Free the moments. */
  dispose(): void {
    this.moments.clear();
  }
}

/**
 * The global L2 norm of gradients given as values (accumulated in float64) and fairseq's
 * clip_grad_norm_ factor: maxNorm / (norm + 1e-6) when below 1, else 1 (`maxNorm` <= 0: no
 * clipping). Adam.apply takes the factor as its `scale`.
 */
export function clipFactor(grads: Iterable<Float32Array>, maxNorm: number): { norm: number; scale: number } {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
  const norm = Math.sqrt(ss);
  const coef = maxNorm / (norm + 1e-6);
  return { norm, scale: maxNorm > 0 && coef < 1 ? coef : 1 };
}

/** Cosine schedule with linear warm-up (fairseq's `cosine`, one period). */
export interface CosineSchedule {
  warmupSteps: number; // --warmup-updates [10000]
  warmupInitLr: number; // --warmup-init-lr [1e-7]
  maxLr: number; // --max-lr [1e-3]
  minLr: number; // --lr [1e-7]: the floor the cosine decays to
  totalSteps: number; // warm-up plus one cosine period [40000]
}

/**
 * Learning rate at update `step` (0-based): linear from warmupInitLr to maxLr over warmupSteps,
 * then minLr + (maxLr - minLr)·(1 + cos(pi·t/period))/2 with t = step - warmupSteps and
 * period = totalSteps - warmupSteps; minLr after totalSteps.
 */
export function cosineLr(step: number, s: CosineSchedule): number {
  if (step < s.warmupSteps) return s.warmupInitLr + (step * (s.maxLr - s.warmupInitLr)) / s.warmupSteps;
  const period = Math.max(1, s.totalSteps - s.warmupSteps);
  return cosineDecay(Math.min(step - s.warmupSteps, period) / period, s.maxLr, s.minLr);
}

/** The cosine half-period from maxLr (frac 0) down to minLr (frac 1 and beyond). */
export function cosineDecay(frac: number, maxLr: number, minLr: number): number {
  return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * Math.min(1, Math.max(0, frac))));
}

/** Inverse square root schedule with linear warm-up (fairseq's `inverse_sqrt`). */
export interface InverseSqrtSchedule {
  warmupSteps: number; // --warmup-updates [4000]
  warmupInitLr: number; // --warmup-init-lr [1e-7]
  lr: number; // --lr [5e-4]: the peak, reached at warmupSteps
}

/** Learning rate at update `step`: linear warm-up to lr, then lr·sqrt(warmupSteps / step). */
export function inverseSqrtLr(step: number, s: InverseSqrtSchedule): number {
  if (step < s.warmupSteps) return s.warmupInitLr + (step * (s.lr - s.warmupInitLr)) / s.warmupSteps;
  return s.lr * Math.sqrt(Math.max(1, s.warmupSteps) / Math.max(1, step));
}
