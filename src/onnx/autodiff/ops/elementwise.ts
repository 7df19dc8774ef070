/**
 * Elementwise ops: unary functions, broadcasting binary arithmetic, comparisons and logic (boolean outputs, no
 * gradient), Where, Expand, Sum, Cast, Softmax / LogSoftmax, CumSum and Trilu.
 */
import { DataType } from '../../ir';
import { intAttr, stringAttr } from '../facts';
import { unbroadcast, type Vjp, type VjpContext } from '../vjp-context';
import { BOOL, broadcast, sameShape } from './infer-rules';
import type { OpEntry } from './types';

/** The one-input ops whose VJP is gy · f'(x, y). */
function unary(derivative: (ctx: VjpContext, gy: string, x: string, y: string) => string): Vjp {
  return (ctx, [gy]) => [gy && ctx.wants(0) ? derivative(ctx, gy, ctx.node.inputs[0], ctx.node.outputs[0]) : null];
}

const passThrough = unary((_ctx, gy) => gy);

function binary(
  rule: (ctx: VjpContext, gy: string, a: string, b: string, y: string) => [string | null, string | null],
): Vjp {
  return (ctx, [gy]) => {
    if (!gy) return [null, null];
    const [a, b] = ctx.node.inputs;
    const y = ctx.node.outputs[0];
    const [ga, gb] = rule(ctx, gy, a, b, y);
    return [
      ga && ctx.wants(0) ? unbroadcast(ctx, ga, a, y) : null,
      gb && ctx.wants(1) ? unbroadcast(ctx, gb, b, y) : null,
    ];
  };
}

const same = sameShape();
const arithmetic = broadcast({ arithmetic: true });
const boolean = { infer: broadcast({ type: BOOL }) };

/** gy · GELU'(x), in its tanh approximation or exact (erf) form. */
export function geluGrad(ctx: VjpContext, gy: string, x: string, tanh: boolean): string {
  const e = ctx.emit;
  const t = ctx.floatType(x);
  const half = e.scalar(0.5, t);
  const one = e.scalar(1, t);
  const x2 = e.op('Mul', [x, x]);
  if (tanh) {
    // y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³): y' = ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²)
    const c = e.scalar(Math.sqrt(2 / Math.PI), t);
    const u = e.op('Mul', [c, e.op('Add', [x, e.op('Mul', [e.scalar(0.044715, t), e.op('Mul', [x2, x])])])]);
    const th = e.op('Tanh', [u]);
    const du = e.op('Mul', [c, e.op('Add', [one, e.op('Mul', [e.scalar(3 * 0.044715, t), x2])])]);
    const left = e.op('Mul', [half, e.op('Add', [one, th])]);
    const right = e.op('Mul', [e.op('Mul', [half, x]), e.op('Mul', [e.op('Sub', [one, e.op('Mul', [th, th])]), du])]);
    return e.op('Mul', [gy, e.op('Add', [left, right])]);
  }
  // y = xΦ(x): y' = Φ(x) + xφ(x)
  const cdf = e.op('Mul', [half, e.op('Add', [one, e.op('Erf', [e.op('Mul', [x, e.scalar(Math.SQRT1_2, t)])])])]);
  const pdf = e.op('Mul', [
    e.op('Exp', [e.op('Mul', [x2, e.scalar(-0.5, t)])]),
    e.scalar(1 / Math.sqrt(2 * Math.PI), t),
  ]);
  return e.op('Mul', [gy, e.op('Add', [cdf, e.op('Mul', [x, pdf])])]);
}

const gelu = unary((ctx, gy, x) => geluGrad(ctx, gy, x, stringAttr(ctx.node, 'approximate', 'none') === 'tanh'));

/**
 * CumSum along an axis: y_i = Σ_{j ≤ i} x_j, so dx_j = Σ_{i ≥ j} gy_i — the cumulative sum of gy in the other
 * direction (reverse flipped); an exclusive sum stays exclusive.
 */
const cumSum: Vjp = (ctx, [gy]) => {
  if (!gy || !ctx.wants(0)) return [null, null];
  const attributes = {
    exclusive: intAttr(ctx.node, 'exclusive', 0),
    reverse: intAttr(ctx.node, 'reverse', 0) ? 0 : 1,
  };
  return [ctx.emit.op('CumSum', [gy, ctx.node.inputs[1]], attributes), null];
};

