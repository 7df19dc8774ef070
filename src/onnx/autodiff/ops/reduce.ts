/** Reductions (Reduce*, with axes as an attribute or, from opset 13 / 18, an input) and ArgMax / ArgMin. */
import type { Dim } from '../../ir';
import { intAttr, intsAttr, normalizeAxis } from '../facts';
import type { Vjp } from '../vjp-context';
import { INT64 } from './infer-rules';
import type { Infer, OpEntry } from './types';

/** ReduceSum / ReduceMean: the gradient is gy re-expanded over the reduced axes (÷ the count for the mean). */
function reduction(mean: boolean): Vjp {
  return (ctx, [gy]) => {
    if (!gy || !ctx.wants(0)) return [null, null];
    const e = ctx.emit;
    const x = ctx.node.inputs[0];
    const axesFromInput = ctx.opset >= (mean ? 18 : 13);
    const axesName = axesFromInput ? (ctx.node.inputs[1] ?? '') : '';
    const axes = axesFromInput
      ? axesName
        ? ctx.facts.constantInts(axesName)
        : []
      : (intsAttr(ctx.node, 'axes') ?? []);
    const keepdims = intAttr(ctx.node, 'keepdims', 1);
    const reducesNothing = axes !== null && axes.length === 0 && intAttr(ctx.node, 'noop_with_empty_axes', 0) === 1;
    if (reducesNothing) return [gy, null];
    const reducesAll = axes !== null && axes.length === 0;
    const kept = keepdims || reducesAll ? gy : e.unsqueeze(gy, axes ?? axesName);
    let gx = e.op('Expand', [kept, e.op('Shape', [x])]);
    if (mean) {
      const count = e.op('Cast', [e.op('Div', [e.op('Size', [x]), e.op('Size', [ctx.node.outputs[0]])])], {
        to: ctx.floatType(x),
      });
      gx = e.op('Div', [gx, count]);
    }
    return [gx, null];
  };
}

/** keepdims (default 1) keeps reduced axes as 1; no axes (or empty) reduces all, unless noop_with_empty_axes. */
function reduceInfer(axesSince: number): Infer {
  return (ctx) => {
    const x = ctx.input(0).dims;
    const rank = x?.length ?? null;
    const axes = ctx.axes(1, axesSince);
    const hasAxesInput = ctx.opset >= axesSince && !!ctx.node.inputs[1];
    const keep = intAttr(ctx.node, 'keepdims', 1);
    let dims: Dim[] | null = null;
    if (x && rank !== null && (axes || !hasAxesInput)) {
      const list = axes ?? [];
      if (list.length === 0 && intAttr(ctx.node, 'noop_with_empty_axes', 0)) return [{ dims: x }];
      const set = new Set((list.length ? list : x.map((_, i) => i)).map((a) => normalizeAxis(a, rank)));
      dims = keep ? x.map((d, i) => (set.has(i) ? 1 : d)) : x.filter((_, i) => !set.has(i));
    } else if (keep && rank !== null) dims = new Array<Dim>(rank).fill(null);
    return [{ dims }];
  };
}

const argInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  if (!x) return [{ type: INT64 }];
  const axis = normalizeAxis(intAttr(ctx.node, 'axis', 0), x.length);
  const dims = intAttr(ctx.node, 'keepdims', 1)
    ? x.map((d, i) => (i === axis ? 1 : d))
    : x.filter((_, i) => i !== axis);
  return [{ type: INT64, dims }];
};

const reductions = [
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
];

export const reduceOps: Record<string, OpEntry> = {
  ...Object.fromEntries(reductions.map((op) => [op, { infer: reduceInfer(18) }])),
  ReduceSum: { infer: reduceInfer(13), vjp: reduction(false) },
  ReduceMean: { infer: reduceInfer(18), vjp: reduction(true) },
  ArgMax: { infer: argInfer },
  ArgMin: { infer: argInfer },
};
