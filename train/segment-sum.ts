/**
 * The `UnsortedSegmentSum` kernel, which tfjs needs for the gradient of `gather` (embedding
 * lookups, the sparse cross-entropy): the gradient rows dy[i] are summed into row segmentIds[i]
 * of a zero tensor. One pass over dy, on the JS side.
 *
 * - wasm: tfjs-backend-wasm 4.22 has no such kernel; this one works on views of the wasm heap.
 * - cpu: tfjs-backend-cpu's kernel costs O(numSegments · rows) (a mask per segment): for the loss's
 *   flat gather over [R·V] it took ~16 s of a 24 s step; this one replaces it.
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/** What the cpu backend offers a kernel (tfjs-backend-cpu's MathBackendCPU, structurally). */
interface CpuBackendLike {
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues): tf.TensorInfo;
}

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
function segmentSumInto(o: tf.TypedArray, xs: tf.TypedArray, ids: tf.TypedArray, n: number, width: number, numSegments: number): void {
  o.fill(0);
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * width, dst = s * width;
    for (let j = 0; j < width; j++) o[dst + j] += xs[src + j];
  }
}

/** Output shape, number of segment ids and width of a row. */
function segmentDims(x: tf.TensorInfo, segmentIds: tf.TensorInfo, numSegments: number) {
  const inner = x.shape.slice(segmentIds.shape.length);
  return { outShape: [numSegments, ...inner], n: tf.util.sizeFromShape(segmentIds.shape), width: tf.util.sizeFromShape(inner) };
}

function unsortedSegmentSumWasm({ inputs, attrs, backend }: SegmentSumArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs;
  const { outShape, n, width } = segmentDims(x, segmentIds, attrs.numSegments);
  // Allocate first: growing the wasm memory would detach views taken before.
  const out = backend.makeOutput(outShape, x.dtype);
  const o = backend.typedArrayFromHeap(out);
  segmentSumInto(o, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(segmentIds), n, width, attrs.numSegments);
  return out;
}

function unsortedSegmentSumCpu({ inputs, attrs, backend }: { inputs: SegmentSumArgs["inputs"]; attrs: SegmentSumArgs["attrs"]; backend: CpuBackendLike }): tf.TensorInfo {
  const { x, segmentIds } = inputs;
  const { outShape, n, width } = segmentDims(x, segmentIds, attrs.numSegments);
  const o = tf.util.getTypedArrayFromDType(x.dtype as "float32" | "int32", tf.util.sizeFromShape(outShape));
  segmentSumInto(o, backend.readSync(x.dataId) as tf.TypedArray, backend.readSync(segmentIds.dataId) as tf.TypedArray, n, width, attrs.numSegments);
  return backend.makeTensorInfo(outShape, x.dtype, o);
}

const registered = new Set<string>();

/**
 * Register this kernel for `backendName` ("wasm" or "cpu"), replacing the backend's own (once;
 * later calls do nothing).
 */
export function registerSegmentSum(backendName: "wasm" | "cpu"): void {
  if (registered.has(backendName)) return;
  if (tf.getKernel(tf.UnsortedSegmentSum, backendName)) tf.unregisterKernel(tf.UnsortedSegmentSum, backendName);
  tf.registerKernel({
    kernelName: tf.UnsortedSegmentSum,
    backendName,
    kernelFunc: (backendName === "wasm" ? unsortedSegmentSumWasm : unsortedSegmentSumCpu) as unknown as tf.KernelFunc,
  });
  registered.add(backendName);
}
