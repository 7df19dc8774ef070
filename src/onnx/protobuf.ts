/**
 * ONNX wire format <-> the in-memory IR (ir.ts), through the protobufjs code that the `onnx-proto` package
 * generates from onnx.proto (ONNX 1.10 schema). Fields newer than that schema (e.g. FLOAT8 types, node
 * overloads) are unknown to it and skipped on read; none of them matters to the models the workbench runs.
 *
 * Reading accepts tensor data in raw_data (little-endian) and in the typed *_data fields; writing always uses
 * raw_data, which is what exporters write and what onnxruntime reads fastest.
 */
import onnxProto from 'onnx-proto';
import type { onnx as pb } from 'onnx-proto';
import {
  DataType,
  type Attribute,
  type Dim,
  type Graph,
  type Model,
  type Node,
  type TensorInit,
  type TensorValues,
  type ValueInfo,
} from './ir';
import { readExternalData, type ExternalFiles } from './external-data';

export {
  externalDataLocations,
  externalDataTensors,
  matchExternalFiles,
  normalizeLocation,
  type ExternalFiles,
} from './external-data';

const { onnx } = onnxProto;
type Int64 = number | { low: number; high: number; unsigned?: boolean };

/** The opset range of the default domain that the workbench's ops and autodiff are written for. */
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

/** A malformed or unsupported model; `where` names the graph, node, tensor or attribute at fault. */
export class OnnxFormatError extends Error {
  constructor(
    readonly where: string,
    problem: string,
  ) {
    super(`${where}: ${problem}`);
    this.name = 'OnnxFormatError';
  }
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('protobuf.ts assumes a little-endian host (ONNX raw_data is little-endian)');
}

interface TypedArrayCtor {
  new (length: number): TensorValues;
  new (buffer: ArrayBuffer): TensorValues;
  readonly BYTES_PER_ELEMENT: number;
}

const ARRAY_OF: Partial<Record<DataType, TypedArrayCtor>> = {
  [DataType.FLOAT]: Float32Array,
  [DataType.DOUBLE]: Float64Array,
  [DataType.INT8]: Int8Array,
  [DataType.UINT8]: Uint8Array,
  [DataType.BOOL]: Uint8Array,
  [DataType.INT16]: Int16Array,
  [DataType.UINT16]: Uint16Array,
  [DataType.FLOAT16]: Uint16Array,
  [DataType.BFLOAT16]: Uint16Array,
  [DataType.INT32]: Int32Array,
  [DataType.UINT32]: Uint32Array,
  [DataType.INT64]: BigInt64Array,
  [DataType.UINT64]: BigUint64Array,
};