/** Trilu keeps a triangle and zeroes the rest: its gradient is the same triangle of gy. */
const trilu: Vjp = (ctx, [gy]) => {
  if (!gy || !ctx.wants(0)) return ctx.node.inputs.map(() => null);
  const k = ctx.node.inputs[1] ? [ctx.node.inputs[1]] : [];
  const upper = intAttr(ctx.node, 'upper', 1);
  return [ctx.emit.op('Trilu', [gy, ...k], { upper }), ...ctx.node.inputs.slice(1).map(() => null)];
};

export const elementwiseOps: Record<string, OpEntry> = {
  Identity: {
    infer: (ctx) => [{ type: ctx.input(0).type, dims: ctx.input(0).dims, content: ctx.content(0) }],
    vjp: passThrough,
  },
  Dropout: {
    infer: (ctx) => [
      { type: ctx.input(0).type, dims: ctx.input(0).dims },
      { type: BOOL, dims: ctx.input(0).dims },
    ],
    vjp: (ctx, grads) => {
      if (intAttr(ctx.node, 'training_mode', 0) || (ctx.node.inputs[2] ?? '') !== '')
        throw ctx.fail('Dropout in training mode is not differentiable here');
      return passThrough(ctx, grads);
    },
  },
  Cast: {
    infer: (ctx) => {
      const to = intAttr(ctx.node, 'to', 0) as DataType;
      const integer = to === DataType.INT64 || to === DataType.INT32;
      return [{ type: to, dims: ctx.input(0).dims, content: integer ? ctx.content(0) : null }];
    },
    vjp: unary((ctx, gy, x) => ctx.emit.op('Cast', [gy], { to: ctx.floatType(x) })),
  },
  Neg: { infer: same, vjp: unary((ctx, gy) => ctx.emit.op('Neg', [gy])) },
  Exp: { infer: same, vjp: unary((ctx, gy, _x, y) => ctx.emit.op('Mul', [gy, y])) },
  Log: { infer: same, vjp: unary((ctx, gy, x) => ctx.emit.op('Div', [gy, x])) },
  Sqrt: {
    infer: same,
    vjp: unary((ctx, gy, x, y) =>
      ctx.emit.op('Div', [ctx.emit.op('Mul', [gy, ctx.emit.scalar(0.5, ctx.floatType(x))]), y]),
    ),
  },
  Reciprocal: {
    infer: same,
    vjp: unary((ctx, gy, _x, y) => ctx.emit.op('Neg', [ctx.emit.op('Mul', [gy, ctx.emit.op('Mul', [y, y])])])),
  },
  Tanh: {
    infer: same,
    vjp: unary((ctx, gy, x, y) => {
      const e = ctx.emit;
      return e.op('Mul', [gy, e.op('Sub', [e.scalar(1, ctx.floatType(x)), e.op('Mul', [y, y])])]);
    }),
  },
  Sigmoid: {
    infer: same,
    vjp: unary((ctx, gy, x, y) => {
      const e = ctx.emit;
      return e.op('Mul', [gy, e.op('Mul', [y, e.op('Sub', [e.scalar(1, ctx.floatType(x)), y])])]);
    }),
  },
  Relu: {
    infer: same,
    vjp: unary((ctx, gy, x) => {
      const e = ctx.emit;
      const zero = e.scalar(0, ctx.floatType(x));
      return e.op('Where', [e.op('Greater', [x, zero]), gy, zero]);
    }),
  },
  Erf: {
    infer: same,
    vjp: unary((ctx, gy, x) => {
      const e = ctx.emit;
      const density = e.op('Exp', [e.op('Neg', [e.op('Mul', [x, x])])]);
      return e.op('Mul', [gy, e.op('Mul', [density, e.scalar(2 / Math.sqrt(Math.PI), ctx.floatType(x))])]);
    }),
  },
  // Rotary embeddings: cos and sin of position × frequency (usually constant with respect to the tracked layers).
  Sin: { infer: same, vjp: unary((ctx, gy, x) => ctx.emit.op('Mul', [gy, ctx.emit.op('Cos', [x])])) },
  Cos: {
    infer: same,
    vjp: unary((ctx, gy, x) => ctx.emit.op('Neg', [ctx.emit.op('Mul', [gy, ctx.emit.op('Sin', [x])])])),
  },
  Gelu: { infer: same, vjp: gelu },
  Softmax: {
    infer: same,
    vjp: unary((ctx, gy, _x, y) => {
      const e = ctx.emit;
      const dot = e.reduceSum(e.op('Mul', [gy, y]), [intAttr(ctx.node, 'axis', -1)], true);
      return e.op('Mul', [y, e.op('Sub', [gy, dot])]);
    }),
  },
  LogSoftmax: {
    infer: same,
    vjp: unary((ctx, gy, _x, y) => {
      const e = ctx.emit;
      const total = e.reduceSum(gy, [intAttr(ctx.node, 'axis', -1)], true);
      return e.op('Sub', [gy, e.op('Mul', [e.op('Exp', [y]), total])]);
    }),
  },
  CumSum: { infer: same, vjp: cumSum },
  Trilu: { infer: same, vjp: trilu },
  Abs: { infer: same },
  Floor: { infer: same },
  Ceil: { infer: same },
  Round: { infer: same },
  Sign: { infer: same },
  Not: { infer: sameShape(BOOL) },
  IsNaN: { infer: sameShape(BOOL) },
  IsInf: { infer: sameShape(BOOL) },
  Add: { infer: arithmetic, vjp: binary((_ctx, gy) => [gy, gy]) },
  Sub: { infer: arithmetic, vjp: binary((ctx, gy) => [gy, ctx.wants(1) ? ctx.emit.op('Neg', [gy]) : null]) },
  Mul: {
    infer: arithmetic,
    vjp: binary((ctx, gy, a, b) => [
      ctx.wants(0) ? ctx.emit.op('Mul', [gy, b]) : null,
      ctx.wants(1) ? ctx.emit.op('Mul', [gy, a]) : null,
    ]),
  },
  Div: {
    infer: arithmetic,
    vjp: binary((ctx, gy, _a, b, y) => [
      ctx.wants(0) ? ctx.emit.op('Div', [gy, b]) : null,
      ctx.wants(1) ? ctx.emit.op('Neg', [ctx.emit.op('Div', [ctx.emit.op('Mul', [gy, y]), b])]) : null,
    ]),
  },
  Pow: {
    infer: broadcast(),
    vjp: binary((ctx, gy, a, b, y) => {
      const e = ctx.emit;
      const t = ctx.floatType(a);
      const exponent = ctx.facts.facts(b).type === t ? b : e.op('Cast', [b], { to: t });
      return [
        ctx.wants(0)
          ? e.op('Mul', [gy, e.op('Mul', [exponent, e.op('Pow', [a, e.op('Sub', [exponent, e.scalar(1, t)])])])])
          : null,
        ctx.wants(1) ? e.op('Mul', [gy, e.op('Mul', [y, e.op('Log', [a])])]) : null,
      ];
    }),
  },
  Max: { infer: broadcast() },
  Min: { infer: broadcast() },
  Mod: { infer: broadcast() },
  Equal: boolean,
  Less: boolean,
  Greater: boolean,
  LessOrEqual: boolean,
  GreaterOrEqual: boolean,
  And: boolean,
  Or: boolean,
  Xor: boolean,
  Where: {
    infer: broadcast({ typeFrom: 1 }),
    vjp: (ctx, [gy]) => {
      if (!gy) return [null, null, null];
      const e = ctx.emit;
      const [condition, a, b] = ctx.node.inputs;
      const y = ctx.node.outputs[0];
      const zero = e.scalar(0, ctx.floatType(y));
      return [
        null,
        ctx.wants(1) ? unbroadcast(ctx, e.op('Where', [condition, gy, zero]), a, y) : null,
        ctx.wants(2) ? unbroadcast(ctx, e.op('Where', [condition, zero, gy]), b, y) : null,
      ];
    },
  },
  Sum: {
    infer: broadcast(),
    vjp: (ctx, [gy]) =>
      ctx.node.inputs.map((input, i) => (gy && ctx.wants(i) ? unbroadcast(ctx, gy, input, ctx.node.outputs[0]) : null)),
  },
};
