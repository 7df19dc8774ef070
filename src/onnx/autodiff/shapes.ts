/**
 * Static facts about the forward graph's values that the VJPs use to emit fewer runtime shape ops: element type,
 * dims where known (numbers, or symbols such as 'batch' that compare equal to themselves), and the element values of
 * small integer tensors — constants, and the shape vectors exporters compute at run time (Shape → Gather → Unsqueeze
 * → Concat → Reshape), whose elements are dims themselves. Anything unknown is null, and the VJPs then fall back to
 * computing shapes at run time with Shape ops, so this inference may be incomplete but never wrong (given that a
 * dim_param name means one size throughout the graph, as ONNX intends).
 */
import { DataType, type Attribute, type Dim, type Graph, type Node, type TensorInit } from '../ir';

export interface ValueFacts {
  readonly type: DataType | null;
  readonly dims: readonly Dim[] | null;
}

export interface GraphFacts {
  facts(value: string): ValueFacts;
  /** The integer values of a constant (initializer or Constant node output), or null. */
  constantInts(value: string): readonly number[] | null;
  /** The static dims of a value if all are known numbers, else null. */
  staticDims(value: string): readonly number[] | null;
}

const BOOL_OUTPUT = new Set([
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
]);
const INT64_OUTPUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);
const SAME_SHAPE = new Set([
  'Neg',
  'Sqrt',
  'Reciprocal',
  'Exp',
  'Log',
  'Tanh',
  'Erf',
  'Relu',
  'Sigmoid',
  'Gelu',
  'Softmax',
  'LogSoftmax',
  'Identity',
  'Dropout',
  'Cast',
  'Not',
  'Abs',
  'Floor',
  'Ceil',
  'IsNaN',
  'IsInf',
  'CumSum',
  'Trilu',
  'LayerNormalization',
]);
const BROADCAST = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Max',
  'Min',
  'Sum',
  'Where',
  'Mod',
]);

