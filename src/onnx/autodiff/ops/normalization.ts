/** LayerNormalization (ONNX, opset 17). */
import { floatAttr, intAttr } from '../facts';
import type { Vjp } from '../vjp-context';
import type { OpEntry } from './types';

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

export const normalizationOps: Record<string, OpEntry> = {
  LayerNormalization: {
    // Mean and InvStdDev (outputs 1 and 2) have x's type; their dims are left unknown.
    infer: (ctx) => [{ dims: ctx.input(0).dims }, { type: ctx.input(0).type }, { type: ctx.input(0).type }],
    vjp: layerNormalization,
  },
};
