/**
 * Appends backward nodes to the forward graph through the project's GraphBuilder (so names stay unique and every
 * input is checked to exist): node names under the '/gradient' scope, cached constants, and opset-aware helpers for
 * the ops whose signature changed between opsets (ReduceSum axes input from 13, ReduceMean from 18).
 */
import { attr, GraphBuilder } from '../builder';
import { DataType, type Attribute, type Graph, type TensorInit } from '../ir';

export type AttributeValues = Record<string, number | number[] | string | TensorInit>;

/** Float attributes of the ops we emit; every other numeric attribute is an int. */
const FLOAT_ATTRIBUTES = new Set(['alpha', 'beta', 'epsilon']);

function toAttribute(key: string, value: number | number[] | string | TensorInit): Attribute {
  if (typeof value === 'string') return attr.string(value);
  if (Array.isArray(value)) return attr.ints(value);
  if (typeof value === 'number') return FLOAT_ATTRIBUTES.has(key) ? attr.float(value) : attr.int(value);
  return attr.tensor(value);
}

export class Emitter {
  readonly builder: GraphBuilder;
  private readonly constantCache = new Map<string, string>();

  constructor(
    graph: Graph,
    readonly opset: number,
  ) {
    this.builder = GraphBuilder.fromGraph(graph);
  }

  /** Emit one node; returns its output names (fresh unless given). */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: AttributeValues = {},
    outputs: number | string[] = 1,
  ): string[] {
    const attrs: Record<string, Attribute> = {};
    for (const [key, value] of Object.entries(attributes)) attrs[key] = toAttribute(key, value);
    return this.builder.scope('gradient', () => this.builder.op(opType, inputs, attrs, { outputs }));
  }

  op(opType: string, inputs: readonly string[], attributes: AttributeValues = {}): string {
    return this.node(opType, inputs, attributes)[0];
  }

  private constant(key: string, dataType: DataType, dims: readonly number[], values: readonly number[]): string {
    const cached = this.constantCache.get(key);
    if (cached) return cached;
    const name = this.builder.scope('gradient', () => this.builder.constant(dataType, dims, values));
    this.constantCache.set(key, name);
    return name;
  }

  int64(values: readonly number[], scalar = false): string {
    return this.constant(`i64:${scalar}:${values.join(',')}`, DataType.INT64, scalar ? [] : [values.length], values);
  }

  /** A float scalar of the given float type (FLOAT or DOUBLE). */
  scalar(value: number, type: DataType): string {
    return this.constant(`f:${type}:${value}`, type, [], [value]);
  }

  /** A one-element float tensor, as ConstantOfShape's value attribute wants. */
  fillValue(value: number, type: DataType): TensorInit {
    return {
      name: '',
      dataType: type,
      dims: [1],
      data: type === DataType.DOUBLE ? new Float64Array([value]) : new Float32Array([value]),
    };
  }

  zerosLike(value: string, type: DataType): string {
    return this.op('ConstantOfShape', [this.op('Shape', [value])], { value: this.fillValue(0, type) });
  }

  /** ReduceSum; `axes` is a list of static axes or the name of a 1-D int64 value. */
  reduceSum(x: string, axes: readonly number[] | string, keepdims: boolean, noopWithEmptyAxes = false): string {
    const axesInput = typeof axes === 'string' ? axes : this.int64(axes);
    return this.op('ReduceSum', [x, axesInput], {
      keepdims: keepdims ? 1 : 0,
      noop_with_empty_axes: noopWithEmptyAxes ? 1 : 0,
    });
  }

  reduceMean(x: string, axes: readonly number[], keepdims: boolean): string {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.int64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceMean', [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  unsqueeze(x: string, axes: readonly number[] | string): string {
    return this.op('Unsqueeze', [x, typeof axes === 'string' ? axes : this.int64(axes)]);
  }

  reshape(x: string, shape: readonly number[] | string): string {
    return this.op('Reshape', [x, typeof shape === 'string' ? shape : this.int64(shape)]);
  }

  /** The size of one axis of x as a 1-D int64 tensor [1] (axis may be negative). */
  dimOf(x: string, axis: number): string {
    return this.op('Gather', [this.op('Shape', [x]), this.int64([axis])], { axis: 0 });
  }

  /** Sum of several gradient contributions (one Sum node, or the value itself). */
  sum(values: readonly string[]): string {
    return values.length === 1 ? values[0] : this.op('Sum', values);
  }
}