function arrayCtor(dataType: number, where: string): TypedArrayCtor {
  const ctor = ARRAY_OF[dataType as DataType];
  if (!ctor) {
    const name = onnx.TensorProto.DataType[dataType] ?? `code ${dataType}`;
    throw new OnnxFormatError(where, `tensor data type ${name} is not supported`);
  }
  return ctor;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * protobufjs gives int64 fields as Long objects where the `long` package loads (Node), as numbers elsewhere
 * (browsers): there, int64_data values beyond ±2^53 arrive rounded, and are at least kept inside the int64 range.
 * raw_data, which exporters write, is exact everywhere.
 */
function int64ToBigInt(value: Int64): bigint {
  if (typeof value === 'number') {
    const big = BigInt(value);
    return big > INT64_MAX ? INT64_MAX : big < INT64_MIN ? INT64_MIN : big;
  }
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return value.unsigned ? bits : BigInt.asIntN(64, bits);
}

/** Dims and int attributes as numbers. Exporters write INT64_MAX for "to the end"; beyond ±2^53 we clamp to ±2^53−1. */
function int64ToNumber(value: Int64): number {
  const asNumber = typeof value === 'number' ? value : Number(int64ToBigInt(value));
  if (Number.isSafeInteger(asNumber)) return asNumber;
  return asNumber > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------------- reading

interface ReadContext {
  readonly external: ExternalFiles | undefined;
}

function readTensor(proto: pb.ITensorProto, where: string, context: ReadContext): TensorInit {
  const name = proto.name ?? '';
  const at = `${where} › tensor '${name}'`;
  if (proto.segment) throw new OnnxFormatError(at, 'segmented tensors are not supported');
  const dataType = proto.dataType ?? 0;
  const dims = (proto.dims ?? []).map((d) => int64ToNumber(d));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new OnnxFormatError(at, `invalid dims [${dims}]`);
  const ctor = arrayCtor(dataType, at);
  const count = elementCount(dims);
  const isExternal =
    (proto.externalData?.length ?? 0) > 0 || proto.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
  const data = isExternal
    ? readExternalData(proto, ctor, count, context.external, (problem) => new OnnxFormatError(at, problem))
    : readTensorData(proto, dataType, ctor, at);
  if (data.length !== count) {
    throw new OnnxFormatError(at, `holds ${data.length} elements but dims [${dims}] need ${count}`);
  }
  return { name, dataType, dims, data };
}

function readTensorData(proto: pb.ITensorProto, dataType: DataType, ctor: TypedArrayCtor, at: string): TensorValues {
  const raw = proto.rawData;
  if (raw && raw.length > 0) {
    if (raw.length % ctor.BYTES_PER_ELEMENT !== 0) {
      throw new OnnxFormatError(at, `raw_data has ${raw.length} bytes, not a multiple of ${ctor.BYTES_PER_ELEMENT}`);
    }
    // Copy: the decoded bytes are a view into the model buffer (a Buffer in Node) and may be unaligned.
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    return new ctor(copy.buffer);
  }
  switch (dataType) {
    case DataType.FLOAT:
      return Float32Array.from(proto.floatData ?? []);
    case DataType.DOUBLE:
      return Float64Array.from(proto.doubleData ?? []);
    case DataType.INT64:
      return BigInt64Array.from((proto.int64Data ?? []).map(int64ToBigInt));
    case DataType.UINT64:
      return BigUint64Array.from((proto.uint64Data ?? []).map((v) => BigInt.asUintN(64, int64ToBigInt(v))));
    case DataType.UINT32:
      return Uint32Array.from((proto.uint64Data ?? []).map((v) => Number(int64ToBigInt(v))));
    default: {
      // INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16 and BFLOAT16 (bit patterns) all live in int32_data.
      const values = proto.int32Data ?? [];
      const out = new ctor(values.length) as Exclude<TensorValues, BigInt64Array | BigUint64Array>;
      out.set(values);
      return out;
    }
  }
}

function readValueInfo(proto: pb.IValueInfoProto, where: string): ValueInfo | null {
  const name = proto.name ?? '';
  const tensorType = proto.type?.tensorType;
  if (!tensorType || !tensorType.elemType) return null;
  const at = `${where} › value '${name}'`;
  arrayCtor(tensorType.elemType, at);
  const shape: Dim[] | null = tensorType.shape
    ? (tensorType.shape.dim ?? []).map((d): Dim => {
        if (d.dimValue !== null && d.dimValue !== undefined) return int64ToNumber(d.dimValue);
        if (d.dimParam) return d.dimParam;
        return null;
      })
    : null;
  return { name, elemType: tensorType.elemType, shape };
}

function requireValueInfo(proto: pb.IValueInfoProto, where: string, role: string): ValueInfo {
  const info = readValueInfo(proto, where);
  if (!info) {
    throw new OnnxFormatError(`${where} › ${role} '${proto.name ?? ''}'`, 'is not a tensor with a known element type');
  }
  return info;
}

function decodeString(bytes: Uint8Array | null | undefined): string {
  return new TextDecoder().decode(bytes ?? new Uint8Array(0));
}

function readAttribute(proto: pb.IAttributeProto, where: string, context: ReadContext): Attribute {
  const at = `${where} › attribute '${proto.name ?? ''}'`;
  const T = onnx.AttributeProto.AttributeType;
  switch (proto.type) {
    case T.FLOAT:
      return { type: 'float', value: proto.f ?? 0 };
    case T.INT:
      return { type: 'int', value: int64ToNumber(proto.i ?? 0) };
    case T.STRING:
      return { type: 'string', value: decodeString(proto.s) };
    case T.TENSOR:
      if (!proto.t) throw new OnnxFormatError(at, 'TENSOR attribute without a tensor');
      return { type: 'tensor', value: readTensor(proto.t, at, context) };
    case T.GRAPH:
      if (!proto.g) throw new OnnxFormatError(at, 'GRAPH attribute without a graph');
      return { type: 'graph', value: readGraph(proto.g, at, context) };
    case T.FLOATS:
      return { type: 'floats', value: [...(proto.floats ?? [])] };
    case T.INTS:
      return { type: 'ints', value: (proto.ints ?? []).map((v) => int64ToNumber(v)) };
    case T.STRINGS:
      return { type: 'strings', value: (proto.strings ?? []).map(decodeString) };
    default: {
      const name = T[proto.type ?? 0] ?? `code ${proto.type}`;
      throw new OnnxFormatError(at, `attribute type ${name} is not supported`);
    }
  }
}

function readNode(proto: pb.INodeProto, index: number, where: string, context: ReadContext): Node {
  const name = proto.name ?? '';
  const opType = proto.opType ?? '';
  const at = `${where} › node '${name || `#${index}`}' (${opType})`;
  const attributes: Record<string, Attribute> = {};
  for (const attr of proto.attribute ?? []) {
    if (attr.refAttrName) throw new OnnxFormatError(at, `attribute '${attr.name}' refers to a function attribute`);
    attributes[attr.name ?? ''] = readAttribute(attr, at, context);
  }
  return {
    name,
    opType,
    domain: proto.domain ?? '',
    inputs: [...(proto.input ?? [])],
    outputs: [...(proto.output ?? [])],
    attributes,
  };
}

function readGraph(proto: pb.IGraphProto, where: string, context: ReadContext): Graph {
  const name = proto.name ?? '';
  const at = `${where} › graph '${name}'`;
  if ((proto.sparseInitializer?.length ?? 0) > 0) {
    throw new OnnxFormatError(at, `sparse initializer '${proto.sparseInitializer![0]!.values?.name}' is not supported`);
  }
  const initializers = new Map<string, TensorInit>();
  for (const tensor of proto.initializer ?? []) {
    const init = readTensor(tensor, at, context);
    if (initializers.has(init.name)) throw new OnnxFormatError(at, `initializer '${init.name}' appears twice`);
    initializers.set(init.name, init);
  }
  const valueInfo: ValueInfo[] = [];
  for (const info of proto.valueInfo ?? []) {
    const read = readValueInfo(info, at);
    if (read) valueInfo.push(read); // value_info entries are shape hints; non-tensor ones are dropped.
  }
  return {
    name,
    nodes: (proto.node ?? []).map((n, i) => readNode(n, i, at, context)),
    inputs: (proto.input ?? []).map((v) => requireValueInfo(v, at, 'input')),
    outputs: (proto.output ?? []).map((v) => requireValueInfo(v, at, 'output')),
    initializers,
    valueInfo,
  };
}

/**
 * Decodes an ONNX ModelProto; tensors stored externally are read from `external` (by their `location`). Throws
 * OnnxFormatError naming the part at fault.
 */
export function parseModel(bytes: Uint8Array, external?: ExternalFiles): Model {
  let proto: pb.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxFormatError('model', `not a valid ONNX protobuf (${(error as Error).message})`);
  }
  if (!proto.graph) throw new OnnxFormatError('model', 'has no graph (is this an ONNX model file?)');
  if ((proto.functions?.length ?? 0) > 0) {
    throw new OnnxFormatError(
      'model',
      `defines local functions (${proto.functions.map((f) => f.name).join(', ')}); inline them first ` +
        '(onnx.inliner.inline_local_functions) or export with torch.onnx.export(..., dynamo=False)',
    );
  }
  const opsetImports = (proto.opsetImport ?? []).map((o) => ({
    domain: o.domain ?? '',
    version: int64ToNumber(o.version ?? 0),
  }));
  const main = opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!main) throw new OnnxFormatError('model', 'has no default-domain (ai.onnx) opset import');
  if (main.version < MIN_OPSET || main.version > MAX_OPSET) {
    throw new OnnxFormatError(
      'model',
      `opset ${main.version} is outside the supported range ${MIN_OPSET}–${MAX_OPSET}; re-export with opset_version=17`,
    );
  }
  const metadata: Record<string, string> = {};
  for (const entry of proto.metadataProps ?? []) metadata[entry.key ?? ''] = entry.value ?? '';
  return {
    irVersion: int64ToNumber(proto.irVersion ?? 0),
    opsetImports,
    producerName: proto.producerName ?? '',
    graph: readGraph(proto.graph, 'model', { external }),
    metadata,
  };
}

