/**
 * Ops that move elements without arithmetic: Reshape-like ops, Transpose, Concat, Split, Slice, Gather,
 * GatherElements and Expand. Slice and Gather's gradients use one trick: apply the same op to a tensor of flat
 * element indices, then scatter the output gradient to those indices (ScatterElements; with reduction 'add' for
 * Gather, whose indices may repeat). Shape vectors (small int64 tensors whose elements are dims) keep their content
 * through these ops, so a Reshape target computed from Shape → Gather → Concat is still known.
 */
import { DataType, type Dim } from '../../ir';
import { broadcastDims, intAttr, intsAttr, normalizeAxis, sliceDims } from '../facts';
import type { AttributeValues } from '../emitter';
import { unbroadcast, type Vjp, type VjpContext } from '../vjp-context';
import type { Infer, InferContext, OpEntry } from './types';

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

/** The value's content, unchanged (Reshape, Squeeze, Unsqueeze, Flatten and Identity keep element order). */
const keepContent = (ctx: InferContext) => ctx.content(0);

const reshapeInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const shape = ctx.content(1);
  let dims: Dim[] | null = null;
  if (shape) {
    dims = shape.map((d, i) =>
      d === 0 && !intAttr(ctx.node, 'allowzero', 0) ? (x?.[i] ?? null) : d === -1 ? null : d,
    );
    const knownInput = x?.every((d) => typeof d === 'number');
    const known = dims.every((d) => typeof d === 'number');
    if (!known && knownInput && dims.filter((d) => d === null).length === 1) {
      const total = (x as number[]).reduce((p, d) => p * d, 1);
      const rest = dims.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1);
      dims = dims.map((d) => (d === null ? total / rest : d));
    }
  } else {
    const shapeDims = ctx.input(1).dims;
    if (shapeDims && typeof shapeDims[0] === 'number') dims = new Array<Dim>(shapeDims[0]).fill(null);
  }
  return [{ dims, content: keepContent(ctx) }];
};

const unsqueezeInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const axes = ctx.axes(1, 13);
  if (!axes || !x) return [{ content: keepContent(ctx) }];
  const outRank = x.length + axes.length;
  const set = new Set(axes.map((a) => normalizeAxis(a, outRank)));
  const rest = [...x];
  return [
    {
      dims: Array.from({ length: outRank }, (_, i) => (set.has(i) ? 1 : (rest.shift() ?? null))),
      content: keepContent(ctx),
    },
  ];
};

const squeezeInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const axes = ctx.axes(1, 13);
  let dims: Dim[] | null = null;
  if (x && axes) {
    const set = new Set(axes.map((a) => normalizeAxis(a, x.length)));
    dims = x.filter((_, i) => !set.has(i));
  } else if (x && !axes && !(ctx.opset >= 13 && ctx.node.inputs[1]) && x.every((d) => typeof d === 'number'))
    dims = x.filter((d) => d !== 1);
  return [{ dims, content: keepContent(ctx) }];
};

const flattenInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  if (!x) return [{}];
  const axis = normalizeAxis(intAttr(ctx.node, 'axis', 1), x.length);
  const product = (ds: readonly Dim[]): Dim =>
    ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((p, d) => p * d, 1) : null;
  return [{ dims: [product(x.slice(0, axis)), product(x.slice(axis))], content: keepContent(ctx) }];
};

const transposeInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  if (!x) return [{}];
  const perm = intsAttr(ctx.node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
  return [{ dims: perm.map((p) => x[p] ?? null) }];
};

/** Concat: the first input with known dims gives the rank; the axis sums where every size is a number. */
const concatInfer: Infer = (ctx) => {
  const all = ctx.node.inputs.map((_, i) => ctx.input(i).dims);
  const parts = ctx.node.inputs.map((_, i) => ctx.content(i));
  const content = parts.every((p) => p !== null) ? (parts as Dim[][]).flat() : null;
  const first = all.find((d) => d !== null);
  const type = ctx.node.inputs.map((_, i) => ctx.input(i).type).find((t) => t !== null) ?? null;
  if (!first) return [{ type, content }];
  const axis = normalizeAxis(intAttr(ctx.node, 'axis', 0), first.length);
  const sizes = all.map((d) => d?.[axis] ?? null);
  const dims = first.map((d, i) => {
    if (i === axis)
      return sizes.every((s) => typeof s === 'number') ? (sizes as number[]).reduce((p, s) => p + s, 0) : null;
    const known = all.map((dd) => dd?.[i]).find((v) => typeof v === 'number');
    return d ?? known ?? null;
  });
  return [{ type, dims, content }];
};

