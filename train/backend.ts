/**
 * Choosing the TensorFlow.js backend the trainer runs on.
 *
 * Order of preference: `node-gpu` (@tensorflow/tfjs-node-gpu, libtensorflow with CUDA), `node`
 * (@tensorflow/tfjs-node, libtensorflow on the CPU), `wasm` (@tensorflow/tfjs-backend-wasm, XNNPACK
 * SIMD kernels, plus the `UnsortedSegmentSum` kernel it lacks, see ./segment-sum.ts), `cpu` (plain
 * JavaScript, with a linear-time `UnsortedSegmentSum` in place of its quadratic one). The two native packages are optionalDependencies: their install downloads
 * libtensorflow from outside the npm registry, so on most machines they are simply absent.
 * `HAT_BACKEND=<name>` (or the `preferred` argument) forces one backend; if it cannot start, the
 * selection fails rather than silently training elsewhere.
 */
import * as tf from "@tensorflow/tfjs";
import { allProducts, batchedOnly, registerHatMatmul } from "./hat-matmul.js";
import { enableFusedLoss } from "./hat-loss.js";
import { registerGatherRows } from "./wasm-gather.js";
import { registerSharedIdentity } from "./wasm-identity.js";
import { registerSegmentSum } from "./segment-sum.js";

/** The backends the trainer knows, best first. */
export const BACKEND_ORDER = ["node-gpu", "node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

/** What selectBackend picked and why the better ones were skipped. */
export interface BackendChoice {
  /** Our name of the backend (`node-gpu`, `node`, `wasm`, `cpu`). */
  name: BackendName;
  /** tfjs's registry name of it (`tensorflow` for both native packages). */
  tfName: string;
  /** One line per backend tried before it and skipped, with the reason. */
  skipped: string[];
}

/** Import a module whose name TypeScript must not resolve at compile time (optional packages). */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

function errLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].slice(0, 200);
}

/** Try to make `name` the active backend; returns tfjs's name for it, or throws with the reason. */
async function tryBackend(name: BackendName): Promise<string> {
  switch (name) {
    case "node-gpu":
    case "node": {
      // Both register tfjs's "tensorflow" backend; the GPU build uses CUDA when it finds a device.
      await importOptional(name === "node-gpu" ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node");
      if (!(await tf.setBackend("tensorflow"))) throw new Error("the tensorflow backend failed to initialise");
      return "tensorflow";
    }
    case "wasm": {
      await import("@tensorflow/tfjs-backend-wasm");
      registerSegmentSum("wasm");
      // Every product (BatchMatMul, _FusedMatMul) on our own wasm kernels (./hat-matmul.ts):
      // attention's batched ones 5-8x tfjs-wasm's naive batched path, the 2-d ones past XNNPACK's.
      // HAT_TRAIN_KERNELS=hat-batched sends only the batched ones; =tfjs keeps tfjs's own kernels.
      // With "hat" (the default) also the label-smoothed loss in one pass (./hat-loss.ts), an
      // Identity that shares its buffer (./wasm-identity.ts) and embedding lookups that copy rows
      // (./wasm-gather.ts); HAT_TRAIN_KERNELS=hat-products takes the products only (for comparing).
      const kernels = process.env.HAT_TRAIN_KERNELS ?? "hat";
      if (kernels === "hat" || kernels === "hat-products") registerHatMatmul(allProducts);
      else if (kernels === "hat-batched") registerHatMatmul(batchedOnly);
      else if (kernels !== "tfjs") throw new Error(`HAT_TRAIN_KERNELS must be hat, hat-products, hat-batched or tfjs, got "${kernels}"`);
      if (kernels === "hat") {
        enableFusedLoss(true);
        registerSharedIdentity();
        registerGatherRows();
      }
      if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend failed to initialise");
      return "wasm";
    }
    case "cpu": {
      registerSegmentSum("cpu");
      if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend failed to initialise");
      return "cpu";
    }
  }
}

function isBackendName(s: string): s is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(s);
}

/**
 * Select and activate the best available backend. `preferred` (else the `HAT_BACKEND`
 * environment variable) forces one: an unknown name or one that fails to start throws.
 * Logs one line through `log` (default console.error) naming the choice and the skipped ones.
 */
export async function selectBackend(
  preferred?: string,
  log: (line: string) => void = (l) => console.error(l),
): Promise<BackendChoice> {
  const forced = preferred ?? (process.env.HAT_BACKEND || undefined);
  if (forced !== undefined) {
    if (!isBackendName(forced)) throw new Error(`unknown backend "${forced}": use one of ${BACKEND_ORDER.join(", ")}`);
    let tfName: string;
    try {
      tfName = await tryBackend(forced);
    } catch (e) {
      throw new Error(`backend ${forced} (requested${preferred === undefined ? " by HAT_BACKEND" : ""}) is unavailable: ${errLine(e)}`);
    }
    log(`tfjs backend: ${forced} (requested${preferred === undefined ? " by HAT_BACKEND" : ""})`);
    return { name: forced, tfName, skipped: [] };
  }
  const skipped: string[] = [];
  for (const name of BACKEND_ORDER) {
    try {
      const tfName = await tryBackend(name);
      log(`tfjs backend: ${name}${skipped.length ? ` (skipped ${skipped.join("; ")})` : ""}`);
      return { name, tfName, skipped };
    } catch (e) {
      skipped.push(`${name}: ${errLine(e)}`);
    }
  }
  throw new Error(`no tfjs backend could start: ${skipped.join("; ")}`);
}
