/** What a vector-Jacobian product rule sees, and the broadcasting reduction every elementwise VJP needs. */
import { DataType, type Dim, type Node } from '../ir';
import type { Emitter } from './emitter';
import type { GraphFacts } from './facts';

export interface VjpContext {
  readonly emit: Emitter;
  readonly facts: GraphFacts;
  readonly opset: number;
  /** The node being differentiated. */
  readonly node: Node;
  /** Whether input `index` of the node needs a gradient (a floating-point value on the path to the loss). */
  wants(index: number): boolean;
  /** The float type of a forward value (FLOAT or DOUBLE). */
  floatType(value: string): DataType;
  /** The rank of a forward value, or an Error naming the node when it cannot be inferred. */
  rank(value: string): number;
  /** An Error naming the node, its op type and the reason. */
  fail(reason: string): Error;
}

/**
 * A VJP: given the gradients of the node's outputs (null where an output gets none), emit the gradient of each
 * input that ctx.wants (null elsewhere). Each returned gradient has exactly its input's shape.
 */
export type Vjp = (ctx: VjpContext, outputGrads: readonly (string | null)[]) => (string | null)[];

/**
 * Reduce `grad`, which has the (broadcast) shape of the forward value `output`, back to the shape of `input`: sum over
 * the leading
 * axes `input` lacks and over the axes where `input` has size 1. Static facts decide the axes when they can;
 * otherwise the axes are computed at run time (Shape, Equal, NonZero) and ReduceSum takes them as an input.
 */
export function unbroadcast(ctx: VjpContext, grad: string, input: string, output: string): string {
  return unbroadcastTo(ctx, grad, input, ctx.facts.facts(output).dims);
}

/** unbroadcast, given the static dims of `grad` itself (null when unknown). */
export function unbroadcastTo(ctx: VjpContext, grad: string, input: string, outputDims: readonly Dim[] | null): string {
  const { emit, facts } = ctx;
  const inputDims = facts.facts(input).dims;
  if (inputDims && outputDims) {
    const lead = outputDims.length - inputDims.length;
    const axes: number[] = Array.from({ length: lead }, (_, i) => i);
    let dynamic = false;
    inputDims.forEach((d, i) => {
      const o = outputDims[lead + i];
      if (d !== null && d === o) return;
      if (d === 1) axes.push(lead + i);
      else dynamic = true;
    });
    if (!dynamic) {
      if (axes.length === 0) return grad;
      if (axes.length === lead) return emit.reduceSum(grad, axes, false);
      const summed = emit.reduceSum(grad, axes, true);
      const staticShape = facts.staticDims(input);
      return emit.reshape(summed, staticShape ? emit.int64(staticShape) : emit.op('Shape', [input]));
    }
  }
  const inputShape = emit.op('Shape', [input]);
  const gradShape = emit.op('Shape', [grad]);
  const missingRank = emit.reshape(emit.op('Sub', [emit.op('Size', [gradShape]), emit.op('Size', [inputShape])]), [1]);
  const ones = emit.op('ConstantOfShape', [missingRank], {
    value: { name: '', dataType: DataType.INT64, dims: [1], data: new BigInt64Array([1n]) },
  });
  const padded = emit.op('Concat', [ones, inputShape], { axis: 0 });
  const differs = emit.op('Not', [emit.op('Equal', [padded, gradShape])]);
  const axes = emit.reshape(emit.op('NonZero', [differs]), [-1]);
  return emit.reshape(emit.reduceSum(grad, axes, true, true), inputShape);
}
