/**
 * Swapping one of tfjs-backend-wasm's kernels for ours and back: the training kernels of
 * ./hat-matmul.ts, ./wasm-identity.ts and ./wasm-gather.ts. The original's setupFunc stays
 * registered (tfjs-wasm's kernel, kept as the fallback, needs its cwrap).
 */
import * as tf from "@tensorflow/tfjs";

/** Register `kernelFunc` as the wasm backend's `kernelName`; returns the kernel it replaced. `who` names the caller in the error. */
export function overrideWasmKernel(who: string, kernelName: string, kernelFunc: (args: never) => tf.TensorInfo): tf.KernelConfig {
  const cfg = tf.getKernel(kernelName, "wasm");
  if (!cfg) throw new Error(`${who}: import @tensorflow/tfjs-backend-wasm first`);
  tf.unregisterKernel(kernelName, "wasm");
  tf.registerKernel({ kernelName, backendName: "wasm", setupFunc: cfg.setupFunc, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return cfg;
}

/** Put back a kernel overrideWasmKernel replaced. */
export function restoreWasmKernel(original: tf.KernelConfig): void {
  tf.unregisterKernel(original.kernelName, original.backendName);
  tf.registerKernel(original);
}