// ---------------------------------------------------------------------------------------------- writing

function writeTensor(tensor: TensorInit, where: string): pb.ITensorProto {
  const at = `${where} › tensor '${tensor.name}'`;
  const ctor = arrayCtor(tensor.dataType, at);
  if (!(tensor.data instanceof ctor)) {
    throw new OnnxFormatError(
      at,
      `data is a ${tensor.data.constructor.name}, ${DataType[tensor.dataType]} needs a ${ctor.name}`,
    );
  }
  const count = elementCount(tensor.dims);
  if (tensor.data.length !== count) {
    throw new OnnxFormatError(at, `holds ${tensor.data.length} elements but dims [${tensor.dims}] need ${count}`);
  }
  const data = tensor.data;
  return {
    name: tensor.name,
    dataType: tensor.dataType,
    dims: [...tensor.dims],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function writeValueInfo(info: ValueInfo): pb.IValueInfoProto {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: info.elemType,
        shape: info.shape
          ? {
              dim: info.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d === null ? {} : { dimParam: d })),
            }
          : null,
      },
    },
  };
}

function writeAttribute(name: string, attr: Attribute, where: string): pb.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  const at = `${where} › attribute '${name}'`;
  const encoder = new TextEncoder();
  switch (attr.type) {
    case 'float':
      return { name, type: T.FLOAT, f: attr.value };
    case 'int':
      return { name, type: T.INT, i: attr.value };
    case 'string':
      return { name, type: T.STRING, s: encoder.encode(attr.value) };
    case 'tensor':
      return { name, type: T.TENSOR, t: writeTensor(attr.value, at) };
    case 'graph':
      return { name, type: T.GRAPH, g: writeGraph(attr.value, at) };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...attr.value] };
    case 'ints':
      return { name, type: T.INTS, ints: [...attr.value] };
    case 'strings':
      return { name, type: T.STRINGS, strings: attr.value.map((s) => encoder.encode(s)) };
  }
}

