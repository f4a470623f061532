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

/** Adam's state of one variable. */
interface Moments {
  step: number;
  m: tf.Variable; // first moment, the variable's shape
  v: tf.Variable; // second moment
}

/** Everything needed to resume Adam: per variable its step count and both moments (f32, row-major). */
export interface AdamState {
  steps: Record<string, number>;
  m: TensorMap;
  v: TensorMap;
}

/** Adam over named variables (names are the caller's, e.g. docs/runtime.md tensor names). */
export class Adam {
  readonly config: AdamConfig;
  private readonly moments = new Map<string, Moments>();

  constructor(config: Partial<AdamConfig> = {}) {
    this.config = { ...ADAM_DEFAULTS, ...config };
  }

  private momentsOf(name: string, shape: number[]): Moments {
    let s = this.moments.get(name);
    if (!s) {
      s = { step: 0, m: tf.tidy(() => tf.variable(tf.zeros(shape), false)), v: tf.tidy(() => tf.variable(tf.zeros(shape), false)) };
      this.moments.set(name, s);
    }
    return s;
  }

  /**
   * One update with learning rate `lr`: for each named gradient, p -= lr·sqrt(1-b2^t)/(1-b1^t) ·
   * m / (sqrt(v) + eps), t the variable's own step count. Variables without a gradient are skipped.
   */
  apply(variables: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    const { beta1, beta2, eps } = this.config;
    for (const [name, g] of grads) {
      const p = variables.get(name);
      if (!p) throw new Error(`Adam: gradient for unknown variable ${name}`);
      const s = this.momentsOf(name, p.shape);
      s.step++;
      const stepSize = (lr * Math.sqrt(1 - Math.pow(beta2, s.step))) / (1 - Math.pow(beta1, s.step));
      tf.tidy(() => {
        const m = tf.add(tf.mul(s.m, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        s.m.assign(m);
        s.v.assign(v);
        p.assign(tf.sub(p, tf.mul(tf.div(m, tf.add(tf.sqrt(v), eps)), stepSize)));
      });
    }
  }

  /** A copy of the state, for checkpoints. */
  state(): AdamState {
    const out: AdamState = { steps: {}, m: new Map(), v: new Map() };
    for (const [name, s] of this.moments) {
      out.steps[name] = s.step;
      out.m.set(name, { shape: [...s.m.shape], data: Float32Array.from(s.m.dataSync() as Float32Array) });
      out.v.set(name, { shape: [...s.v.shape], data: Float32Array.from(s.v.dataSync() as Float32Array) });
    }
    return out;
  }

  /** Replace the state by `st` (from state()). */
  loadState(st: AdamState): void {
    this.dispose();
    for (const [name, step] of Object.entries(st.steps)) {
      const m = st.m.get(name), v = st.v.get(name);
      if (!m || !v) throw new Error(`Adam state: moments of ${name} missing`);
      this.moments.set(name, {
        step,
        m: tf.tidy(() => tf.variable(tf.tensor(m.data, m.shape, "float32"), false)),
        v: tf.tidy(() => tf.variable(tf.tensor(v.data, v.shape, "float32"), false)),
      });
    }
  }

  /** Free the moments. */
  dispose(): void {
    for (const s of this.moments.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.moments.clear();
  }
}

/**
 * Scale gradients so their global L2 norm is at most `maxNorm` (fairseq's clip_grad_norm_:
 * factor maxNorm / (norm + 1e-6) when below 1). `maxNorm` <= 0 disables clipping. Returns the
 * (possibly new) gradients and the norm before clipping; the caller disposes the inputs.
 */
export function clipByGlobalNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = Math.sqrt(
    tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]),
  );
  const out = new Map<string, tf.Tensor>();
  const coef = maxNorm / (norm + 1e-6);
  for (const [name, g] of grads) out.set(name, maxNorm > 0 && coef < 1 ? tf.mul(g, coef) : g);
  return { grads: out, norm };
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
