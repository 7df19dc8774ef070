/** VJPs of MatMul, Gemm, LayerNormalization, ReduceSum and ReduceMean. */
import type { Dim } from '../ir';
import { floatAttr, intAttr, intsAttr } from './shapes';
import { unbroadcast, unbroadcastTo, type Vjp, type VjpContext } from './vjp-context';

/** Swap the last two axes of a value of the given rank. */
function transposeLast(ctx: VjpContext, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ctx.emit.op('Transpose', [x], { perm });
}

const matMul: Vjp = (ctx, [gy]) => {
  if (!gy) return [null, null];
  const e = ctx.emit;
  const [a, b] = ctx.node.inputs;
  const y = ctx.node.outputs[0];
  const [ra, rb] = [ctx.rank(a), ctx.rank(b)];
  if (ra === 1 || rb === 1) {
    // Promote the vector operand(s) to matrices, as MatMul itself does, then reduce back to the input shapes.
    const a2 = ra === 1 ? e.unsqueeze(a, [0]) : a;
    const b2 = rb === 1 ? e.unsqueeze(b, [-1]) : b;
    const gy2 =
      ra === 1 && rb === 1
        ? e.reshape(gy, [1, 1])
        : ra === 1
          ? e.unsqueeze(gy, [-2])
          : rb === 1
            ? e.unsqueeze(gy, [-1])
            : gy;
    const [ra2, rb2] = [Math.max(ra, 2), Math.max(rb, 2)];
    const back = (grad: string, promoted: string, input: string) =>
      e.reshape(unbroadcastTo(ctx, grad, promoted, null), e.op('Shape', [input]));
    return [
      ctx.wants(0) ? back(e.op('MatMul', [gy2, transposeLast(ctx, b2, rb2)]), a2, a) : null,
      ctx.wants(1) ? back(e.op('MatMul', [transposeLast(ctx, a2, ra2), gy2]), b2, b) : null,
    ];
  }
  const yDims = ctx.facts.facts(y).dims;
  const withLast = (dims: readonly Dim[] | null): Dim[] | null =>
    yDims && dims ? [...yDims.slice(0, -2), ...dims.slice(-2)] : null;
  const aDims = ctx.facts.facts(a).dims;
  const bDims = ctx.facts.facts(b).dims;
  let ga: string | null = null;
  let gb: string | null = null;
  if (ctx.wants(0)) ga = unbroadcastTo(ctx, e.op('MatMul', [gy, transposeLast(ctx, b, rb)]), a, withLast(aDims));
  if (ctx.wants(1)) {
    if (rb === 2 && ra > 2) {
      // A weight shared across the batch: fold the batch axes into rows instead of summing batched outer products.
      const staticB = ctx.facts.staticDims(b);
      const rowsOfA = e.reshape(
        a,
        staticB ? e.int64([-1, staticB[0]]) : e.op('Concat', [e.int64([-1]), e.dimOf(b, 0)], { axis: 0 }),
      );
      const rowsOfG = e.reshape(
        gy,
        staticB ? e.int64([-1, staticB[1]]) : e.op('Concat', [e.int64([-1]), e.dimOf(b, 1)], { axis: 0 }),
      );
      gb = e.op('MatMul', [e.op('Transpose', [rowsOfA], { perm: [1, 0] }), rowsOfG]);
    } else {
      gb = unbroadcastTo(ctx, e.op('MatMul', [transposeLast(ctx, a, ra), gy]), b, withLast(bDims));
    }
  }
  return [ga, gb];
};

/** Y = α·op(A)·op(B) + β·C; every gradient is itself a Gemm with the transposes arranged. */
const gemm: Vjp = (ctx, [gy]) => {
  if (!gy) return [null, null, null];
  const e = ctx.emit;
  const [a, b, c] = ctx.node.inputs;
  const alpha = floatAttr(ctx.node, 'alpha', 1);
  const beta = floatAttr(ctx.node, 'beta', 1);
  const transA = intAttr(ctx.node, 'transA', 0);
  const transB = intAttr(ctx.node, 'transB', 0);
  const ga = !ctx.wants(0)
    ? null
    : transA
      ? e.op('Gemm', [b, gy], { alpha, transA: transB, transB: 1 })
      : e.op('Gemm', [gy, b], { alpha, transA: 0, transB: transB ? 0 : 1 });
  const gb = !ctx.wants(1)
    ? null
    : transB
      ? e.op('Gemm', [gy, a], { alpha, transA: 1, transB: transA })
      : e.op('Gemm', [a, gy], { alpha, transA: transA ? 0 : 1, transB: 0 });
  let gc: string | null = null;
  if (c && ctx.wants(2)) {
    const scaled = beta === 1 ? gy : e.op('Mul', [gy, e.scalar(beta, ctx.floatType(c))]);
    gc = unbroadcast(ctx, scaled, c, ctx.node.outputs[0]);
  }
  return [ga, gb, gc];
};

/**
 * LayerNormalization over the axes [axis, rank): with x̂ = (x − μ)·r, r = 1/√(σ² + ε) and ĝ = gy·scale,
 * dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)); dscale = Σ gy·x̂ and dbias = Σ gy over the leading axes.
 */
const layerNormalization: Vjp = (ctx, grads) => {
  const [gy] = grads;
  if (grads.slice(1).some((g) => g)) throw ctx.fail('gradients through the Mean / InvStdDev outputs are not supported');
  if (!gy) return [null, null, null];
  const e = ctx.emit;
  const [x, scale, bias] = ctx.node.inputs;
  const t = ctx.floatType(x);
  let axis = intAttr(ctx.node, 'axis', -1);
  if (axis >= 0) axis -= ctx.rank(x);
  const axes = Array.from({ length: -axis }, (_, i) => axis + i);
  const mean = e.reduceMean(x, axes, true);
  const centred = e.op('Sub', [x, mean]);
  const variance = e.reduceMean(e.op('Mul', [centred, centred]), axes, true);
  const inverseStd = e.op('Reciprocal', [
    e.op('Sqrt', [e.op('Add', [variance, e.scalar(floatAttr(ctx.node, 'epsilon', 1e-5), t)])]),
  ]);
  const normalized = e.op('Mul', [centred, inverseStd]);
  const leadingSum = (value: string): string => {
    const staticScale = ctx.facts.staticDims(scale);
    const rows = staticScale
      ? e.int64([-1, ...staticScale])
      : e.op('Concat', [e.int64([-1]), e.op('Shape', [scale])], { axis: 0 });
    return e.reduceSum(e.reshape(value, rows), [0], false);
  };
  let gx: string | null = null;
  if (ctx.wants(0)) {
    const gNormalized = e.op('Mul', [gy, scale]);
    const meanG = e.reduceMean(gNormalized, axes, true);
    const meanGx = e.reduceMean(e.op('Mul', [gNormalized, normalized]), axes, true);
    gx = e.op('Mul', [inverseStd, e.op('Sub', [e.op('Sub', [gNormalized, meanG]), e.op('Mul', [normalized, meanGx])])]);
  }
  return [
    gx,
    ctx.wants(1) ? leadingSum(e.op('Mul', [gy, normalized])) : null,
    bias && ctx.wants(2) ? leadingSum(gy) : null,
  ];
};

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

export const linearVjps: Record<string, Vjp> = {
  MatMul: matMul,
  Gemm: gemm,
  LayerNormalization: layerNormalization,
  ReduceSum: reduction(false),
  ReduceMean: reduction(true),
};
