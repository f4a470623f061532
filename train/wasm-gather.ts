/**
 * tfjs-wasm's `GatherV2` loops element by element with index arithmetic: an embedding lookup of
 * 2,538 rows of 128 floats took 24 ms (three an update, ~5 % of an update at the reference size).
 * This one copies whole rows for the lookups training makes (axis 0, no batch dims, float32 or
 * int32 values): one `set` of a row per index. Anything else keeps tfjs's kernel, and so does
 * every backend but wasm.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { overrideWasmKernel, restoreWasmKernel } from "./wasm-kernel.js";

type GatherArgs = {
  inputs: { x: tf.TensorInfo; indices: tf.TensorInfo };
  attrs: { axis: number; batchDims: number };
  backend: BackendWasm;
};

let original: tf.KernelConfig | undefined;

function gatherRows(args: GatherArgs): tf.TensorInfo {
  const { inputs: { x, indices }, attrs: { axis, batchDims }, backend } = args;
  const ax = x.shape.length > 0 ? tf.util.parseAxisParam(axis, x.shape)[0] : -1;
  if (ax !== 0 || batchDims !== 0 || (x.dtype !== "float32" && x.dtype !== "int32") || indices.dtype !== "int32") {
    return original!.kernelFunc(args as never) as tf.TensorInfo;
  }
  const rows = x.shape[0], width = tf.util.sizeFromShape(x.shape.slice(1)), n = tf.util.sizeFromShape(indices.shape);
  const ids = backend.typedArrayFromHeap(indices) as Int32Array;
  for (let i = 0; i < n; i++) {
    if (!(ids[i] >= 0 && ids[i] < rows)) throw new RangeError(`GatherV2: the index value ${ids[i]} is not in [0, ${rows - 1}]`);
  }
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  if (n * width === 0) return out;
  // Views after makeOutput: growing the heap detaches earlier ones.
  const src = backend.typedArrayFromHeap(x), dst = backend.typedArrayFromHeap(out), idv = backend.typedArrayFromHeap(indices) as Int32Array;
  for (let i = 0; i < n; i++) dst.set(src.subarray(idv[i] * width, idv[i] * width + width), i * width);
  return out;
}

/** Replace the wasm backend's GatherV2 with the row-copying one (once). Import @tensorflow/tfjs-backend-wasm first. */
export function registerGatherRows(): void {
  original ??= overrideWasmKernel("registerGatherRows", tf.GatherV2, gatherRows);
}

/** Put tfjs-wasm's own GatherV2 back (tests). */
export function unregisterGatherRows(): void {
  if (!original) return;
  restoreWasmKernel(original);
  original = undefined;
}
