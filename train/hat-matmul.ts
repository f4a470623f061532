/**
 * A replacement of tfjs-backend-wasm's `BatchMatMul` and `_FusedMatMul` kernels that runs the
 * products on our own WebAssembly kernels (build/hat.wasm, runtime/wasm.ts: packed 4x8 tiles,
 * ~40 GFLOP/s on one thread on a quiet VM) instead of tfjs-wasm's (XNNPACK for untransposed 2-d
 * products, a naive loop otherwise).
 *
 * Per call: A and B (and a fused product's bias) are copied from the tfjs-wasm heap into one
 * persistent HatWasm instance (a transposed A or B is copied as stored and transposed there by
 * assembly/transpose.ts; only for a few rows of A does a transposed B stay as stored, for
 * `matmul_nt`), our matmul runs per batch entry (the bias as its `b`, then `relu` for a fused
 * ReLU), and the result is copied back into the tfjs output buffer. The arena grows once to the
 * largest call and is released after each.
 *
 * Batch dims: the leading dims of A and B are flattened (as tfjs-wasm does); a batch of 1 on either
 * side broadcasts. Anything else (other dtypes, other broadcasts, prelu / leaky ReLU, a bias that
 * is not one value per column) goes to tfjs-wasm's own kernel.
 *
 * Enabled by `registerHatMatmul()`, which selectBackend calls (HAT_TRAIN_KERNELS: "hat", every
 * product, the default; "hat-batched", attention's batched products only; "tfjs", none).
 * HAT_MATMUL_COMPARE=1 additionally times tfjs-wasm's BatchMatMul on every call and
 * `matmulStats()` reports both per shape (for measuring, not for training).
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { hatInstance } from "./hat-instance.js";
import { overrideWasmKernel, restoreWasmKernel } from "./wasm-kernel.js";

type MatMulArgs = {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  attrs: { transposeA: boolean; transposeB: boolean };
  backend: BackendWasm;
};
/** tfjs's `_FusedMatMul` (tf.fused.matMul: the product, a bias, an activation). */
type FusedMatMulArgs = {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  attrs: { transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number };
  backend: BackendWasm;
};

let calls = 0;

/** How many products our kernel has computed (tests check it is really used). */
export function hatMatmulCalls(): number {
  return calls;
}
let original: tf.KernelConfig | undefined;
let originalFused: tf.KernelConfig | undefined;

/** Per-shape timings (ms, summed) of our kernel and, with HAT_MATMUL_COMPARE=1, tfjs-wasm's. */
const stats = new Map<string, { n: number; hat: number; tfjs: number; flops: number }>();
let collect = false;

/** Which products go to our kernel. */
export type HatMatmulFilter = (batch: number, M: number, K: number, N: number, transposeA: boolean, transposeB: boolean) => boolean;
/**
 * Batched products only (attention's [B, H, T, T] ones), which tfjs-wasm runs on a naive loop at
 * ~1.2 GFLOP/s where ours (copies included) reach 6-12; the 2-d products left to XNNPACK.
 */
export const batchedOnly: HatMatmulFilter = (batch) => batch > 1;
/**
 * Every float32 product with a compatible batch: the default. Since our small-M and transposed
 * kernels gained (docs/runtime.md), ours beat XNNPACK's 2-d products too (docs/training.md
 * "Products on our kernels": `bench:train` 1.09-1.68x against batchedOnly, 2026-12-03).
 */
export const allProducts: HatMatmulFilter = () => true;
let filter: HatMatmulFilter = allProducts;
/** Up to this many rows of A, a product with a transposed B runs on matmul_nt (B as stored). */
const NT_ROWS = 8;

/**
 * tf.fused.matMul on our kernels: the product plus a bias of N values ([N] or [1, N], added per
 * output column as our matmul's `b`) and a linear or ReLU activation; anything else (prelu, leaky
 * ReLU, other bias shapes) goes to tfjs-wasm's own kernel.
 */
