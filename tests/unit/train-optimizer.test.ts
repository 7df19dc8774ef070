import { describe, expect, test } from 'vitest';
import { adamWStep, clipScale, createAdamWState, globalNorm, warmupCosine } from '../../src/train/optimizer';

describe('AdamW', () => {
  test('first step moves each weight by lr·sign(g) (bias-corrected) plus decoupled decay', () => {
    const w = new Float64Array([1, -2, 0.5]);
    const state = createAdamWState();
    adamWStep(
      new Map([['w', w]]),
      new Map([['w', [0.3, -4, 0]]]),
      state,
      { learningRate: 0.1, weightDecay: 0.01 },
      0.1,
    );
    // After one step m̂ = g and v̂ = g², so the Adam update is g/(|g|+ε) ≈ sign(g); a zero gradient leaves decay alone.
    expect(w[0]).toBeCloseTo(1 - 0.1 * (1 + 0.01 * 1), 7);
    expect(w[1]).toBeCloseTo(-2 - 0.1 * (-1 + 0.01 * -2), 7);
    expect(w[2]).toBeCloseTo(0.5 - 0.1 * 0.01 * 0.5, 12);
  });

  test('matches a hand-unrolled two-step reference in float64', () => {
    const w = new Float64Array([0.7]);
    const state = createAdamWState();
    const o = { learningRate: 0.05, beta1: 0.8, beta2: 0.9, epsilon: 1e-8, weightDecay: 0.1 };
    adamWStep(new Map([['w', w]]), new Map([['w', [2]]]), state, o, 0.05);
    adamWStep(new Map([['w', w]]), new Map([['w', [-1]]]), state, o, 0.02);
    let p = 0.7;
    let m = 0.2 * 2;
    let v = 0.1 * 4;
    p -= 0.05 * (m / 0.2 / (Math.sqrt(v / 0.1) + 1e-8) + 0.1 * p);
    m = 0.8 * m + 0.2 * -1;
    v = 0.9 * v + 0.1 * 1;
    p -= 0.02 * (m / (1 - 0.64) / (Math.sqrt(v / (1 - 0.81)) + 1e-8) + 0.1 * p);
    expect(w[0]).toBeCloseTo(p, 14);
  });

  test('noDecay parameters are not decayed; a missing gradient is an error naming the parameter', () => {
    const bias = new Float64Array([1]);
    adamWStep(
      new Map([['fc.bias', bias]]),
      new Map([['fc.bias', [0]]]),
      createAdamWState(),
      { learningRate: 1, weightDecay: 0.5, noDecay: /bias/ },
      1,
    );
    expect(bias[0]).toBe(1);
    expect(() =>
      adamWStep(new Map([['a', new Float64Array(1)]]), new Map(), createAdamWState(), { learningRate: 1 }, 1),
    ).toThrow(/"a"/);
  });
});

describe('clipping and schedule', () => {
  test('global norm and clip scale', () => {
    const norm = globalNorm(
      new Map([
        ['a', [3]],
        ['b', [4]],
      ]),
    );
    expect(norm).toBe(5);
    expect(clipScale(norm, 1)).toBeCloseTo(0.2, 10);
    expect(clipScale(norm, 10)).toBe(1);
    expect(() => clipScale(Number.NaN, 1)).toThrow(/NaN/);
  });

  test('warm-up rises linearly to the peak, cosine decays to minRatio·peak', () => {
    expect(warmupCosine(0, 1, 10, 100)).toBeCloseTo(0.1, 12);
    expect(warmupCosine(9, 1, 10, 100)).toBeCloseTo(1, 12);
    expect(warmupCosine(10, 1, 10, 100)).toBeCloseTo(1, 12);
    expect(warmupCosine(55, 1, 10, 100)).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    expect(warmupCosine(100, 1, 10, 100)).toBeCloseTo(0.1, 12);
  });
});