/** Split: sizes from the input (opset ≥ 13) or the `split` attribute; else equal parts (num_outputs, opset 18). */
const splitInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const type = ctx.input(0).type;
  const count = ctx.node.outputs.length;
  if (!x) return ctx.node.outputs.map(() => ({ type }));
  const axis = normalizeAxis(intAttr(ctx.node, 'axis', 0), x.length);
  const given = ctx.opset >= 13 ? ctx.ints(1) : intsAttr(ctx.node, 'split');
  const size = x[axis];
  const equal = typeof size === 'number' ? Math.ceil(size / count) : null;
  const sizes: Dim[] = given
    ? given
    : typeof size === 'number' && equal !== null
      ? Array.from({ length: count }, (_, i) => Math.min(equal, Math.max(0, size - i * equal)))
      : new Array<Dim>(count).fill(null);
  return ctx.node.outputs.map((_, i) => ({ type, dims: x.map((d, k) => (k !== axis ? d : (sizes[i] ?? null))) }));
};

const sliceInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const dims = x
    ? sliceDims(x, ctx.content(1) as Dim[] | null, ctx.content(2) as Dim[] | null, ctx.ints(3), ctx.ints(4))
    : null;
  // A slice of a shape vector picks some of its elements.
  const input = ctx.content(0);
  const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => (ctx.node.inputs[i] ? ctx.ints(i) : null));
  let content: Dim[] | null = null;
  if (input && starts && ends && (!axes || (axes.length === 1 && normalizeAxis(axes[0], 1) === 0))) {
    const picked = sliceDims([input.length], starts, ends, [0], steps)[0] as number;
    const step = steps?.[0] ?? 1;
    const first = Math.min(
      Math.max(starts[0] < 0 ? starts[0] + input.length : starts[0], step > 0 ? 0 : -1),
      step > 0 ? input.length : input.length - 1,
    );
    content = Array.from({ length: picked }, (_, k) => input[first + k * step] ?? null);
  }
  return [{ dims, content }];
};

const gatherInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const indexDims = ctx.input(1).dims;
  const axis = intAttr(ctx.node, 'axis', 0);
  const dims =
    x && indexDims
      ? [...x.slice(0, normalizeAxis(axis, x.length)), ...indexDims, ...x.slice(normalizeAxis(axis, x.length) + 1)]
      : null;
  const input = ctx.content(0);
  const indices = ctx.ints(1);
  const content =
    input && indices && axis === 0 ? indices.map((i) => input[i < 0 ? i + input.length : i] ?? null) : null;
  return [{ dims, content }];
};

const expandInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const shape = ctx.content(1);
  if (shape && x) return [{ dims: broadcastDims([x, shape]) }];
  const shapeDims = ctx.input(1).dims;
  if (shapeDims && typeof shapeDims[0] === 'number' && x)
    return [{ dims: new Array<Dim>(Math.max(x.length, shapeDims[0])).fill(null) }];
  return [{}];
};

const tileInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const repeats = ctx.ints(1);
  if (!x) return [{}];
  return [
    { dims: x.map((d, i) => (repeats && typeof d === 'number' ? d * repeats[i] : repeats?.[i] === 1 ? d : null)) },
  ];
};

/** GatherElements picks x[..., indices[...], ...] along one axis: scatter-add gy back to the picked positions. */
const gatherElements: Vjp = (ctx, [gy]) => {
  if (!gy || !ctx.wants(0)) return [null, null];
  const [data, indices] = ctx.node.inputs;
  const picked = ctx.emit.op('GatherElements', [flatIndices(ctx, data), indices], {
    axis: intAttr(ctx.node, 'axis', 0),
  });
  return [scatterBack(ctx, data, gy, picked, 'add'), null];
};

export const shapeOps: Record<string, OpEntry> = {
  Reshape: { infer: reshapeInfer, vjp: reshapeBack },
  Flatten: { infer: flattenInfer, vjp: reshapeBack },
  Squeeze: { infer: squeezeInfer, vjp: reshapeBack },
  Unsqueeze: { infer: unsqueezeInfer, vjp: reshapeBack },
  Transpose: { infer: transposeInfer, vjp: transpose },
  Concat: { infer: concatInfer, vjp: concat },
  Split: { infer: splitInfer, vjp: split },
  Slice: { infer: sliceInfer, vjp: slice },
  Gather: { infer: gatherInfer, vjp: gather },
  GatherElements: { infer: (ctx) => [{ dims: ctx.input(1).dims }], vjp: gatherElements },
  Expand: {
    infer: expandInfer,
    vjp: (ctx, [gy]) => [
      gy && ctx.wants(0) ? unbroadcast(ctx, gy, ctx.node.inputs[0], ctx.node.outputs[0]) : null,
      null,
    ],
  },
  Tile: { infer: tileInfer },
};
