// The packed k-means matrix layout (docs/runtime.md, "k-means products"): the one table the
// kernels (assembly/kmeans.ts) and the host's packer (runtime/kmeans.ts) share. Plain integer
// constants, in the subset AssemblyScript and TypeScript both compile (as assembly/layout.ts).
//
// A packed matrix is a stored matrix of R rows and C columns (a weight [in, out], or the shared
// embedding [V, D]); the kernels read any front slice of it:
//
//   offset  bytes        field
//   0       64           header: i32 fields KM_ROWS, KM_COLS, KM_BITS, KM_STRIDE
//   64      1024         codebook: 256 f32 (the first 2^bits used, the rest 0)
//   1088    R·stride     indices, row after row, each row starting on a byte:
//                        8 bits one a byte; 4 bits two a byte, element 2i of a row in the low
//                        nibble of its byte i and 2i+1 in the high one (an odd C leaves the last
//                        high nibble 0); stride = ceil(C·bits / 8) bytes
//
// Element (r, c) is codebook[index(r, c)]: the file's centroids and indices, not quantized again.

export const KM_ROWS = 0;
export const KM_COLS = 1;
export const KM_BITS = 2;
export const KM_STRIDE = 3; // bytes per row of indices
export const KM_CODEBOOK = 64; // byte offset of the codebook
export const KM_CODEBOOK_ENTRIES = 256;
export const KM_DATA = 1088; // byte offset of the indices: 64 + 256·4
/** Up to this K a transposed product (the output projection over the embedding's D) decodes 8 rows
 *  at a time (matmul_nt's blocks); above, one row at a time. */
export const KM_NT_BLOCK_K = 1024;
/** The largest K of a transposed product and D of a lookup: one decoded row of the scratch. */
export const KM_MAX_NT_K = 8 * KM_NT_BLOCK_K;
