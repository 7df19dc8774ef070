/**
 * GraphBuilder: appends nodes to an ONNX graph with unique, exporter-style names.
 * Used by src/models (forward graphs) and by the autodiff (which extends a parsed forward graph).
 *
 * Naming follows torch.onnx: inside scope '/h.0/mlp/c_fc' an op MatMul is named '/h.0/mlp/c_fc/MatMul'
 * (then '_1', '_2', ... on repeats) and its outputs '/h.0/mlp/c_fc/MatMul_output_0', ...
 */
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

/** Attribute constructors; float attributes are rounded to float32, which is what the wire format stores. */
export const attr = {
  int: (value: number): Attribute => ({ type: 'int', value }),
  float: (value: number): Attribute => ({ type: 'float', value: Math.fround(value) }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): Attribute => ({ type: 'ints', value: [...value] }),
  floats: (value: readonly number[]): Attribute => ({ type: 'floats', value: value.map(Math.fround) }),
  tensor: (value: TensorInit): Attribute => ({ type: 'tensor', value }),
  graph: (value: Graph): Attribute => ({ type: 'graph', value }),
};

export interface OpOptions {
  /** Output names, or how many outputs to name automatically (default 1). */
  readonly outputs?: readonly string[] | number;
  /** Node name; default '<scope>/<opType>'. Made unique either way. */
  readonly name?: string;
  readonly domain?: string;
}

export interface BuildOptions {
  readonly opset?: number;
  readonly irVersion?: number;
  readonly producerName?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Extra opset imports for non-default domains. */
  readonly extraOpsets?: readonly { domain: string; version: number }[];
}

