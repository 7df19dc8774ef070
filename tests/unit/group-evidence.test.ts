/**
 * Group-level evidence (src/eval/group-evidence.ts, group-arms.ts) on synthetic data whose answer is known: a
 * perfectly linear response gives its slope, sign accuracy 1 and group-LDS 1; hand-computed sums for the slopes and
 * the first-order prediction; the arms keep every domain's mass; bad input is refused naming the point.
 */
import { describe, expect, it } from 'vitest';
import {
  groupArmWeights,
  predictedChange,
  predictedTokenChange,
  segmentArmWeights,
  type GroupMember,
} from '../../src/eval/group-arms';
import {
  groupEvidence,
  leastSquares,
  signAccuracy,
  slopeThroughOrigin,
  splitHalfReliability,
  type GroupPoint,
} from '../../src/eval/group-evidence';
import { seededUniform } from '../../src/core/random';

const points = (predicted: number[], actual: (x: number, i: number, s: number) => number, seeds = 10): GroupPoint[] =>
  predicted.map((x, i) => ({
    group: `g${i}`,
    arm: i % 2 ? 'upweight' : 'remove',
    predicted: x,
    actual: Array.from({ length: seeds }, (_, s) => actual(x, i, s)),
  }));

describe('group evidence statistics', () => {
  it('computes the slopes and the sign accuracy as by hand', () => {
    expect(slopeThroughOrigin([1, 2, 3], [2, 4, 7])).toBeCloseTo(31 / 14, 14);
    // y = 1 + 2x exactly, then one point moved: slope Σ(x−x̄)(y−ȳ)/Σ(x−x̄)² by hand.
    expect(leastSquares([0, 1, 2], [1, 3, 5])).toEqual({ slope: 2, intercept: 1 });
    const fit = leastSquares([0, 1, 2, 3], [0, 1, 1, 4]);
    expect(fit.slope).toBeCloseTo(1.2, 14);
    expect(fit.intercept).toBeCloseTo(1.5 - 1.2 * 1.5, 14);
    expect(signAccuracy([1, -1, 2, -3], [0.5, -0.1, -1, -2])).toBe(0.75);
    expect(signAccuracy([0, 1], [0, 1])).toBe(0.5);
    expect(slopeThroughOrigin([0, 0], [1, 2])).toBeNaN();
  });

  it('recovers a perfectly linear response: slope k, intercept 0, sign accuracy 1, group-LDS 1, reliability 1', () => {
    const x = [-3, -1.5, -0.2, 0.4, 1, 2.5, 4, -2];
    const e = groupEvidence(
      points(x, (v) => 0.5 * v),
      { samples: 300 },
    );
    expect(e.slopeThroughOrigin.value).toBeCloseTo(0.5, 12);
    expect(e.slopeThroughOrigin.low).toBeCloseTo(0.5, 12);
    expect(e.slopeThroughOrigin.high).toBeCloseTo(0.5, 12);
    expect(e.slope.value).toBeCloseTo(0.5, 12);
    expect(e.intercept.value).toBeCloseTo(0, 12);
    expect(e.signAccuracy.value).toBe(1);
    expect(e.groupLds.value).toBeCloseTo(1, 12);
    expect(e.reliability).toBeCloseTo(1, 12);
    expect(e.normalisedLds).toBeCloseTo(1, 12);
    expect([e.points, e.seeds]).toEqual([8, 10]);
  });

  it('gives an interval around 0 and a low reliability when the actual changes are noise', () => {
    const noise = seededUniform(7);
    const x = Array.from({ length: 12 }, (_, i) => i - 6);
    const e = groupEvidence(
      points(x, () => noise() - 0.5),
      { samples: 500 },
    );
    expect(e.groupLds.low).toBeLessThan(0);
    expect(e.groupLds.high).toBeGreaterThan(0);
    expect(e.reliability).toBeLessThan(0.6);
  });

  it('sees noise shrink with seeds: a signal under seed noise is more reliable with more seeds', () => {
    const noisy = (seeds: number) => {
      const noise = seededUniform(11);
      return splitHalfReliability(
        points(
          Array.from({ length: 10 }, (_, i) => i),
          (v) => v + 8 * (noise() - 0.5),
          seeds,
        ),
        100,
        1,
      );
    };
    expect(noisy(40)).toBeGreaterThan(noisy(4));
  });

  it('refuses points with different seed counts or non-finite values, naming the point', () => {
    const good = points([1, 2, 3], (v) => v, 3);
    expect(() => groupEvidence([...good, { group: 'math/hard', arm: 'remove', predicted: 1, actual: [1] }])).toThrow(
      /math\/hard remove has 1 seeds/,
    );
    expect(() =>
      groupEvidence([...good, { group: 'code/easy', arm: 'upweight', predicted: NaN, actual: [1, 2, 3] }]),
    ).toThrow(/code\/easy upweight has a value that is not a finite number/);
    expect(() => groupEvidence(good.slice(0, 2))).toThrow(/2 points; at least 3/);
  });
});

