// The hat-edge WebAssembly module: kernels and the SubTransformer forward pass.
// Memory is owned by the host (runtime/wasm.ts): it lays out weights, descriptors and scratch
// above heapBase() and passes byte offsets. Nothing here allocates or keeps state.

export { matmul, matmul_nt, matmul_naive, matmul_nt_naive, gemv } from "./matmul";
export { q8_matmul, q8_matmul_naive, q8_levels } from "./int8";
export { km_matmul, km_matmul_nt, km_decode } from "./kmeans";
export { add_layernorm, layernorm_naive } from "./norm";
export { relu } from "./activation";
export { transpose, transpose_naive } from "./transpose";
export { attention, softmax_row } from "./attention";
export { embed } from "./embed";
export { thread_init } from "./thread-id";
export { set_threads, worker_step, stop_workers, thread_ctrl, product_op } from "./threads";
export { token_nll, smoothed_ce_grad, log_softmax_rows, gather_rows } from "./decode";
export {
  model_desc_ints, enc_layer_offset, dec_layer_offset,
  encode_scratch_bytes, encode,
  decoder_state_bytes, decoder_init, decoder_scratch_bytes, decoder_step, decoder_forward,
  decoder_reorder, output_logits,
} from "./model";

/** First byte the host may use. */
export function heapBase(): usize {
  return (__heap_base + 63) & ~63;
}
