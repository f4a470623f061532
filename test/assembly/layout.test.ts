/**
 * assembly/layout.ts is the one descriptor table of both sides; this checks the built wasm was
 * compiled from the same table as the host reads (a stale build/ would disagree).
 */
import { describe, expect, it } from "vitest";
import { D_STRIDE, E_STRIDE, M_HEADER } from "../../assembly/layout.js";
import { loadWasm } from "../../runtime/wasm-node.js";

describe("descriptor layout", () => {
  it("the wasm's descriptor size and layer offsets are the table's", () => {
    const x = loadWasm().x;
    for (const [Le, Ld] of [[1, 1], [6, 6], [2, 5]]) {
      expect(x.model_desc_ints(Le, Ld)).toBe(M_HEADER + Le * E_STRIDE + Ld * D_STRIDE);
      for (let i = 0; i < Le; i++) expect(x.enc_layer_offset(i)).toBe(M_HEADER + i * E_STRIDE);
      for (let i = 0; i < Ld; i++) expect(x.dec_layer_offset(Le, i)).toBe(M_HEADER + Le * E_STRIDE + i * D_STRIDE);
    }
  });
});