function writeGraph(graph: Graph, where: string): pb.IGraphProto {
  const at = `${where} › graph '${graph.name}'`;
  return {
    name: graph.name,
    node: graph.nodes.map((node, i) => {
      const nodeAt = `${at} › node '${node.name || `#${i}`}' (${node.opType})`;
      return {
        name: node.name,
        opType: node.opType,
        domain: node.domain,
        input: [...node.inputs],
        output: [...node.outputs],
        attribute: Object.entries(node.attributes).map(([name, attr]) => writeAttribute(name, attr, nodeAt)),
      };
    }),
    input: graph.inputs.map(writeValueInfo),
    output: graph.outputs.map(writeValueInfo),
    initializer: [...graph.initializers.values()].map((t) => writeTensor(t, at)),
    valueInfo: graph.valueInfo.map(writeValueInfo),
  };
}

/** Encodes a model as an ONNX ModelProto with every tensor inline (raw_data, little-endian). */
export function serializeModel(model: Model): Uint8Array {
  const proto = onnx.ModelProto.create({
    irVersion: model.irVersion,
    opsetImport: model.opsetImports.map((o) => ({ domain: o.domain, version: o.version })),
    producerName: model.producerName,
    graph: writeGraph(model.graph, 'model'),
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(proto).finish();
}
