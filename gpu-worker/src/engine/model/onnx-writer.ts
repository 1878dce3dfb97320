/**
 * A minimal ONNX ModelProto encoder for the small helper graphs the runner builds itself (no protobuf library:
 * the few fields used are written by hand, field numbers from onnx.proto). Only what those graphs need: nodes
 * without attributes, inputs and outputs with an element type and symbolic dimensions.
 */

/** ONNX TensorProto.DataType values. */
export const OnnxElementType = { float32: 1, int64: 7, float16: 10 } as const;

export interface OnnxValueInfo {
  name: string;
  elementType: number;
  /** One symbolic name per dimension. */
  dims: readonly string[];
}

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  /** Default-domain opset. */
  opset: number;
}

/** IR version 8 (ONNX 1.10+): every runtime this project pins reads it. */
const IR_VERSION = 8;
const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

class ProtoWriter {
  private readonly bytes: number[] = [];

  varint(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytesField(field, new TextEncoder().encode(value));
  }

  message(field: number, message: ProtoWriter): this {
    return this.bytesField(field, message.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }

  private bytesField(field: number, value: Uint8Array): this {
    this.key(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(value.length);
    for (const byte of value) this.bytes.push(byte);
    return this;
  }

  private key(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  private rawVarint(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.bytes.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.bytes.push(rest);
  }
}

function valueInfo(info: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const dim of info.dims) shape.message(1, new ProtoWriter().string(2, dim)); // dim { dim_param }
  const tensorType = new ProtoWriter().varint(1, info.elementType).message(2, shape); // elem_type, shape
  return new ProtoWriter().string(1, info.name).message(2, new ProtoWriter().message(1, tensorType)); // name, type
}

/** The serialized ModelProto of `graph`. */
export function encodeOnnxModel(graph: OnnxGraph): Uint8Array {
  const graphProto = new ProtoWriter();
  graph.nodes.forEach((node, index) => {
    const nodeProto = new ProtoWriter();
    for (const input of node.inputs) nodeProto.string(1, input);
    for (const output of node.outputs) nodeProto.string(2, output);
    nodeProto.string(3, `${node.opType}_${index}`).string(4, node.opType);
    graphProto.message(1, nodeProto);
  });
  graphProto.string(2, graph.name);
  for (const input of graph.inputs) graphProto.message(11, valueInfo(input));
  for (const output of graph.outputs) graphProto.message(12, valueInfo(output));
  return new ProtoWriter()
    .varint(1, IR_VERSION)
    .string(2, "bd3-serve")
    .message(7, graphProto)
    .message(8, new ProtoWriter().string(1, "").varint(2, graph.opset))
    .finish();
}
