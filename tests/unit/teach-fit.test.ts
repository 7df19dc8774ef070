/**
 * The lab's batched chain (src/teach/batch.ts) against the per-example chain it replaces in fitting
 * (src/teach/network.ts), and the finite-difference Hessians fitting and leave-one-out use, in float64.
 */
import { describe, expect, it } from 'vitest';
import { BatchChain } from '../../src/teach/batch';
import { exampleHessians, gradientAndCurvature, initialParameters, objectiveHessian, train } from '../../src/teach/fit';
import { PRESETS } from '../../src/teach/presets';
import { defaultState, labInputs } from '../../src/teach/state';
import { objectiveOf } from '../../src/teach/lab';
import { MODELS } from '../../src/teach/models';
import { exampleTerms, flatGradient } from '../../src/teach/network';

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, k) => Math.max(m, Math.abs(v - b[k])), 0);

describe('BatchChain', () => {
  for (const model of ['linear', 'logistic', 'mlp'] as const) {
    it(`${model}: loss, weighted gradient and per-example vectors equal the per-example chain (1e-12)`, () => {
      const { spec } = MODELS[model];
      const { train } = MODELS[model].generate(5);
      const theta = initialParameters(spec, 4);
      const weights = Float64Array.from(train, (_, i) => (i % 3 === 0 ? 0 : 1 + (i % 2)));
      const chain = new BatchChain(spec, train);
      const expected = new Float64Array(theta.length);
      let loss = 0;
      train.forEach((e, i) => {
        const terms = exampleTerms(spec, theta, e, 'given');
        loss += weights[i] * terms.loss;
        flatGradient(spec, terms).forEach((v, k) => (expected[k] += weights[i] * v));
      });
      const gradient = new Float64Array(theta.length);
      expect(chain.gradient(theta, gradient, weights)).toBeCloseTo(loss, 12);
      expect(maxDiff(gradient, expected)).toBeLessThan(1e-12 * maxAbs(expected));
      for (const kind of ['given', 'fisher'] as const) {
        const rows = chain.perExample(theta, kind);
        train.forEach((e, i) => {
          const row = flatGradient(spec, exampleTerms(spec, theta, e, kind));
          expect(maxDiff(rows.subarray(i * theta.length, (i + 1) * theta.length), row)).toBeLessThan(1e-13);
        });
      }
    });
  }
});

describe('finite-difference Hessians of the MLP', () => {
  it('∇²J by forward differences matches central differences of the per-example chain (1e-5 relative)', () => {
    const inputs = { model: 'mlp' as const, train: MODELS.mlp.generate(3).train.slice(0, 20) };
    const objective = objectiveOf(inputs);
    const theta = initialParameters(MODELS.mlp.spec, 3);
    const p = theta.length;
    const gradientAt = (t: Float64Array) => {
      const g = t.map((v) => objective.ridge * v);
      inputs.train.forEach((e) =>
        flatGradient(objective.spec, exampleTerms(objective.spec, t, e, 'given')).forEach((v, k) => (g[k] += v)),
      );
      return g;
    };
    const reference = new Float64Array(p * p);
    for (let k = 0; k < p; k++) {
      const plus = theta.slice();
      const minus = theta.slice();
      plus[k] += 1e-5;
      minus[k] -= 1e-5;
      const gp = gradientAt(plus);
      const gm = gradientAt(minus);
      for (let j = 0; j < p; j++) reference[k * p + j] = (gp[j] - gm[j]) / 2e-5;
    }
    const hessian = objectiveHessian(objective, theta);
    expect(maxDiff(hessian, reference)).toBeLessThan(1e-5 * maxAbs(reference));
    // The per-example Hessians (leave-one-out's chord matrices) sum to the same ∇²J.
    const pieces = exampleHessians(objective, theta);
    const summed = new Float64Array(p * p);
    for (let i = 0; i < inputs.train.length; i++) for (let k = 0; k < p * p; k++) summed[k] += pieces[i * p * p + k];
    for (let k = 0; k < p; k++) summed[k * p + k] += objective.ridge;
    expect(maxDiff(summed, reference)).toBeLessThan(1e-5 * maxAbs(reference));
  });
});

describe('training through the loop', () => {
  it('the MLP reaches a stationary point (‖∇J‖ < 1e-10): default data, the non-convex preset, its former 24 points', () => {
    // Before the Newton rule took full steps below J's rounding level, the fit on those 24 points stalled at
    // ‖∇J‖ ≈ 1.4e-3 (the line search could no longer see a decrease).
    const preset = PRESETS.find((p) => p.id === 'nonconvex')!.state();
    const states = [defaultState('mlp'), preset, { ...preset, points: preset.points!.slice(0, 24) }];
    for (const state of states) {
      const inputs = labInputs(state);
      const objective = objectiveOf(inputs);
      const theta = train(objective, inputs.seed);
      expect(Math.hypot(...gradientAndCurvature(objective, theta, false).gradient)).toBeLessThan(1e-10);
    }
  });
});
