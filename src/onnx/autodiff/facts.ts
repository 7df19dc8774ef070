/**
 * The vocabulary of static shape inference: what is known about a value (element type, dims, and for small integer
 * tensors their element values), attribute readers, and the dims arithmetic several op families share (numpy
 * broadcasting, Slice's clamping, the shape arithmetic exporters write). Dims are numbers, symbols such as 'batch'
 * that compare equal to themselves, or null (unknown): inference may be incomplete but never wrong.
 */
import { DataType, type Attribute, type Dim, type Node, type TensorInit } from '../ir';

export interface ValueFacts {
  readonly type: DataType | null;
  readonly dims: readonly Dim[] | null;
}

/**
 * A VJP needed a fact (a rank) that static inference could not decide. `value` names it, so the caller can record
 * it from a forward run (onnx/observe-shapes.ts) and build again.
 */
export class UnknownShapeError extends Error {
  constructor(
    message: string,
    readonly value: string,
  ) {
    super(message);
    this.name = 'UnknownShapeError';
  }
}

export const UNKNOWN: ValueFacts = { type: null, dims: null };

export interface GraphFacts {
  facts(value: string): ValueFacts;
  /** The integer values of a constant (initializer or Constant node output), or null. */
  constantInts(value: string): readonly number[] | null;
  /** The static dims of a value if all are known numbers, else null. */
  staticDims(value: string): readonly number[] | null;
  /** The element values of a small rank-0/1 integer tensor (numbers or symbolic dims), or null. */
  content(value: string): readonly Dim[] | null;
}

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

export function sameDim(a: Dim, b: Dim): boolean {
  return a !== null && a === b;
}

export function broadcastDims(shapes: (readonly Dim[] | null)[]): Dim[] | null {
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

export function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/**
 * Output dims of Slice: exact where the sliced axis size and all parameters are constants, else null on that axis —
 * except x[0:e] with a symbolic end e, which is e (a run where e exceeded the axis would fail in the op that
 * broadcasts the slice against e-sized values, exporters' causal-mask pattern).
 */
export function sliceDims(
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
export function contentArithmetic(op: string, left: readonly Dim[] | null, right: readonly Dim[] | null): Dim[] | null {
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
