// A hand-written protobuf encoder for the few ONNX messages a one-node MatMul model needs.
// No dependency: protobuf wire format is varint keys (field << 3 | wire type), varints
// (wire type 0) and length-delimited bytes (wire type 2: varint length, then the bytes).
//
// Field numbers are from onnx/onnx.proto3:
//   ModelProto        ir_version=1 (int64)  producer_name=2  graph=7  opset_import=8
//   OperatorSetIdProto domain=1  version=2 (int64)
//   GraphProto        node=1  name=2  initializer=5  input=11  output=12
//   NodeProto         input=1  output=2  name=3  op_type=4  domain=7
//   TensorProto       dims=1 (int64)  data_type=2 (int32, FLOAT=1)  name=8  raw_data=9
//   ValueInfoProto    name=1  type=2
//   TypeProto         tensor_type=1
//   TypeProto.Tensor  elem_type=1 (int32)  shape=2
//   TensorShapeProto  dim=1
//   Dimension         dim_value=1 (int64)  dim_param=2

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

export const ONNX_FLOAT = 1;

/** Growable byte buffer with protobuf primitives. */
export class PbWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Unsigned varint for a non-negative integer up to 2^53 (no bit ops: they truncate to 32 bits). */
  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint: ${v} is not a non-negative safe integer`);
    this.reserve(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** int32/int64/uint64/enum field (non-negative values only). */
  int(field: number, v: number): this {
    return this.tag(field, WIRE_VARINT).varint(v);
  }

  lenDelim(field: number, b: Uint8Array): this {
    return this.tag(field, WIRE_LEN).varint(b.length).bytes(b);
  }

  string(field: number, s: string): this {
    return this.lenDelim(field, new TextEncoder().encode(s));
  }

  /** Embedded message: built by `build` into a fresh writer, then written length-delimited. */
  message(field: number, build: (w: PbWriter) => void): this {
    const w = new PbWriter();
    build(w);
    return this.lenDelim(field, w.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export type Dim = number | string;

function valueInfo(w: PbWriter, name: string, elemType: number, shape: readonly Dim[]): void {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, elemType);
      tensor.message(2, (sh) => {
        for (const d of shape) {
          sh.message(1, (dim) => (typeof d === "number" ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

function floatTensor(w: PbWriter, name: string, dims: readonly number[], data: Float32Array): void {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new RangeError(`tensor ${name}: ${data.length} values for dims [${dims}]`);
  for (const d of dims) w.int(1, d);
  w.int(2, ONNX_FLOAT);
  w.string(8, name);
  // raw_data is little-endian; typed arrays use host order, so check the host.
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  let raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!le) {
    raw = new Uint8Array(data.byteLength);
    const dv = new DataView(raw.buffer);
    data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  }
  w.lenDelim(9, raw);
}

export interface MatmulModelOptions {
  irVersion?: number;
  opset?: number;
  /** Symbolic name for the M dimension (e.g. "M") instead of a fixed size. */
  dynamicM?: string;
}

/**
 * ONNX model bytes for Y[M,N] = MatMul(X[M,K], W[K,N]) with W a float initializer.
 * Input "X", output "Y".
 */
export function matmulModel(M: number, K: number, N: number, W: Float32Array, opts: MatmulModelOptions = {}): Uint8Array {
  if (W.length !== K * N) throw new RangeError(`W has ${W.length} values, expected K*N = ${K * N}`);
  const irVersion = opts.irVersion ?? 8;
  const opset = opts.opset ?? 13;
  const mDim: Dim = opts.dynamicM ?? M;
  const w = new PbWriter();
  w.int(1, irVersion);
  w.string(2, "hat-edge-bench");
  w.message(7, (g) => {
    g.message(1, (node) => {
      node.string(1, "X");
      node.string(1, "W");
      node.string(2, "Y");
      node.string(3, "matmul");
      node.string(4, "MatMul");
    });
    g.string(2, "matmul_graph");
    g.message(5, (t) => floatTensor(t, "W", [K, N], W));
    g.message(11, (vi) => valueInfo(vi, "X", ONNX_FLOAT, [mDim, K]));
    g.message(12, (vi) => valueInfo(vi, "Y", ONNX_FLOAT, [mDim, N]));
  });
  w.message(8, (op) => {
    op.string(1, "");
    op.int(2, opset);
  });
  return w.finish();
}
