/**
 * Normalizations: ONNX LayerNormalization, and the forms onnxruntime's transformer optimizer fuses them into —
 * SimplifiedLayerNormalization (RMSNorm; onnxruntime registers it in the default domain), and in com.microsoft
 * SkipLayerNormalization and SkipSimplifiedLayerNormalization (the residual Add folded in: s = input + skip (+ bias),
 * output = norm(s), output 3 = s).
 */
import { floatAttr, intAttr } from '../facts';
import { unbroadcast, type Vjp, type VjpContext } from '../vjp-context';
import type { Infer, OpEntry } from './types';

interface Normalized {
  readonly gx: string | null;
  readonly gScale: string | null;
  readonly gBias: string | null;
}

/**
 * The gradient of y = x̂·scale (+ bias) over the axes [axis, rank), x̂ = (x − μ)·r with r = 1/√(σ² + ε) (centred;
 * RMSNorm: x̂ = x·r, r = 1/√(mean(x²) + ε)). With ĝ = gy·scale:
 * centred: dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)); RMSNorm: dx = r·(ĝ − x̂·mean(ĝ·x̂));
 * dscale = Σ gy·x̂ and dbias = Σ gy over the leading axes.
 */
function normalizationGrad(
  ctx: VjpContext,
  gy: string,
  x: string,
  scale: string,
  options: { centred: boolean; axis: number; epsilon: number; wantX: boolean; wantScale: boolean; wantBias: boolean },
): Normalized {
  const e = ctx.emit;
  const t = ctx.floatType(x);
  let axis = options.axis;
  if (axis >= 0) axis -= ctx.rank(x);
  const axes = Array.from({ length: -axis }, (_, i) => axis + i);
  const centred = options.centred ? e.op('Sub', [x, e.reduceMean(x, axes, true)]) : x;
  const variance = e.reduceMean(e.op('Mul', [centred, centred]), axes, true);
  const inverseStd = e.op('Reciprocal', [e.op('Sqrt', [e.op('Add', [variance, e.scalar(options.epsilon, t)])])]);
  const normalized = e.op('Mul', [centred, inverseStd]);
  const leadingSum = (value: string): string => {
    const staticScale = ctx.facts.staticDims(scale);
    const rows = staticScale
      ? e.int64([-1, ...staticScale])
      : e.op('Concat', [e.int64([-1]), e.op('Shape', [scale])], { axis: 0 });
    return e.reduceSum(e.reshape(value, rows), [0], false);
  };
  let gx: string | null = null;
  if (options.wantX) {
    const gNormalized = e.op('Mul', [gy, scale]);
    const meanGx = e.reduceMean(e.op('Mul', [gNormalized, normalized]), axes, true);
    const centredG = options.centred ? e.op('Sub', [gNormalized, e.reduceMean(gNormalized, axes, true)]) : gNormalized;
    gx = e.op('Mul', [inverseStd, e.op('Sub', [centredG, e.op('Mul', [normalized, meanGx])])]);
  }
  return {
    gx,
    gScale: options.wantScale ? leadingSum(e.op('Mul', [gy, normalized])) : null,
    gBias: options.wantBias ? leadingSum(gy) : null,
  };
}

/** LayerNormalization / SimplifiedLayerNormalization: inputs X, scale (, bias); outputs 1 and 2 get no gradient. */
function plain(centred: boolean): Vjp {
  return (ctx, grads) => {
    const [gy] = grads;
    if (grads.slice(1).some((g) => g))
      throw ctx.fail('gradients through the Mean / InvStdDev outputs are not supported');
    if (!gy) return ctx.node.inputs.map(() => null);
    const [x, scale, bias] = ctx.node.inputs;
    const g = normalizationGrad(ctx, gy, x, scale, {
      centred,
      axis: intAttr(ctx.node, 'axis', -1),
      epsilon: floatAttr(ctx.node, 'epsilon', 1e-5),
      wantX: ctx.wants(0),
      wantScale: ctx.wants(1),
      wantBias: !!bias && ctx.wants(2),
    });
    return centred ? [g.gx, g.gScale, g.gBias] : [g.gx, g.gScale];
  };
}

/**
 * SkipLayerNormalization (input, skip, gamma, beta?, bias?) and SkipSimplifiedLayerNormalization (input, skip, gamma,
 * bias?): s = input + skip (+ bias) is normalized over the last axis. The gradient of s (from the normalization and
 * from output 3, s itself) flows to input, skip and bias alike.
 */
function skip(centred: boolean): Vjp {
  return (ctx, grads) => {
    const [gy, mean, inverseStd, gSum] = grads;
    if (mean || inverseStd) throw ctx.fail('gradients through the mean / inv_std_var outputs are not supported');
    const inputs = ctx.node.inputs;
    if (!gy && !gSum) return inputs.map(() => null);
    const e = ctx.emit;
    const [input, skipped, gamma] = inputs;
    const [beta, bias] = centred ? [inputs[3], inputs[4]] : [undefined, inputs[3]];
    const sum = e.op('Add', [input, skipped]);
    const s = bias ? e.op('Add', [sum, bias]) : sum;
    const g = gy
      ? normalizationGrad(ctx, gy, s, gamma, {
          centred,
          axis: -1,
          epsilon: floatAttr(ctx.node, 'epsilon', 1e-12),
          wantX: true,
          wantScale: ctx.wants(2),
          wantBias: !!beta && ctx.wants(3),
        })
      : { gx: null, gScale: null, gBias: null };
    const parts = [g.gx, gSum].filter((p): p is string => !!p);
    const gs = e.sum(parts);
    const y = ctx.node.outputs[0];
    const toInput = (i: number, name: string | undefined) =>
      name && ctx.wants(i) ? unbroadcast(ctx, gs, name, y) : null;
    const biasIndex = centred ? 4 : 3;
    const result: (string | null)[] = [toInput(0, input), toInput(1, skipped), g.gScale];
    if (centred) result.push(g.gBias);
    result.push(toInput(biasIndex, bias));
    return result.slice(0, inputs.length);
  };
}

/** Output 0 has input 0's dims; the statistics outputs have its type; a Skip variant's output 3 is input 0 again. */
const normalizationInfer: Infer = (ctx) => {
  const x = ctx.input(0);
  return [{ dims: x.dims }, { type: x.type }, { type: x.type }, { type: x.type, dims: x.dims }];
};

export const normalizationOps: Record<string, OpEntry> = {
  LayerNormalization: { infer: normalizationInfer, vjp: plain(true) },
  SimplifiedLayerNormalization: { infer: normalizationInfer, vjp: plain(false) },
  'com.microsoft.SimplifiedLayerNormalization': { infer: normalizationInfer, vjp: plain(false) },
  'com.microsoft.SkipLayerNormalization': { infer: normalizationInfer, vjp: skip(true) },
  'com.microsoft.SkipSimplifiedLayerNormalization': { infer: normalizationInfer, vjp: skip(false) },
};
