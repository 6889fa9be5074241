/**
 * ONNX models with fixed shapes, serialized in memory for the benches' onnxruntime references
 * (onnxGraphModel: any graph of standard operators; matMulModel: one MatMul). A protobuf writer of
 * the few wire types ONNX needs (varint, 32-bit and length-delimited) instead of a protobuf
 * package; field numbers from onnx/onnx.proto (ONNX IR version 8).
 */

/** Protobuf wire types used here. */
const VARINT = 0,
  LEN = 2,
  FIXED32 = 5;

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

  /** An int64 field that may be negative (two's complement, ten bytes, as protobuf encodes int64). */
  sint(field: number, v: number): this {
    if (v >= 0) return this.int(field, v);
    let u = BigInt.asUintN(64, BigInt(v));
    const bytes = [...varint((field << 3) | VARINT)];
    while (u >= 0x80n) {
      bytes.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    bytes.push(Number(u));
    this.parts.push(Uint8Array.from(bytes));
    return this;
  }

  /** A 32-bit fixed field (a float's four bytes, little-endian). */
  fixed32(field: number, b: Uint8Array): this {
    this.parts.push(Uint8Array.from([...varint((field << 3) | FIXED32), ...b]));
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
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12 } as const;
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 } as const;
const ATTRIBUTE = { name: 1, f: 2, i: 3, s: 4, floats: 7, ints: 8, type: 20 } as const;
const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;
const TENSOR = { dims: 1, dataType: 2, name: 8, rawData: 9 } as const;
const VALUE_INFO = { name: 1, type: 2 } as const;
const TYPE = { tensorType: 1 } as const;
const TENSOR_TYPE = { elemType: 1, shape: 2 } as const;
const SHAPE = { dim: 1 } as const;
const DIM = { dimValue: 1 } as const;
/** TensorProto.DataType values of the element types the benches use. */
export const ELEM = { float32: 1, int64: 7, bool: 9 } as const;
export type ElemType = keyof typeof ELEM;

/** IR version 8 (ONNX 1.10+) and opset 17: read by every onnxruntime since 1.11 (LayerNormalization needs 17). */
export const IR_VERSION = 8,
  OPSET = 17;

/** A graph input or output: name, dims and element type (float32 by default). */
export interface OnnxValue {
  name: string;
  dims: number[];
  type?: ElemType;
}

/** A node attribute: a number is an INT when it is an integer (pass `{ f: x }` for a FLOAT), arrays are INTS or FLOATS. */
export type OnnxAttr = number | { f: number } | number[] | { floats: number[] } | string;

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, OnnxAttr>;
}

/** A constant tensor of the graph (float32 values, or int64 with type 'int64'). */
export interface OnnxInitializer extends OnnxValue {
  values: number[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  initializers?: OnnxInitializer[];
}

function valueInfo(v: OnnxValue): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(SHAPE.dim, new ProtoWriter().int(DIM.dimValue, d));
  const tensorType = new ProtoWriter()
    .int(TENSOR_TYPE.elemType, ELEM[v.type ?? 'float32'])
    .message(TENSOR_TYPE.shape, shape);
  return new ProtoWriter()
    .string(VALUE_INFO.name, v.name)
    .message(VALUE_INFO.type, new ProtoWriter().message(TYPE.tensorType, tensorType));
}

function attribute(name: string, a: OnnxAttr): ProtoWriter {
  const w = new ProtoWriter().string(ATTRIBUTE.name, name);
  const floatBytes = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
  if (typeof a === 'string') return w.string(ATTRIBUTE.s, a).int(ATTRIBUTE.type, ATTRIBUTE_TYPE.STRING);
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new Error(`onnx attribute ${name}: ${a} is not an integer; pass { f: ${a} }`);
    return w.sint(ATTRIBUTE.i, a).int(ATTRIBUTE.type, ATTRIBUTE_TYPE.INT);
  }
  if (Array.isArray(a)) {
    for (const x of a) w.sint(ATTRIBUTE.ints, x);
    return w.int(ATTRIBUTE.type, ATTRIBUTE_TYPE.INTS);
  }
  if ('f' in a) return w.fixed32(ATTRIBUTE.f, floatBytes([a.f])).int(ATTRIBUTE.type, ATTRIBUTE_TYPE.FLOAT);
  for (const x of a.floats) w.fixed32(ATTRIBUTE.floats, floatBytes([x]));
  return w.int(ATTRIBUTE.type, ATTRIBUTE_TYPE.FLOATS);
}

function initializer(t: OnnxInitializer): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(TENSOR.dims, d);
  const raw =
    (t.type ?? 'float32') === 'float32'
      ? new Uint8Array(Float32Array.from(t.values).buffer)
      : new Uint8Array(BigInt64Array.from(t.values.map((v) => BigInt(v))).buffer);
  return w
    .int(TENSOR.dataType, ELEM[t.type ?? 'float32'])
    .string(TENSOR.name, t.name)
    .bytes(TENSOR.rawData, raw);
}

/**
 * A serialized ModelProto (IR 8, opset 17) of a graph of standard ONNX operators: nodes in
 * execution order, graph inputs fed at run time, constants as initializers.
 * @example
 * onnxGraphModel({ name: 'relu', nodes: [{ op: 'Relu', inputs: ['X'], outputs: ['Y'] }],
 *   inputs: [{ name: 'X', dims: [4] }], outputs: [{ name: 'Y', dims: [4] }] });
 */
export function onnxGraphModel(g: OnnxGraph): Uint8Array {
  const graph = new ProtoWriter();
  g.nodes.forEach((n, i) => {
    const node = new ProtoWriter();
    for (const x of n.inputs) node.string(NODE.input, x);
    for (const y of n.outputs) node.string(NODE.output, y);
    node.string(NODE.name, `${n.op.toLowerCase()}_${i}`).string(NODE.opType, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) node.message(NODE.attribute, attribute(k, v));
    graph.message(GRAPH.node, node);
  });
  graph.string(GRAPH.name, g.name);
  for (const t of g.initializers ?? []) graph.message(GRAPH.initializer, initializer(t));
  for (const v of g.inputs) graph.message(GRAPH.input, valueInfo(v));
  for (const v of g.outputs) graph.message(GRAPH.output, valueInfo(v));
  return new ProtoWriter()
    .int(MODEL.irVersion, IR_VERSION)
    .string(MODEL.producerName, 'kiln bench')
    .message(MODEL.graph, graph)
    .message(MODEL.opsetImport, new ProtoWriter().string(OPSET_ID.domain, '').int(OPSET_ID.version, OPSET))
    .finish();
}

/**
 * A serialized ModelProto computing C[M,N] = A[M,K] @ B[K,N] (float32): graph inputs "A" and "B",
 * output "C", one MatMul node.
 * @example
 * const session = await ort.InferenceSession.create(matMulModel(64, 32, 16));
 */
export const matMulModel = (m: number, k: number, n: number): Uint8Array =>
  onnxGraphModel({
    name: `matmul_${m}x${k}x${n}`,
    nodes: [{ op: 'MatMul', inputs: ['A', 'B'], outputs: ['C'] }],
    inputs: [
      { name: 'A', dims: [m, k] },
      { name: 'B', dims: [k, n] },
    ],
    outputs: [{ name: 'C', dims: [m, n] }],
  });