/** ONNX IR version that goes with each default-domain opset (onnx/helper.py's VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function dataTypeOf(data: TensorValues): DataType {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Float64Array) return DataType.DOUBLE;
  if (data instanceof BigInt64Array) return DataType.INT64;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof Uint8Array) return DataType.BOOL;
  throw new Error(`cannot infer an ONNX data type from a ${data.constructor.name}; pass a TensorInit instead`);
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly valueInfo: ValueInfo[] = [];
  private readonly initializers = new Map<string, TensorInit>();
  private readonly takenValueNames = new Set<string>();
  private readonly takenNodeNames = new Set<string>();
  private readonly scopes: string[] = [];

  constructor(private readonly graphName = 'main_graph') {}

  /** A builder that continues an existing graph; its value and node names stay reserved. */
  static fromGraph(graph: Graph): GraphBuilder {
    const builder = new GraphBuilder(graph.name);
    for (const input of graph.inputs) builder.addInput(input);
    for (const init of graph.initializers.values()) builder.initializer(init);
    for (const node of graph.nodes) {
      builder.takenNodeNames.add(node.name);
      for (const out of node.outputs) builder.takenValueNames.add(out);
      builder.nodes.push(node);
    }
    builder.outputs.push(...graph.outputs);
    builder.valueInfo.push(...graph.valueInfo);
    return builder;
  }

  /** Reserves and returns `base`, or `base_1`, `base_2`, ... if taken. */
  uniqueValueName(base: string): string {
    return this.reserve(base, this.takenValueNames);
  }

  hasValue(name: string): boolean {
    return this.takenValueNames.has(name);
  }

  initializerOf(name: string): TensorInit | undefined {
    return this.initializers.get(name);
  }

  /** Runs `body` with node names prefixed by '/<part>' ('h.0', then 'mlp' gives '/h.0/mlp/...', as module paths do). */
  scope<T>(part: string, body: () => T): T {
    this.scopes.push(part);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  input(name: string, elemType: DataType, shape: readonly Dim[] | null): string {
    return this.addInput({ name, elemType, shape });
  }

  private addInput(info: ValueInfo): string {
    if (this.takenValueNames.has(info.name)) throw new Error(`graph input '${info.name}': the name is already used`);
    this.takenValueNames.add(info.name);
    this.inputs.push(info);
    return info.name;
  }

  /** Declares an existing value as a graph output. */
  output(name: string, elemType: DataType, shape: readonly Dim[] | null): void {
    if (!this.takenValueNames.has(name)) throw new Error(`graph output '${name}': no value of that name exists`);
    this.outputs.push({ name, elemType, shape });
  }

  /** Adds a shape hint for an intermediate value. */
  hint(name: string, elemType: DataType, shape: readonly Dim[] | null): void {
    this.valueInfo.push({ name, elemType, shape });
  }

  /** Adds a weight; the dataType is inferred from the array unless a full TensorInit is given. */
  initializer(tensor: TensorInit): string;
  initializer(name: string, dims: readonly number[], data: TensorValues): string;
  initializer(nameOrTensor: string | TensorInit, dims?: readonly number[], data?: TensorValues): string {
    const tensor: TensorInit =
      typeof nameOrTensor === 'string'
        ? { name: nameOrTensor, dataType: dataTypeOf(data!), dims: [...dims!], data: data! }
        : nameOrTensor;
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== count) {
      throw new Error(
        `initializer '${tensor.name}': ${tensor.data.length} values for dims [${tensor.dims}] (${count} needed)`,
      );
    }
    if (this.takenValueNames.has(tensor.name))
      throw new Error(`initializer '${tensor.name}': the name is already used`);
    this.takenValueNames.add(tensor.name);
    this.initializers.set(tensor.name, tensor);
    return tensor.name;
  }

  /** Appends a node and returns its output names. '' in `inputs` marks an omitted optional input. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, Attribute> = {},
    options: OpOptions = {},
  ): string[] {
    const scope = this.scopes.map((part) => `/${part}`).join('');
    const name = this.reserve(options.name ?? `${scope}/${opType}`, this.takenNodeNames);
    for (const input of inputs) {
      if (input !== '' && !this.takenValueNames.has(input))
        throw new Error(`node '${name}' (${opType}): input '${input}' is not defined`);
    }
    const requested = options.outputs ?? 1;
    const outputs =
      typeof requested === 'number'
        ? Array.from({ length: requested }, (_, i) => this.uniqueValueName(`${name}_output_${i}`))
        : requested.map((out) => {
            if (this.takenValueNames.has(out))
              throw new Error(`node '${name}' (${opType}): output '${out}' is already defined`);
            this.takenValueNames.add(out);
            return out;
          });
    this.nodes.push({ name, opType, domain: options.domain ?? '', inputs: [...inputs], outputs, attributes });
    return outputs;
  }

  /** op() for the common single-output case. */
  op1(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, Attribute> = {},
    options: OpOptions = {},
  ): string {
    return this.op(opType, inputs, attributes, options)[0]!;
  }

  /** A Constant node holding a scalar of the given type (FLOAT, DOUBLE, INT64 or BOOL). */
  scalar(value: number, dataType: DataType = DataType.FLOAT): string {
    return this.constant(dataType, [], [value]);
  }

  /** A Constant node holding a 1-D int64 vector (shapes, axes, split sizes, Range bounds). */
  int64s(values: readonly number[]): string {
    return this.constant(DataType.INT64, [values.length], values);
  }

  constant(dataType: DataType, dims: readonly number[], values: readonly number[]): string {
    let data: TensorValues;
    switch (dataType) {
      case DataType.FLOAT:
        data = Float32Array.from(values);
        break;
      case DataType.DOUBLE:
        data = Float64Array.from(values);
        break;
      case DataType.INT64:
        data = BigInt64Array.from(values.map((v) => BigInt(v)));
        break;
      case DataType.BOOL:
        data = Uint8Array.from(values.map((v) => (v ? 1 : 0)));
        break;
      default:
        throw new Error(`constant(): data type ${DataType[dataType]} is not supported`);
    }
    return this.op1('Constant', [], { value: attr.tensor({ name: '', dataType, dims: [...dims], data }) });
  }

  build(options: BuildOptions = {}): Model {
    const opset = options.opset ?? 17;
    return {
      irVersion: options.irVersion ?? irVersionFor(opset),
      opsetImports: [{ domain: '', version: opset }, ...(options.extraOpsets ?? [])],
      producerName: options.producerName ?? 'influence-workbench',
      metadata: { ...(options.metadata ?? {}) },
      graph: {
        name: this.graphName,
        nodes: [...this.nodes],
        inputs: [...this.inputs],
        outputs: [...this.outputs],
        initializers: new Map(this.initializers),
        valueInfo: [...this.valueInfo],
      },
    };
  }

  private reserve(base: string, taken: Set<string>): string {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  }
}