export function tensorInts(tensor: TensorInit): number[] | null {
  if (tensor.dataType !== DataType.INT64 && tensor.dataType !== DataType.INT32) return null;
  return Array.from(tensor.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function intsAttr(node: Node, name: string): number[] | null {
  const attribute = node.attributes[name];
  return attribute?.type === 'ints' ? [...attribute.value] : null;
}

export function intAttr(node: Node, name: string, fallback: number): number {
  const attribute = node.attributes[name];
  return attribute?.type === 'int' ? attribute.value : fallback;
}

export function floatAttr(node: Node, name: string, fallback: number): number {
  const attribute = node.attributes[name];
  return attribute?.type === 'float' ? attribute.value : fallback;
}

export function stringAttr(node: Node, name: string, fallback: string): string {
  const attribute = node.attributes[name];
  return attribute?.type === 'string' ? attribute.value : fallback;
}

/** The tensor a Constant node holds, normalised from its value / value_float(s) / value_int(s) attributes. */
export function constantNodeTensor(node: Node): TensorInit | null {
  const a: Readonly<Record<string, Attribute>> = node.attributes;
  const v = a.value;
  if (v?.type === 'tensor') return v.value;
  const f = a.value_float;
  if (f?.type === 'float') return { name: '', dataType: DataType.FLOAT, dims: [], data: new Float32Array([f.value]) };
  const fs = a.value_floats;
  if (fs?.type === 'floats')
    return { name: '', dataType: DataType.FLOAT, dims: [fs.value.length], data: new Float32Array(fs.value) };
  const i = a.value_int;
  if (i?.type === 'int')
    return { name: '', dataType: DataType.INT64, dims: [], data: new BigInt64Array([BigInt(i.value)]) };
  const is = a.value_ints;
  if (is?.type === 'ints')
    return { name: '', dataType: DataType.INT64, dims: [is.value.length], data: BigInt64Array.from(is.value, BigInt) };
  return null;
}

function sameDim(a: Dim, b: Dim): boolean {
  return a !== null && a === b;
}

function broadcastDims(shapes: (readonly Dim[] | null)[]): Dim[] | null {
  if (shapes.some((s) => s === null)) return null;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const dims = shapes.map((s) => (s!.length - rank + i >= 0 ? s![s!.length - rank + i] : 1));
    const notOne = dims.filter((d) => d !== 1);
    if (notOne.length === 0) out.push(1);
    else if (notOne.every((d) => sameDim(d, notOne[0]))) out.push(notOne[0]);
    else {
      // A known size > 1 wins: in a valid graph every other operand is 1 or that size at run time.
      const numbers = notOne.filter((d): d is number => typeof d === 'number');
      out.push(numbers.length > 0 && numbers.every((n) => n === numbers[0]) ? numbers[0] : null);
    }
  }
  return out;
}

function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/**
 * Output dims of Slice: exact where the sliced axis size and all parameters are constants, else null on that axis —
 * except x[0:e] with a symbolic end e, which is e (a run where e exceeded the axis would fail in the op that
 * broadcasts the slice against e-sized values, exporters' causal-mask pattern).
 */
function sliceDims(
  input: readonly Dim[],
  symbolicStarts: Dim[] | null,
  symbolicEnds: Dim[] | null,
  axesIn: number[] | null,
  steps: number[] | null,
): Dim[] {
  const numeric = (values: Dim[] | null) =>
    values && values.every((v) => typeof v === 'number') ? (values as number[]) : null;
  const [starts, ends] = [numeric(symbolicStarts), numeric(symbolicEnds)];
  const rank = input.length;
  const axes = axesIn ?? (starts ? [...starts.keys()] : null);
  if (!axes) return input.map(() => null);
  const out: Dim[] = [...input];
  axes.forEach((a, i) => {
    const axis = normalizeAxis(a, rank);
    const size = input[axis];
    const symbolicEnd = symbolicEnds?.[i];
    if (symbolicStarts?.[i] === 0 && (steps?.[i] ?? 1) === 1 && typeof symbolicEnd === 'string') {
      out[axis] = symbolicEnd;
      return;
    }
    if (typeof size !== 'number' || !starts || !ends) {
      out[axis] = null;
      return;
    }
    const step = steps?.[i] ?? 1;
    const clamp = (v: number, low: number, high: number) => Math.min(Math.max(v < 0 ? v + size : v, low), high);
    const start = step > 0 ? clamp(starts[i], 0, size) : clamp(starts[i], -1, size - 1);
    const end = step > 0 ? clamp(ends[i], 0, size) : clamp(ends[i], -1, size - 1);
    out[axis] = Math.max(0, Math.ceil((end - start) / step));
  });
  return out;
}

/** Shape arithmetic exporters emit (seq − seq, d / heads): numbers, and the identities that keep a symbol. */
function contentArithmetic(op: string, left: Dim[] | null, right: Dim[] | null): Dim[] | null {
  if (!left || !right || (left.length !== right.length && left.length !== 1 && right.length !== 1)) return null;
  return Array.from({ length: Math.max(left.length, right.length) }, (_, i) => {
    const a = left[left.length === 1 ? 0 : i];
    const b = right[right.length === 1 ? 0 : i];
    if (typeof a === 'number' && typeof b === 'number') {
      return op === 'Add' ? a + b : op === 'Sub' ? a - b : op === 'Mul' ? a * b : Math.trunc(a / b);
    }
    if (op === 'Sub' && a !== null && a === b) return 0;
    if ((op === 'Add' && b === 0) || ((op === 'Mul' || op === 'Div') && b === 1)) return a;
    if ((op === 'Add' && a === 0) || (op === 'Mul' && a === 1)) return b;
    return null;
  });
}

/** The element values of a node's output when it is a shape vector derived from dims and constants, else null. */
function shapeVectorContent(
  node: Node,
  inputDims: readonly Dim[] | null,
  symbolic: (name: string) => Dim[] | null,
  ints: (name: string) => number[] | null,
): Dim[] | null {
  const input = node.inputs[0] ? symbolic(node.inputs[0]) : null;
  switch (node.opType) {
    case 'Shape': {
      if (!inputDims) return null;
      const rank = inputDims.length;
      const start = normalizeAxis(intAttr(node, 'start', 0), rank);
      const end = node.attributes.end ? normalizeAxis(intAttr(node, 'end', rank), rank) : rank;
      return inputDims.slice(Math.max(0, start), Math.min(end, rank));
    }
    case 'Gather': {
      const indices = ints(node.inputs[1]);
      if (!input || !indices || intAttr(node, 'axis', 0) !== 0) return null;
      return indices.map((i) => input[i < 0 ? i + input.length : i] ?? null);
    }
    case 'Unsqueeze':
    case 'Squeeze':
    case 'Identity':
      return input;
    case 'Cast': {
      const to = intAttr(node, 'to', 0);
      return to === DataType.INT64 || to === DataType.INT32 ? input : null;
    }
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
      return contentArithmetic(node.opType, input, symbolic(node.inputs[1]));
    case 'Concat': {
      const parts = node.inputs.map((name) => symbolic(name));
      return parts.every((p) => p !== null) ? (parts as Dim[][]).flat() : null;
    }
    case 'Slice': {
      const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => (node.inputs[i] ? ints(node.inputs[i]) : null));
      if (!input || !starts || !ends || (axes && (axes.length !== 1 || normalizeAxis(axes[0], 1) !== 0))) return null;
      const picked = sliceDims([input.length], starts, ends, [0], steps)[0] as number;
      const step = steps?.[0] ?? 1;
      const first = Math.min(
        Math.max(starts[0] < 0 ? starts[0] + input.length : starts[0], step > 0 ? 0 : -1),
        step > 0 ? input.length : input.length - 1,
      );
      return Array.from({ length: picked }, (_, k) => input[first + k * step] ?? null);
    }
    default:
      return null;
  }
}

