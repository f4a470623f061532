// The int8 matrix layout (docs/runtime.md, "int8 products"): the one table the kernels
// (assembly/int8.ts) and the host's packer (runtime/int8.ts) share. Plain integer constants, in
// the subset AssemblyScript and TypeScript both compile (as assembly/layout.ts).
//
// A packed matrix stands for W[K, N] (y = x · W): a 64-byte header of i32 fields, then
//   data   Np·Kp i8   panels of 8 columns; panel p holds, for each group of 4 rows k..k+3,
//                     32 bytes: columns 8p..8p+3 (4 bytes each: rows k..k+3), then 8p+4..8p+7
//   scales Np f32     s_c, the channel's scale (0 in the padding)
//   r      Np i32     128 - z_c (z_c the file's zero point)
//   sums   Np i32     Σ_{k<K} (q_kc - z_c)
// Each element is stored as q - 128 (signed i8; q in [0, 256) the file's index), padding rows and
// columns as 0. Kp = K rounded up to 4, Np = N rounded up to 8.

export const Q8_K = 0; // rows (the product's K)
export const Q8_N = 1; // columns (the product's N)
export const Q8_KP = 2;
export const Q8_NP = 3;
export const Q8_SCALES = 4; // byte offsets from the matrix's start
export const Q8_R = 5;
export const Q8_SUMS = 6;
export const Q8_HEADER_BYTES = 64; // data starts here
/** The largest K a packed matrix may have (the kernel's activation buffer holds Q8_ROWS rows of it). */
export const Q8_MAX_K = 4096;
/** Rows of x quantized at a time (the activation buffer's rows). */
export const Q8_ROWS = 16;
