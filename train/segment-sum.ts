/**
 * The `UnsortedSegmentSum` kernel for tfjs's wasm backend, which does not ship one. tfjs needs it
 * for the gradient of `gather` (embedding lookups, the sparse cross-entropy): the gradient rows
 * dy[i] are summed into row segmentIds[i] of a zero tensor.
 *
 * Implemented on the JS side over the wasm heap (views, no copies): single-threaded, but the
 * work is one pass over dy.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

type SegmentSumArgs = {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  attrs: { numSegments: number };
  backend: BackendWasm;
};

/**
 * out[s, ...] = sum over i with segmentIds[i] = s of x[i, ...]; segmentIds' shape is a prefix of
 * x's, out is `[numSegments, ...x.shape[segmentIds.rank:]]`. Ids outside [0, numSegments) are
 * dropped, as TensorFlow does.
 */
function unsortedSegmentSumWasm({ inputs, attrs, backend }: SegmentSumArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs;
  const { numSegments } = attrs;
  const inner = x.shape.slice(segmentIds.shape.length);
  const outShape = [numSegments, ...inner];
  const n = tf.util.sizeFromShape(segmentIds.shape);
  const width = tf.util.sizeFromShape(inner);
  // Allocate first: growing the wasm memory would detach views taken before.
  const out = backend.makeOutput(outShape, x.dtype);
  const o = backend.typedArrayFromHeap(out);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * width, dst = s * width;
    for (let j = 0; j < width; j++) o[dst + j] += xs[src + j];
  }
  return out;
}

let registered = false;

/** Register the kernel for backend `wasm` (once; later calls do nothing). */
export function registerWasmSegmentSum(): void {
  if (registered || tf.getKernel(tf.UnsortedSegmentSum, "wasm")) {
    registered = true;
    return;
  }
  tf.registerKernel({
    kernelName: tf.UnsortedSegmentSum,
    backendName: "wasm",
    kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
  });
  registered = true;
}
