/**
 * The one HatWasm instance (build/hat.wasm) that training's own kernels run on, on this thread:
 * the products (./hat-matmul.ts) and the fused loss (./hat-loss.ts). Loaded on first use; its
 * arena is released after each call.
 */
import type { HatWasm } from "../runtime/wasm.js";
import { loadWasm } from "../runtime/wasm-node.js";

let hat: HatWasm | undefined;

export function hatInstance(): HatWasm {
  return (hat ??= loadWasm());
}
