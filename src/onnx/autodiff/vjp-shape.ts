/**
 * VJPs of the ops that move elements without arithmetic: Reshape-like ops, Transpose, Concat, Split, Slice and
 * Gather. Slice and Gather use one trick: apply the same op to a tensor of flat element indices, then scatter the
 * output gradient to those indices (ScatterElements; with reduction 'add' for Gather, whose indices may repeat).
 */
import { DataType } from '../ir';
import { intAttr, intsAttr } from './shapes';
import type { AttributeValues } from './emitter';
import type { Vjp, VjpContext } from './vjp-context';

const reshapeBack: Vjp = (ctx, [gy]) => {
  const x = ctx.node.inputs[0];
  if (!gy || !ctx.wants(0)) return ctx.node.inputs.map(() => null);
  const staticDims = ctx.facts.staticDims(x);
  const shape = staticDims ? ctx.emit.int64(staticDims) : ctx.emit.op('Shape', [x]);
  return [ctx.emit.reshape(gy, shape), ...ctx.node.inputs.slice(1).map(() => null)];
};

const transpose: Vjp = (ctx, [gy]) => {
  if (!gy || !ctx.wants(0)) return [null];
  const x = ctx.node.inputs[0];
  const perm = intsAttr(ctx.node, 'perm') ?? Array.from({ length: ctx.rank(x) }, (_, i) => ctx.rank(x) - 1 - i);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return [ctx.emit.op('Transpose', [gy], { perm: inverse })];
};

const concat: Vjp = (ctx, [gy]) => {
  const inputs = ctx.node.inputs;
  if (!gy) return inputs.map(() => null);
  const e = ctx.emit;
  const axis = intAttr(ctx.node, 'axis', 0);
  const staticSizes = inputs.map((x) => {
    const dims = ctx.facts.staticDims(x);
    return dims ? dims[axis < 0 ? dims.length + axis : axis] : null;
  });
  const sizes = staticSizes.every((s) => s !== null)
    ? e.int64(staticSizes as number[])
    : e.op(
        'Concat',
        inputs.map((x) => e.dimOf(x, axis)),
        { axis: 0 },
      );
  const pieces = e.node('Split', [gy, sizes], { axis }, inputs.length);
  return inputs.map((_, i) => (ctx.wants(i) ? pieces[i] : null));
};

const split: Vjp = (ctx, grads) => {
  if (!ctx.wants(0) || grads.every((g) => !g)) return ctx.node.inputs.map(() => null);
  const e = ctx.emit;
  const type = ctx.floatType(ctx.node.inputs[0]);
  const pieces = ctx.node.outputs.map((output, i) => grads[i] ?? e.zerosLike(output, type));
  return [e.op('Concat', pieces, { axis: intAttr(ctx.node, 'axis', 0) }), ...ctx.node.inputs.slice(1).map(() => null)];
};

/** A tensor of x's shape holding its flat element indices 0, 1, …, size − 1 (int64). */
function flatIndices(ctx: VjpContext, x: string): string {
  const e = ctx.emit;
  const flat = e.op('Range', [e.int64([0], true), e.op('Size', [x]), e.int64([1], true)]);
  return e.reshape(flat, e.op('Shape', [x]));
}

/** A zero tensor of x's shape, flattened, receives gy at the flat indices that the forward op picked. */
function scatterBack(ctx: VjpContext, x: string, gy: string, pickedIndices: string, reduction: 'none' | 'add'): string {
  const e = ctx.emit;
  const zeros = e.op('ConstantOfShape', [e.reshape(e.op('Size', [x]), [1])], {
    value: e.fillValue(0, ctx.floatType(x)),
  });
  const attributes: AttributeValues = reduction === 'add' ? { axis: 0, reduction } : { axis: 0 };
  const scattered = e.op('ScatterElements', [zeros, e.reshape(pickedIndices, [-1]), e.reshape(gy, [-1])], attributes);
  return e.reshape(scattered, e.op('Shape', [x]));
}

const slice: Vjp = (ctx, [gy]) => {
  const inputs = ctx.node.inputs;
  if (!gy || !ctx.wants(0)) return inputs.map(() => null);
  const x = inputs[0];
  const picked = ctx.emit.op('Slice', [flatIndices(ctx, x), ...inputs.slice(1)]);
  return [scatterBack(ctx, x, gy, picked, 'none'), ...inputs.slice(1).map(() => null)];
};

const gather: Vjp = (ctx, [gy]) => {
  if (!gy || !ctx.wants(0)) return [null, null];
  const [data, indices] = ctx.node.inputs;
  const e = ctx.emit;
  const axis = intAttr(ctx.node, 'axis', 0);
  if (ctx.opset < 16) {
    // No scatter with reduction before opset 16: rows of the table receive one-hot(indices)ᵀ · gy instead.
    if (axis !== 0)
      throw ctx.fail(
        `the gradient of Gather on axis ${axis} needs ScatterElements with reduction="add" (opset ≥ 16; this model has opset ${ctx.opset})`,
      );
    const column = e.unsqueeze(e.reshape(indices, [-1]), [-1]);
    const classes = e.op('Range', [e.int64([0], true), e.reshape(e.dimOf(data, 0), []), e.int64([1], true)]);
    const oneHot = e.op('Cast', [e.op('Equal', [column, classes])], { to: ctx.floatType(data) });
    const rows = e.reshape(gy, e.op('Concat', [e.reshape(e.op('Size', [indices]), [1]), e.int64([-1])], { axis: 0 }));
    const table = e.op('MatMul', [e.op('Transpose', [oneHot], { perm: [1, 0] }), rows]);
    return [e.reshape(table, e.op('Shape', [data])), null];
  }
  if (axis === 0) {
    // Embedding lookup: rows of the table receive the sum of the gradients of every position that read them.
    const zeros = e.op('ConstantOfShape', [e.op('Shape', [data])], { value: e.fillValue(0, ctx.floatType(data)) });
    const rowIndices =
      ctx.facts.facts(indices).type === DataType.INT64 ? indices : e.op('Cast', [indices], { to: DataType.INT64 });
    return [e.op('ScatterND', [zeros, e.unsqueeze(rowIndices, [-1]), gy], { reduction: 'add' }), null];
  }
  const picked = e.op('Gather', [flatIndices(ctx, data), indices], { axis });
  return [scatterBack(ctx, data, gy, picked, 'add'), null];
};

export const shapeVjps: Record<string, Vjp> = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
};
