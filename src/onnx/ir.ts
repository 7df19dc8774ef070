/**
 * In-memory graph IR: a plain-data mirror of the parts of ONNX's ModelProto the workbench uses.
 * protobuf.ts converts to and from the wire format; builder.ts creates graphs; autodiff.ts transforms them.
 * Value names are strings as in ONNX; '' marks an omitted optional input.
 */

/** ONNX TensorProto.DataType codes. */
export enum DataType {
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  BFLOAT16 = 16,
}

export type TensorValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface TensorInit {
  readonly name: string;
  readonly dataType: DataType;
  readonly dims: readonly number[];
  /**
   * Typed array matching dataType (BOOL as Uint8Array, INT64 as BigInt64Array, FLOAT16/BFLOAT16 as Uint16Array bits).
   */
  readonly data: TensorValues;
}

export type Attribute =
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'tensor'; readonly value: TensorInit }
  | { readonly type: 'graph'; readonly value: Graph }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'strings'; readonly value: readonly string[] };

export interface Node {
  readonly name: string;
  readonly opType: string;
  /** '' (or 'ai.onnx') for the default domain. */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, Attribute>>;
}

/** A dimension: a fixed size, a symbolic name ('batch', 'sequence'), or unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  readonly name: string;
  readonly elemType: DataType;
  /** null when the rank is unknown. */
  readonly shape: readonly Dim[] | null;
}

export interface Graph {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly initializers: ReadonlyMap<string, TensorInit>;
  readonly valueInfo: readonly ValueInfo[];
}

export interface OpsetImport {
  readonly domain: string;
  readonly version: number;
}

export interface Model {
  readonly irVersion: number;
  readonly opsetImports: readonly OpsetImport[];
  readonly producerName: string;
  readonly graph: Graph;
  readonly metadata: Readonly<Record<string, string>>;
}

export function isFloatType(type: DataType): boolean {
  return type === DataType.FLOAT || type === DataType.DOUBLE || type === DataType.FLOAT16 || type === DataType.BFLOAT16;
}

/** The default-domain opset version of a model. */
export function defaultOpset(model: Model): number {
  const entry = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!entry) throw new Error('model has no default-domain (ai.onnx) opset import');
  return entry.version;
}
