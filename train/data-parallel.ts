/**
 * Data-parallel training on one machine: each update's batch is split into shards
 * (./batch.ts splitBatch), the main thread computes the first shard's gradients while worker
 * threads (./grad-worker.ts) compute the others on replicas of the SuperTransformer; the
 * gradients are summed (as flat arrays), clipped and applied by Adam on the main thread, and the
 * weights that changed travel to the workers with their next request.
 *
 * The sum of the shards' gradients is the whole batch's gradient (each shard's loss is divided by
 * the batch's token count), so an update is the same update as on one thread up to float rounding.
 * tfjs-backend-wasm runs one thread under Node; this is how training uses the other cores.
 */
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import type { TensorMap } from "../runtime/weights.js";
import { splitBatch, type PaddedBatch } from "./batch.js";
import type { Adam, Gradient } from "./optim.js";
import { applyGradients, archList, disposeGradients, shardGradients, stepResult, type StepOptions, type StepResult, type UpdateArchs } from "./step.js";
import type { SuperTransformer } from "./supertransformer.js";
import type { GradReply, GradRequest, TeacherInit, WorkerInit } from "./grad-worker.js";

/**
 * A worker on the script next to this file: the compiled .js, or (running from source) the .ts
 * through tsx's loader, registered inside the worker by a small bootstrap.
 */
function spawnWorker(init: WorkerInit): Worker {
  const fromSource = fileURLToPath(import.meta.url).endsWith(".ts");
  if (!fromSource) return new Worker(new URL("./grad-worker.js", import.meta.url), { workerData: init });
  const script = new URL("./grad-worker.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api"); // from here: the worker's own cwd may not see tsx
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

interface Pending {
  resolve: (r: GradReply) => void;
  reject: (e: Error) => void;
}

/** One worker thread and its request in flight. */
class GradWorker {
  private pending?: Pending;
  private failed?: Error;
  /** Names of the variables whose new values this worker has not received yet. */
  readonly stale = new Set<string>();

  private constructor(private readonly worker: Worker) {
    worker.on("message", (m: GradReply) => {
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if ("error" in m) p.reject(new Error(`gradient worker: ${m.error}`));
      else p.resolve(m);
    });
    const fail = (e: Error) => {
      this.failed = e;
      this.pending?.reject(e);
      this.pending = undefined;
    };
    worker.on("error", (e) => fail(new Error(`gradient worker failed: ${e.message}`)));
    worker.on("exit", (code) => fail(new Error(`gradient worker exited (code ${code})`)));
  }

  static start(init: WorkerInit): Promise<GradWorker> {
    const w = spawnWorker(init);
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new Error(`gradient worker did not start: ${e.message}`));
      const onExit = (code: number) => reject(new Error(`gradient worker exited while starting (code ${code})`));
      w.once("error", onError);
      w.once("exit", onExit);
      w.once("message", () => {
        w.off("error", onError);
        w.off("exit", onExit);
        resolve(new GradWorker(w));
      });
    });
  }

  request(req: GradRequest): Promise<GradReply> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(req, req.weights.map(([, a]) => a.buffer as ArrayBuffer));
    });
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}

/** a += b, elementwise (same length: both are one variable's gradient). */
function addInto(a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new Error(`gradient sizes differ: ${a.length} and ${b.length}`);
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/** Updates of one SuperTransformer spread over this thread and `threads - 1` workers. */
export class DataParallel {
  private constructor(private readonly st: SuperTransformer, private readonly workers: GradWorker[]) {}

  /** Start `threads - 1` workers holding copies of `st`'s current weights (and of a distillation teacher's). */
  static async start(st: SuperTransformer, threads: number, backend: string, teacher?: TeacherInit): Promise<DataParallel> {
    const tensors: TensorMap = st.toTensorMap();
    const init: WorkerInit = { space: st.space, vocabSize: st.vocabSize, backend, tensors, teacher };
    const workers = await Promise.all(Array.from({ length: Math.max(0, threads - 1) }, () => GradWorker.start(init)));
    return new DataParallel(st, workers);
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** One update of `archs` on `batch`: gradients on every thread, summed, clipped, Adam. */
  async step(opt: Adam, archs: UpdateArchs, batch: PaddedBatch, o: StepOptions): Promise<StepResult> {
    const arch = archList(archs);
    const shards = splitBatch(batch, this.threads);
    const common = { batchTokens: batch.tokens, labelSmoothing: o.labelSmoothing ?? 0.1, rates: o.rates ?? {} };
    const replies = shards.slice(1).map((shard, i) => {
      const w = this.workers[i];
      const weights: [string, Float32Array][] = [];
      for (const name of w.stale) weights.push([name, new Float32Array(this.st.variable(name).dataSync() as Float32Array)]);
      w.stale.clear();
      return w.request({ weights, arch, shard, ...common });
    });
    let mine;
    try {
      mine = shardGradients(this.st, arch, shards[0], batch.tokens, { ...common, teacher: o.teacher });
    } catch (e) {
      await Promise.allSettled(replies);
      throw e;
    }
    let lossSum = mine.lossSum, nllSum = mine.nllSum;
    // The sum lands in the workers' arrays (ours once received); this thread's tensors are read once.
    const grads = new Map<string, Gradient>(mine.grads);
    try {
      for (const r of await Promise.all(replies)) {
        if ("error" in r) throw new Error(r.error);
        lossSum += r.lossSum;
        nllSum += r.nllSum;
        for (const [name, data] of r.grads) {
          const have = grads.get(name);
          if (have === undefined) grads.set(name, data);
          else if (have instanceof Float32Array) addInto(have, data);
          else {
            addInto(data, have.dataSync() as Float32Array);
            have.dispose();
            grads.set(name, data);
          }
        }
      }
    } catch (e) {
      disposeGradients(grads);
      throw e;
    }
    for (const w of this.workers) for (const name of grads.keys()) w.stale.add(name);
    const gradNorm = applyGradients(this.st, opt, grads, o.lr, o.clipNorm ?? 0);
    return stepResult(lossSum, nllSum, batch, arch.length, gradNorm);
  }

  /** Stop the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
