/**
 * tfjs-wasm's `Identity` copies its input into a new buffer. tfjs calls it for every tensor the
 * tape saves for the backward pass (Engine.clone: ~740 calls an update of a 3+3-layer model), so
 * every saved activation was stored twice and copied once. Tensors are immutable (a variable's
 * `assign` swaps its buffer, it does not write into it), so this one shares the buffer and counts
 * a reference, as tfjs-wasm's own `Reshape` does. Strings keep tfjs's kernel.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { overrideWasmKernel, restoreWasmKernel } from "./wasm-kernel.js";

let original: tf.KernelConfig | undefined;

function identityShared(args: { inputs: { x: tf.TensorInfo }; backend: BackendWasm }): tf.TensorInfo {
  const { inputs: { x }, backend } = args;
  if (x.dtype === "string") return original!.kernelFunc(args as never) as tf.TensorInfo;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Replace the wasm backend's Identity with the sharing one (once). Import @tensorflow/tfjs-backend-wasm first. */
export function registerSharedIdentity(): void {
  original ??= overrideWasmKernel("registerSharedIdentity", tf.Identity, identityShared);
}

/** Put tfjs-wasm's copying Identity back (measurements, tests). */
export function unregisterSharedIdentity(): void {
  if (!original) return;
  restoreWasmKernel(original);
  original = undefined;
}