describe('group arms', () => {
  const pool: GroupMember[] = [
    ...Array.from({ length: 4 }, () => ({ domain: 'math', group: 'math/easy' })),
    ...Array.from({ length: 2 }, () => ({ domain: 'math', group: 'math/hard' })),
    ...Array.from({ length: 3 }, () => ({ domain: 'code', group: 'code/easy' })),
  ];
  const mass = (w: Float64Array, domain: string) => pool.reduce((s, e, n) => s + (e.domain === domain ? w[n]! : 0), 0);

  it('removes a group and gives its mass to the rest of its domain', () => {
    const w = groupArmWeights(pool, 'math/hard', 'remove', 3);
    expect(Array.from(w)).toEqual([1.5, 1.5, 1.5, 1.5, 0, 0, 1, 1, 1]);
    expect(mass(w, 'math')).toBe(6);
  });

  it('up-weights a group k× against the rest of its domain, the domain mass unchanged', () => {
    const w = groupArmWeights(pool, 'math/hard', 'upweight', 3);
    // c·4 + 3c·2 = 6 → c = 0.6.
    expect(w[0]).toBeCloseTo(0.6, 14);
    expect(w[4]).toBeCloseTo(1.8, 14);
    expect(mass(w, 'math')).toBeCloseTo(6, 12);
    expect(mass(w, 'code')).toBe(3);
  });

  it('predicts Σ (w − 1)·I / N', () => {
    const influence = [1, 2, 3, 4, 5, 6, -1, 0, 1];
    const w = groupArmWeights(pool, 'math/hard', 'remove', 3);
    // (0.5·(1+2+3+4) − (5+6)) / 9.
    expect(predictedChange(w, influence)).toBeCloseTo((5 - 11) / 9, 14);
    expect(() => predictedChange(w, [1])).toThrow(/9 weights for 1 influence values/);
  });

  it('refuses a group that is its whole domain, or absent', () => {
    expect(() => groupArmWeights(pool, 'code/easy', 'remove', 3)).toThrow(/all of domain "code"/);
    expect(() => groupArmWeights(pool, 'code/hard', 'remove', 3)).toThrow(/no pool example is in group "code\/hard"/);
    expect(() => groupArmWeights(pool, 'math/hard', 'upweight', 1)).toThrow(/factor must be > 1/);
  });
});

describe('segment arms (per-token weights)', () => {
  const pool = [
    { domain: 'math', tokenGroups: [null, null, 'math/reasoning', 'math/reasoning', 'math/final_answer', null] },
    { domain: 'math', tokenGroups: [null, 'math/reasoning', 'math/final_answer', 'math/after_answer'] },
    { domain: 'code', tokenGroups: [null, 'code/body', 'code/body'] },
  ];

  it('removes a segment type and gives its token mass to the domain’s other grouped tokens', () => {
    const w = segmentArmWeights(pool, 'math/after_answer', 'remove', 3);
    // 6 grouped math tokens, 1 removed: c = 6/5.
    expect(Array.from(w[0]!)).toEqual([1, 1, 1.2, 1.2, 1.2, 1]);
    expect(Array.from(w[1]!)).toEqual([1, 1.2, 1.2, 0]);
    expect(Array.from(w[2]!)).toEqual([1, 1, 1]);
  });

  it('up-weights a segment type k× keeping the domain’s token mass, and predicts Σ (w − 1)·I / N', () => {
    const w = segmentArmWeights(pool, 'math/final_answer', 'upweight', 3);
    // 4 other grouped tokens at c, 2 at 3c: 4c + 6c = 6 → c = 0.6.
    expect(w[0]![2]).toBeCloseTo(0.6, 14);
    expect(w[0]![4]).toBeCloseTo(1.8, 14);
    const mass = [w[0]!, w[1]!].reduce(
      (s, row, n) => s + row.reduce((a, v, t) => a + (pool[n]!.tokenGroups[t] ? v : 0), 0),
      0,
    );
    expect(mass).toBeCloseTo(6, 12);
    const influence = pool.map((e) => e.tokenGroups.map((_, t) => t + 1));
    // Example 0: (−0.4)(3 + 4) + 0.8·5; example 1: −0.4·2 + 0.8·3 − 0.4·4; example 2: 0.
    const expected = (-0.4 * 7 + 0.8 * 5 + (-0.4 * 2 + 0.8 * 3 - 0.4 * 4)) / 3;
    expect(predictedTokenChange(w, influence)).toBeCloseTo(expected, 12);
    expect(() => predictedTokenChange(w, influence.slice(1))).toThrow(/token weights for 3 examples, influence for 2/);
  });

  it('refuses a segment type that is all of its domain, or absent', () => {
    expect(() => segmentArmWeights(pool, 'code/body', 'remove', 3)).toThrow(/all of domain "code"/);
    expect(() => segmentArmWeights(pool, 'code/signature', 'remove', 3)).toThrow(/no pool token is in group/);
  });
});