function hatFusedMatMul(args: FusedMatMulArgs): tf.TensorInfo | undefined {
  const { inputs: { a, b, bias, preluActivationWeights }, attrs: { activation } } = args;
  if (preluActivationWeights || (activation !== "linear" && activation !== "relu")) return undefined;
  if (bias && (bias.dtype !== "float32" || bias.shape.some((d, i) => i < bias.shape.length - 1 && d !== 1))) return undefined;
  return hatProduct({ inputs: { a, b }, attrs: args.attrs, backend: args.backend }, bias, activation === "relu");
}

/**
 * out[i] = opA(a[i]) · opB(b[i]) (+ bias over the last dim, ReLU'd when relu) on our kernels;
 * returns undefined (having done nothing) when the call is not one we handle.
 */
function hatProduct(args: MatMulArgs, bias?: tf.TensorInfo, relu = false): tf.TensorInfo | undefined {
  const { inputs: { a, b }, attrs: { transposeA, transposeB }, backend } = args;
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const ar = a.shape.length, br = b.shape.length;
  if (ar < 2 || br < 2) return undefined;
  const M = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const K = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const Kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const N = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  if (K !== Kb) return undefined;
  const bA = tf.util.sizeFromShape(a.shape.slice(0, -2)), bB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (bA !== bB && bA !== 1 && bB !== 1) return undefined;
  const batch = Math.max(bA, bB);
  if (!filter(batch, M, K, N, transposeA, transposeB)) return undefined;
  let outer: number[];
  try {
    outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return undefined;
  }
  if (tf.util.sizeFromShape(outer) !== batch) return undefined;
  if (bias && tf.util.sizeFromShape(bias.shape) !== N) return undefined;
  const outShape = [...outer, M, N];
  const out = backend.makeOutput(outShape, "float32");
  if (batch * M * N === 0) return out;
  if (K === 0) {
    const y = backend.typedArrayFromHeap(out) as Float32Array;
    if (!bias) y.fill(0);
    else {
      const bv = backend.typedArrayFromHeap(bias) as Float32Array;
      for (let i = 0; i < y.length; i++) y[i] = relu ? Math.max(0, bv[i % N]) : bv[i % N];
    }
    return out;
  }

  calls++;
  const h = hatInstance();
  const mark = h.mark();
  try {
    const sizeA = bA * M * K, sizeB = bB * K * N, sizeY = batch * M * N;
    const pA = h.alloc(sizeA * 4), pB = h.alloc(sizeB * 4), pY = h.alloc(sizeY * 4), pBias = bias ? h.alloc(N * 4) : 0;
    const pT = transposeA ? h.alloc(sizeA * 4) : 0;
    // A transposed B ([N, K] as stored): for more than a few rows of A, B is transposed here and
    // the packed matmul runs (1.0-1.4x matmul_nt's rate, most at N 8000: the logits); matmul_nt
    // (rows of B streamed) for the few rows of a decoder step.
    const ntRows = transposeB && M <= NT_ROWS;
    const pBt = transposeB && !ntRows ? h.alloc(sizeB * 4) : 0;
    // Views after all allocs (growth detaches earlier ones); tfjs heap views after makeOutput.
    const srcA = backend.typedArrayFromHeap(a) as Float32Array, srcB = backend.typedArrayFromHeap(b) as Float32Array;
    if (!transposeA) h.f32(pA, sizeA).set(srcA);
    else {
      // a[i] is [K, M], copied as stored; our matmul takes [M, K].
      h.f32(pT, sizeA).set(srcA);
      for (let i = 0; i < bA; i++) h.x.transpose(pA + i * M * K * 4, pT + i * M * K * 4, K, M);
    }
    if (pBt) {
      h.f32(pBt, sizeB).set(srcB);
      for (let i = 0; i < bB; i++) h.x.transpose(pB + i * K * N * 4, pBt + i * K * N * 4, N, K);
    } else h.f32(pB, sizeB).set(srcB);
    if (bias) h.f32(pBias, N).set(backend.typedArrayFromHeap(bias) as Float32Array);
    const mm = ntRows ? h.x.matmul_nt : h.x.matmul;
    const ldw = ntRows ? K : N;
    for (let i = 0; i < batch; i++) {
      const xa = pA + (bA === 1 ? 0 : i * M * K * 4), wb = pB + (bB === 1 ? 0 : i * K * N * 4);
      mm(pY + i * M * N * 4, xa, wb, pBias, M, K, N, K, ldw, N);
    }
    if (relu) h.x.relu(pY, sizeY);
    backend.typedArrayFromHeap(out).set(h.f32(pY, sizeY));
  } finally {
    h.release(mark);
  }
  return out;
}