export function inferFacts(graph: Graph, opset: number): GraphFacts {
  const facts = new Map<string, ValueFacts>();
  /** Element values of small rank-0/1 integer tensors: numbers, or dims ('batch') for run-time shape vectors. */
  const contents = new Map<string, Dim[]>();
  for (const info of [...graph.inputs, ...graph.valueInfo, ...graph.outputs]) {
    facts.set(info.name, { type: info.elemType, dims: info.shape });
  }
  for (const [name, tensor] of graph.initializers) {
    facts.set(name, { type: tensor.dataType, dims: tensor.dims });
    const ints = tensor.data.length <= 64 ? tensorInts(tensor) : null;
    if (ints) contents.set(name, ints);
  }
  const get = (name: string): ValueFacts => facts.get(name) ?? { type: null, dims: null };
  const symbolic = (name: string | undefined): Dim[] | null => (name ? (contents.get(name) ?? null) : null);
  const ints = (name: string | undefined): number[] | null => {
    const values = symbolic(name);
    return values && values.every((v) => typeof v === 'number') ? (values as number[]) : null;
  };
  const axesOf = (node: Node, inputIndex: number, sinceOpset: number): number[] | null =>
    opset >= sinceOpset ? ints(node.inputs[inputIndex]) : intsAttr(node, 'axes');

  for (const node of graph.nodes) {
    const inputs = node.inputs.map((name) => (name ? get(name) : { type: null, dims: null }));
    const x = inputs[0] ?? { type: null, dims: null };
    const rank = x.dims?.length ?? null;
    let type: DataType | null = x.type;
    let dims: Dim[] | null = null;
    const op = node.opType;
    if (op === 'Constant') {
      const tensor = constantNodeTensor(node);
      if (tensor) {
        type = tensor.dataType;
        dims = [...tensor.dims];
        const values = tensor.data.length <= 64 ? tensorInts(tensor) : null;
        if (values) contents.set(node.outputs[0], values);
      }
    } else if (SAME_SHAPE.has(op)) {
      dims = x.dims ? [...x.dims] : null;
      if (op === 'Cast') type = intAttr(node, 'to', 0) as DataType;
    } else if (BROADCAST.has(op)) {
      dims = broadcastDims(inputs.map((i) => i.dims));
      if (op === 'Where') type = inputs[1]?.type ?? null;
    } else if (op === 'MatMul') {
      const [a, b] = [inputs[0].dims, inputs[1].dims];
      if (a && b && a.length >= 2 && b.length >= 2) {
        const batch = broadcastDims([a.slice(0, -2), b.slice(0, -2)]);
        dims = batch ? [...batch, a[a.length - 2], b[b.length - 1]] : null;
      } else if (a && b && b.length === 1 && a.length >= 2) dims = a.slice(0, -1);
      else if (a && b && a.length === 1 && b.length >= 2) dims = [...b.slice(0, -2), b[b.length - 1]];
    } else if (op === 'Gemm') {
      const [a, b] = [inputs[0].dims, inputs[1].dims];
      if (a && b) dims = [a[intAttr(node, 'transA', 0) ? 1 : 0], b[intAttr(node, 'transB', 0) ? 0 : 1]];
    } else if (op === 'Transpose') {
      if (x.dims) {
        const perm = intsAttr(node, 'perm') ?? x.dims.map((_, i) => x.dims!.length - 1 - i);
        dims = perm.map((p) => x.dims![p]);
      }
    } else if (op === 'Reshape') {
      const shape = symbolic(node.inputs[1]);
      if (shape) {
        dims = shape.map((d, i) =>
          d === 0 && !intAttr(node, 'allowzero', 0) ? (x.dims?.[i] ?? null) : d === -1 ? null : d,
        );
        const knownInput = x.dims?.every((d) => typeof d === 'number');
        const known = dims.every((d) => typeof d === 'number');
        if (!known && knownInput && dims.filter((d) => d === null).length === 1) {
          const total = (x.dims as number[]).reduce((p, d) => p * d, 1);
          const rest = dims.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1);
          dims = dims.map((d) => (d === null ? total / rest : d));
        }
      } else {
        const shapeDims = inputs[1]?.dims;
        if (shapeDims && typeof shapeDims[0] === 'number') dims = new Array<Dim>(shapeDims[0]).fill(null);
      }
    } else if (op === 'Unsqueeze') {
      const axes = axesOf(node, 1, 13);
      if (axes && x.dims) {
        const outRank = x.dims.length + axes.length;
        const set = new Set(axes.map((a) => normalizeAxis(a, outRank)));
        const rest = [...x.dims];
        dims = Array.from({ length: outRank }, (_, i) => (set.has(i) ? 1 : (rest.shift() ?? null)));
      }
    } else if (op === 'Squeeze') {
      const axes = axesOf(node, 1, 13);
      if (x.dims && rank !== null) {
        if (axes) {
          const set = new Set(axes.map((a) => normalizeAxis(a, rank)));
          dims = x.dims.filter((_, i) => !set.has(i));
        } else if (x.dims.every((d) => typeof d === 'number')) dims = x.dims.filter((d) => d !== 1);
      }
    } else if (op === 'Flatten') {
      if (x.dims && rank !== null) {
        const axis = normalizeAxis(intAttr(node, 'axis', 1), rank);
        const product = (ds: readonly Dim[]): Dim =>
          ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((p, d) => p * d, 1) : null;
        dims = [product(x.dims.slice(0, axis)), product(x.dims.slice(axis))];
      }
    } else if (op === 'Concat') {
      if (inputs.every((i) => i.dims) && rank !== null) {
        const axis = normalizeAxis(intAttr(node, 'axis', 0), rank);
        const sizes = inputs.map((i) => i.dims![axis]);
        dims = x.dims!.map((d, i) =>
          i === axis
            ? sizes.every((s) => typeof s === 'number')
              ? (sizes as number[]).reduce((p, s) => p + s, 0)
              : null
            : d,
        );
      }
    } else if (op === 'Split') {
      if (x.dims && rank !== null) {
        const axis = normalizeAxis(intAttr(node, 'axis', 0), rank);
        const sizes = ints(node.inputs[1]);
        node.outputs.forEach((output, i) => {
          const piece = x.dims!.map((d, k) => (k !== axis ? d : sizes ? sizes[i] : null));
          facts.set(output, { type, dims: piece });
        });
        continue;
      }
    } else if (op === 'Slice') {
      if (x.dims && rank !== null)
        dims = sliceDims(
          x.dims,
          symbolic(node.inputs[1]),
          symbolic(node.inputs[2]),
          ints(node.inputs[3]),
          ints(node.inputs[4]),
        );
    } else if (op === 'Gather') {
      const indices = inputs[1]?.dims;
      if (x.dims && indices && rank !== null) {
        const axis = normalizeAxis(intAttr(node, 'axis', 0), rank);
        dims = [...x.dims.slice(0, axis), ...indices, ...x.dims.slice(axis + 1)];
      }
    } else if (op === 'GatherElements') {
      dims = inputs[1]?.dims ? [...inputs[1].dims] : null;
    } else if (op === 'Shape') {
      if (rank !== null) {
        const start = normalizeAxis(intAttr(node, 'start', 0), rank);
        const end = node.attributes.end ? normalizeAxis(intAttr(node, 'end', rank), rank) : rank;
        dims = [Math.max(0, Math.min(end, rank) - Math.max(0, start))];
      }
    } else if (op === 'Size') {
      dims = [];
    } else if (op === 'ConstantOfShape') {
      const value = node.attributes.value;
      type = value?.type === 'tensor' ? value.value.dataType : DataType.FLOAT;
      const shape = symbolic(node.inputs[0]);
      const shapeDims = inputs[0]?.dims;
      dims = shape
        ? [...shape]
        : shapeDims && typeof shapeDims[0] === 'number'
          ? new Array<Dim>(shapeDims[0]).fill(null)
          : null;
    } else if (op === 'Range') {
      const [start, limit, delta] = node.inputs.map((name) => symbolic(name)?.[0] ?? null);
      if (start === 0 && delta === 1 && limit !== null) dims = [limit];
      else if (typeof start === 'number' && typeof limit === 'number' && typeof delta === 'number')
        dims = [Math.max(0, Math.ceil((limit - start) / delta))];
      else dims = [null];
    } else if (op === 'Expand') {
      const shape = symbolic(node.inputs[1]);
      if (shape && x.dims) dims = broadcastDims([x.dims, shape]);
      else {
        const shapeDims = inputs[1]?.dims;
        if (shapeDims && typeof shapeDims[0] === 'number' && rank !== null)
          dims = new Array<Dim>(Math.max(rank, shapeDims[0])).fill(null);
      }
    } else if (op.startsWith('Reduce')) {
      const axes = axesOf(node, 1, op === 'ReduceSum' ? 13 : 18);
      const keep = intAttr(node, 'keepdims', 1);
      if (x.dims && rank !== null && axes) {
        const set = new Set((axes.length ? axes : x.dims.map((_, i) => i)).map((a) => normalizeAxis(a, rank)));
        dims = keep ? x.dims.map((d, i) => (set.has(i) ? 1 : d)) : x.dims.filter((_, i) => !set.has(i));
      } else if (keep && rank !== null) dims = new Array<Dim>(rank).fill(null);
    }
    if (BOOL_OUTPUT.has(op)) type = DataType.BOOL;
    if (INT64_OUTPUT.has(op)) type = DataType.INT64;
    const content = shapeVectorContent(node, x.dims, symbolic, ints);
    if (content) contents.set(node.outputs[0], content);
    node.outputs.forEach((output, index) => {
      if (!output) return;
      const declared = facts.get(output);
      const inferred: ValueFacts =
        index === 0 ? { type, dims } : { type: op === 'LayerNormalization' ? type : null, dims: null };
      facts.set(output, {
        type: declared?.type ?? inferred.type,
        dims: inferred.dims ?? declared?.dims ?? null,
      });
    });
  }

  return {
    facts: get,
    constantInts: ints,
    staticDims(name) {
      const dims = get(name).dims;
      return dims && dims.every((d) => typeof d === 'number') ? (dims as number[]) : null;
    },
  };
}
