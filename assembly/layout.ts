// The model descriptor and decoder state layouts: i32 field offsets, in units of 4 bytes. The one
// table both sides use: assembly/model.ts reads these fields, runtime/wasm-model.ts writes the
// descriptor. Written in the subset AssemblyScript and TypeScript both compile (plain integer
// constants: asc infers i32 and inlines them; tsc sees numbers), so the two cannot disagree.
//
// Model descriptor: a header of M_HEADER ints, then E_STRIDE ints per encoder layer, then
// D_STRIDE ints per decoder layer. Pointers are byte offsets into wasm memory; LD* fields are the
// stored tensors' leading dimensions (a SuperTransformer's or a compact model's).

// header
export const M_V = 0; // vocabulary size
export const M_DE = 1; // encoder embed dim
export const M_DD = 2; // decoder embed dim
export const M_LE = 3; // encoder layers
export const M_LD = 4; // decoder layers
export const M_Q = 5; // qkv dim
export const M_EMB = 6; // embed.tokens pointer
export const M_LDEMB = 7;
export const M_POSE = 8; // encoder sinusoid table pointer
export const M_LDPOSE = 9;
export const M_POSD = 10; // decoder sinusoid table pointer
export const M_LDPOSD = 11;
export const M_MAXPOS = 12; // rows of the position tables usable
export const M_QUANT = 13; // products: 0 f32; 1 int8 (every matrix pointer is then a packed int8 matrix, assembly/q8-layout.ts); 2 k-means (a packed k-means matrix, assembly/km-layout.ts)
export const M_EMBQ = 14; // int8: the output projection, embed.tokens packed as a [Dd, V] int8 matrix (M_EMB stays the f32 lookup table)
export const M_EMBKM = 15; // the embedding as a packed k-means matrix [V, D] (lookup and output projection), or 0: M_EMB
export const M_HEADER = 16;

// encoder layer: heads, FFN dim, leading dims, then pointers
export const E_H = 0;
export const E_F = 1;
export const E_LDD = 2; // stored embed dim (of self.o.w and ffn.fc2.w)
export const E_LDF = 3; // stored FFN dim (of ffn.fc1.w)
export const E_ATTN = 4; // self-attention block (A_*, 8 pointers)
export const E_LN1 = 12; // self_ln g, b
export const E_FC1 = 14; // ffn.fc1 w, b
export const E_FC2 = 16; // ffn.fc2 w, b
export const E_LN2 = 18; // ffn_ln g, b
export const E_STRIDE = 20;

// decoder layer: heads, FFN dim, encoder layers attended, leading dims, then pointers
export const D_HS = 0; // self-attention heads
export const D_HC = 1; // cross-attention heads
export const D_F = 2;
export const D_K = 3; // last k encoder layers attended
export const D_LDD = 4;
export const D_LDF = 5;
export const D_SELF = 6; // self-attention block (A_*)
export const D_LN1 = 14;
export const D_CROSS = 16; // cross-attention block (A_*)
export const D_LN2 = 24;
export const D_FC1 = 26;
export const D_FC2 = 28;
export const D_LN3 = 30;
export const D_STRIDE = 32;

// an attention block's pointers, from its E_ATTN / D_SELF / D_CROSS offset
export const A_QW = 0;
export const A_QB = 1;
export const A_KW = 2;
export const A_KB = 3;
export const A_VW = 4;
export const A_VB = 5;
export const A_OW = 6;
export const A_OB = 7;

// Decoder state (written and read by the wasm only): Bs, beam, S, Tm, B = Bs·beam, the source
// lengths pointer, then S_PER_LAYER pointers per decoder layer from S_LAYERS: selfK, selfV,
// crossK, crossV.
export const S_BS = 0;
export const S_BEAM = 1;
export const S_S = 2;
export const S_TM = 3;
export const S_B = 4;
export const S_LENS = 5;
export const S_LAYERS = 8;
export const S_PER_LAYER = 4;