function kernel(args: MatMulArgs): tf.TensorInfo {
  if (!collect) return hatProduct(args) ?? (original!.kernelFunc(args as never) as tf.TensorInfo);
  const { inputs: { a, b }, attrs: { transposeA, transposeB } } = args;
  const key = `${a.shape.join("x")}${transposeA ? "ᵀ" : ""} · ${b.shape.join("x")}${transposeB ? "ᵀ" : ""}`;
  const t0 = performance.now();
  const ours = hatProduct(args);
  const t1 = performance.now();
  const theirs = original!.kernelFunc(args as never) as tf.TensorInfo;
  const t2 = performance.now();
  const ar = a.shape.length;
  const M = transposeA ? a.shape[ar - 1] : a.shape[ar - 2], K = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const s = stats.get(key) ?? { n: 0, hat: 0, tfjs: 0, flops: 0 };
  s.n++;
  s.hat += ours ? t1 - t0 : NaN;
  s.tfjs += t2 - t1;
  s.flops += 2 * tf.util.sizeFromShape(theirs.shape) * K * (M > 0 ? 1 : 0);
  stats.set(key, s);
  if (ours) {
    args.backend.disposeData(theirs.dataId);
    return ours;
  }
  return theirs;
}

function fusedKernel(args: FusedMatMulArgs): tf.TensorInfo {
  return hatFusedMatMul(args) ?? (originalFused!.kernelFunc(args as never) as tf.TensorInfo);
}

/** One line per operand shape: calls, ms (ours, tfjs-wasm's), GFLOP/s of each; slowest first. */
export function matmulStats(): string[] {
  return [...stats.entries()]
    .sort((x, y) => y[1].tfjs - x[1].tfjs)
    .map(([k, s]) =>
      `${k.padEnd(34)} n=${String(s.n).padStart(4)}  hat ${s.hat.toFixed(1).padStart(7)} ms (${(s.flops / s.hat / 1e6).toFixed(1)} GF/s)` +
      `  tfjs ${s.tfjs.toFixed(1).padStart(7)} ms (${(s.flops / s.tfjs / 1e6).toFixed(1)} GF/s)`);
}

/**
 * Replace the wasm backend's BatchMatMul with ours (once; later calls only update `only`). Call
 * before or after `tf.setBackend("wasm")`; tfjs-wasm's own kernel stays the fallback. `only`
 * restricts which products we take (default: allProducts).
 */
export function registerHatMatmul(only?: HatMatmulFilter): void {
  if (only) filter = only;
  if (original) return;
  original = overrideWasmKernel("registerHatMatmul", tf.BatchMatMul, kernel);
  collect = process.env.HAT_MATMUL_COMPARE === "1";
  if (collect) process.on("exit", () => { for (const l of matmulStats()) console.error(l); });
  if (tf.getKernel(tf._FusedMatMul, "wasm")) originalFused = overrideWasmKernel("registerHatMatmul", tf._FusedMatMul, fusedKernel);
}

/**
 * Whether every product of the active backend takes transposed operands at full speed: ours do
 * (matmul_nt, a transposed A transposed in the instance), and so do the native backends;
 * tfjs-wasm's own kernels do not (./matmul.ts copies the operands transposed instead).
 */
export function transposeFlagsFast(): boolean {
  return tf.getBackend() !== "wasm" || (original !== undefined && filter === allProducts);
}

/** Put tfjs-wasm's own kernel back (tests). */
export function unregisterHatMatmul(): void {
  if (!original) return;
  restoreWasmKernel(original);
  original = undefined;
  if (originalFused) {
    restoreWasmKernel(originalFused);
    originalFused = undefined;
  }
  filter = batchedOnly;
}
