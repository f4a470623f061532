/**
 * A gradient worker of data-parallel training (./data-parallel.ts), run in a worker thread: it
 * holds a replica of the SuperTransformer's variables on its own tfjs backend and, per request,
 * takes the weights that changed since the last request, computes one shard's gradients
 * (./step.ts shardGradients) and sends them back. The optimiser lives on the main thread only.
 */
import * as tf from "@tensorflow/tfjs";
import { parentPort, workerData } from "node:worker_threads";
import type { Space, ValidArch } from "../runtime/types.js";
import type { TensorMap } from "../runtime/weights.js";
import { selectBackend } from "./backend.js";
import type { PaddedBatch } from "./batch.js";
import { shardGradients } from "./step.js";
import { SuperTransformer, type DropoutRates } from "./supertransformer.js";

/** What the worker is started with. */
export interface WorkerInit {
  space: Space;
  vocabSize: number;
  backend: string;
  tensors: TensorMap;
  /** Distillation: the teacher's weights (same space) and settings; each worker holds its own copy. */
  teacher?: TeacherInit;
}

/** A teacher as it travels to a worker (./step.ts Teacher without its SuperTransformer). */
export interface TeacherInit {
  tensors: TensorMap;
  arch: ValidArch;
  topK: number;
  weight: number;
}

/** One request: new weights (by name), then the gradients of `shard`. */
export interface GradRequest {
  weights: [string, Float32Array][];
  /** The update's SubTransformers (their gradients summed). */
  arch: readonly ValidArch[];
  shard: PaddedBatch;
  batchTokens: number;
  labelSmoothing: number;
  rates: Partial<DropoutRates>;
}

/** The reply: gradients by name (transferred), or the error that stopped the request. */
export type GradReply =
  | { grads: [string, Float32Array][]; lossSum: number; nllSum: number }
  | { error: string };

const port = parentPort!;
const init = workerData as WorkerInit;
await selectBackend(init.backend, () => {});
const st = new SuperTransformer(init.space, init.vocabSize, { tensors: init.tensors });
const t = init.teacher;
const teacher = t && { st: new SuperTransformer(init.space, init.vocabSize, { tensors: t.tensors }), arch: t.arch, topK: t.topK, weight: t.weight };
port.postMessage({ ready: true });

port.on("message", (req: GradRequest) => {
  try {
    for (const [name, data] of req.weights) {
      const v = st.variable(name);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape, "float32")));
    }
    const g = shardGradients(st, req.arch, req.shard, req.batchTokens, { labelSmoothing: req.labelSmoothing, rates: req.rates, teacher });
    const grads: [string, Float32Array][] = [];
    for (const [name, t] of g.grads) grads.push([name, new Float32Array(t.dataSync() as Float32Array)]); // a copy: transferable
    tf.dispose([...g.grads.values()]);
    const reply: GradReply = { grads, lossSum: g.lossSum, nllSum: g.nllSum };
    port.postMessage(reply, grads.map(([, a]) => a.buffer as ArrayBuffer));
  } catch (e) {
    port.postMessage({ error: e instanceof Error ? e.stack ?? e.message : String(e) } satisfies GradReply);
  }
});
