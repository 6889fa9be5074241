/**
 * The ONNX model of one float32 MatMul with fixed shapes, serialized in memory for the gemm bench's
 * onnxruntime reference. A protobuf writer of the few wire types ONNX needs (varint and
 * length-delimited) instead of a protobuf package; field numbers from onnx/onnx.proto (ONNX
 * IR version 8).
 */

/** Protobuf wire types used here. */
const VARINT = 0,
  LEN = 2;

/** A non-negative integer (below 2^53) as a base-128 varint. */
export function varint(v: number): number[] {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`varint: ${v} is not a non-negative safe integer`);
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** One protobuf message being written: fields in the order they are added. */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];

  /** An integer field (int32, int64, enum). */
  int(field: number, v: number): this {
    this.parts.push(Uint8Array.from([...varint((field << 3) | VARINT), ...varint(v)]));
    return this;
  }

  /** A length-delimited field: raw bytes. */
  bytes(field: number, b: Uint8Array): this {
    this.parts.push(Uint8Array.from([...varint((field << 3) | LEN), ...varint(b.length)]), b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  /** An embedded message. */
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

// onnx.proto field numbers.
const MODEL = { irVersion: 1, producerName: 2, graph: 7, opsetImport: 8 } as const;
const OPSET_ID = { domain: 1, version: 2 } as const;
const GRAPH = { node: 1, name: 2, input: 11, output: 12 } as const;
const NODE = { input: 1, output: 2, name: 3, opType: 4 } as const;
const VALUE_INFO = { name: 1, type: 2 } as const;
const TYPE = { tensorType: 1 } as const;
const TENSOR_TYPE = { elemType: 1, shape: 2 } as const;
const SHAPE = { dim: 1 } as const;
const DIM = { dimValue: 1 } as const;
/** TensorProto.DataType.FLOAT. */
const FLOAT = 1;

/** IR version 8 (ONNX 1.10+) and opset 17: read by every onnxruntime since 1.11; MatMul is unchanged since opset 13. */
export const IR_VERSION = 8,
  OPSET = 17;

function valueInfo(name: string, dims: number[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(SHAPE.dim, new ProtoWriter().int(DIM.dimValue, d));
  const tensorType = new ProtoWriter().int(TENSOR_TYPE.elemType, FLOAT).message(TENSOR_TYPE.shape, shape);
  return new ProtoWriter()
    .string(VALUE_INFO.name, name)
    .message(VALUE_INFO.type, new ProtoWriter().message(TYPE.tensorType, tensorType));
}

/**
 * A serialized ModelProto computing C[M,N] = A[M,K] @ B[K,N] (float32): graph inputs "A" and "B",
 * output "C", one MatMul node.
 * @example
 * const session = await ort.InferenceSession.create(matMulModel(64, 32, 16));
 */
export function matMulModel(m: number, k: number, n: number): Uint8Array {
  const node = new ProtoWriter()
    .string(NODE.input, 'A')
    .string(NODE.input, 'B')
    .string(NODE.output, 'C')
    .string(NODE.name, 'matmul')
    .string(NODE.opType, 'MatMul');
  const graph = new ProtoWriter()
    .message(GRAPH.node, node)
    .string(GRAPH.name, `matmul_${m}x${k}x${n}`)
    .message(GRAPH.input, valueInfo('A', [m, k]))
    .message(GRAPH.input, valueInfo('B', [k, n]))
    .message(GRAPH.output, valueInfo('C', [m, n]));
  return new ProtoWriter()
    .int(MODEL.irVersion, IR_VERSION)
    .string(MODEL.producerName, 'kiln bench')
    .message(MODEL.graph, graph)
    .message(MODEL.opsetImport, new ProtoWriter().string(OPSET_ID.domain, '').int(OPSET_ID.version, OPSET))
    .finish();
}
