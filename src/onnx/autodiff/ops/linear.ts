/** MatMul, Gemm and Einsum: shapes from the operands, gradients as products of the same kind. */
import type { Dim } from '../../ir';
import { broadcastDims, intAttr, floatAttr } from '../facts';
import { unbroadcast, unbroadcastTo, type Vjp, type VjpContext } from '../vjp-context';
import { einsumOps } from './einsum';
import type { Infer, OpEntry } from './types';

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

const matMulInfer: Infer = (ctx) => {
  const [a, b] = [ctx.input(0).dims, ctx.input(1).dims];
  let dims: Dim[] | null = null;
  if (a && b && a.length >= 2 && b.length >= 2) {
    const batch = broadcastDims([a.slice(0, -2), b.slice(0, -2)]);
    dims = batch ? [...batch, a[a.length - 2], b[b.length - 1]] : null;
  } else if (a && b && b.length === 1 && a.length >= 2) dims = a.slice(0, -1);
  else if (a && b && a.length === 1 && b.length >= 2) dims = [...b.slice(0, -2), b[b.length - 1]];
  return [{ dims }];
};

const gemmInfer: Infer = (ctx) => {
  const [a, b] = [ctx.input(0).dims, ctx.input(1).dims];
  const dims = a && b ? [a[intAttr(ctx.node, 'transA', 0) ? 1 : 0], b[intAttr(ctx.node, 'transB', 0) ? 0 : 1]] : null;
  return [{ dims }];
};

export const linearOps: Record<string, OpEntry> = {
  MatMul: { infer: matMulInfer, vjp: matMul },
  Gemm: { infer: gemmInfer, vjp: gemm },
  ...einsumOps,
};
