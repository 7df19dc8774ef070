// The protocol's statistics against float64 brute force (issue 24 §2): the two-way bootstrap's resampling
// distribution against the exact one enumerated over every (queries, subsets) resample of a tiny design, the sign-flip
// p-value against full enumeration, the held-out split and the choice of settings on the tuning block only.
import { describe, expect, it } from 'vitest';
import { holdoutSplit, parseHoldout, runProtocol, type Candidate } from '../../src/eval/protocol';
import { blockSpearman, signFlipPValue, twoWayBootstrap, twoWayDraws } from '../../src/eval/two-way';
import type { EvaluationResult } from '../../src/eval/types';
import { DEFAULT_EVALUATION } from '../../src/eval/types';

/** Spearman with average ranks, written out: O(n²) ranks by counting, Pearson by two passes. */
function referenceSpearman(a: number[], b: number[]): number {
  const rank = (x: number[]) => x.map((v) => x.filter((w) => w < v).length + (x.filter((w) => w === v).length + 1) / 2);
  const ra = rank(a);
  const rb = rank(b);
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < ra.length; i++) {
    ab += (ra[i]! - ma) * (rb[i]! - mb);
    aa += (ra[i]! - ma) ** 2;
    bb += (rb[i]! - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : NaN;
}

/** Deterministic pseudo-data without the generator under test. */
const wobble = (i: number) => Math.sin(1.7 * i + 0.3) + 0.5 * Math.cos(3.1 * i);

describe('two-way bootstrap', () => {
  // Design: Q = 2 queries, M = 3 subsets, two strategies. Every resample (4 query draws × 27 subset draws) is
  // equally likely; the exact distribution of the resampled mean LDS is enumerated below.
  const Q = 2;
  const M = 3;
  const measured = Float64Array.from([0.1, 0.9, 0.5, 0.2, 0.7, 0.4]); // [M × Q]
  const predA = Float64Array.from([0.2, 0.8, 0.6, 0.7, 0.9, 0.1]);
  const predB = Float64Array.from([0.9, 0.3, 0.1, 0.2, 0.5, 0.8]);

  function exactDistribution(pred: Float64Array, other?: Float64Array): number[] {
    const out: number[] = [];
    for (let q0 = 0; q0 < Q; q0++)
      for (let q1 = 0; q1 < Q; q1++)
        for (let m0 = 0; m0 < M; m0++)
          for (let m1 = 0; m1 < M; m1++)
            for (let m2 = 0; m2 < M; m2++) {
              const ms = [m0, m1, m2];
              const values: number[] = [];
              for (const q of [q0, q1]) {
                const f = ms.map((m) => measured[m * Q + q]!);
                const r = referenceSpearman(
                  ms.map((m) => pred[m * Q + q]!),
                  f,
                );
                const s = other
                  ? referenceSpearman(
                      ms.map((m) => other[m * Q + q]!),
                      f,
                    )
                  : 0;
                if (Number.isFinite(r - s)) values.push(r - s);
              }
              out.push(values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);
            }
    return out;
  }

  it('resamples queries and subsets with the exact distribution (mean and CDF within Monte Carlo error)', () => {
    const samples = 20000;
    const draws = twoWayDraws([predA, predB], measured, Q, [0, 1], [0, 1, 2], [[0, 1]], samples, 11);
    const check = (got: Float64Array, exact: number[]) => {
      const e = exact.filter(Number.isFinite);
      const g = Array.from(got).filter(Number.isFinite);
      // Share of resamples with no rankable query (a subset drawn three times): 3/27 exactly.
      expect(1 - g.length / samples).toBeCloseTo(1 - e.length / exact.length, 1);
      const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
      const sd = Math.sqrt(mean(e.map((v) => (v - mean(e)) ** 2)));
      expect(sd).toBeGreaterThan(0.1);
      expect(Math.abs(mean(g) - mean(e))).toBeLessThan((4 * sd) / Math.sqrt(g.length));
      for (const t of [-0.5, 0, 0.5]) {
        const cdf = (x: number[]) => x.filter((v) => v <= t).length / x.length;
        expect(Math.abs(cdf(g) - cdf(e))).toBeLessThan(0.02);
      }
    };
    check(draws.lds[0]!, exactDistribution(predA));
    check(draws.lds[1]!, exactDistribution(predB));
    check(draws.differences[0]!, exactDistribution(predA, predB));
  });

  it('gives the observed means and an interval around them; the same seed gives the same interval', () => {
    const Qn = 6;
    const Mn = 12;
    const meas = Float64Array.from({ length: Mn * Qn }, (_, i) => wobble(i));
    const good = Float64Array.from(meas, (v, i) => v + 0.3 * wobble(i + 1000));
    const bad = Float64Array.from(meas, (_, i) => wobble(i + 5000));
    const queries = [0, 1, 2, 3, 4, 5];
    const subsets = Array.from({ length: Mn }, (_, m) => m);
    const result = twoWayBootstrap([good, bad], meas, Qn, queries, subsets, [[0, 1]], 2000, 3);
    const rhoGood = queries.map((q) =>
      referenceSpearman(
        subsets.map((m) => good[m * Qn + q]!),
        subsets.map((m) => meas[m * Qn + q]!),
      ),
    );
    const rhoBad = queries.map((q) =>
      referenceSpearman(
        subsets.map((m) => bad[m * Qn + q]!),
        subsets.map((m) => meas[m * Qn + q]!),
      ),
    );
    const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
    expect(result.lds[0]!.mean).toBeCloseTo(mean(rhoGood), 12);
    expect(result.lds[1]!.mean).toBeCloseTo(mean(rhoBad), 12);
    expect(result.differences[0]!.mean).toBeCloseTo(mean(rhoGood) - mean(rhoBad), 12);
    expect(result.lds[0]!.low).toBeLessThan(result.lds[0]!.mean);
    expect(result.lds[0]!.high).toBeGreaterThan(result.lds[0]!.mean);
    expect(result.differences[0]!.low).toBeGreaterThan(0); // a near-perfect predictor against noise: resolved
    expect(twoWayBootstrap([good, bad], meas, Qn, queries, subsets, [[0, 1]], 2000, 3)).toEqual(result);
  });

  it('per-query Spearman on a block equals the written-out reference', () => {
    const meas = Float64Array.from({ length: 40 }, (_, i) => Math.round(4 * wobble(i)) / 4); // ties
    const pred = Float64Array.from({ length: 40 }, (_, i) => wobble(i + 77));
    const got = blockSpearman(pred, meas, 4, [3, 1], [0, 2, 4, 5, 9, 7]);
    [3, 1].forEach((q, k) => {
      const ref = referenceSpearman(
        [0, 2, 4, 5, 9, 7].map((m) => pred[m * 4 + q]!),
        [0, 2, 4, 5, 9, 7].map((m) => meas[m * 4 + q]!),
      );
      expect(got[k]).toBeCloseTo(ref, 14);
    });
  });

  it('refuses a block too small to rank', () => {
    const x = new Float64Array(4);
    expect(() => twoWayBootstrap([x], x, 2, [0, 1], [0, 1], [], 10, 0)).toThrow(/2 subsets in the block/);
  });
});

describe('sign-flip permutation p-value', () => {
  /** Every sign pattern, enumerated by recursion (independent of the bit loop under test). */
  function referenceP(d: number[]): number {
    const observed = Math.abs(d.reduce((s, v) => s + v, 0));
    let hits = 0;
    let total = 0;
    const walk = (i: number, sum: number) => {
      if (i === d.length) {
        total++;
        if (Math.abs(sum) >= observed - 1e-9) hits++;
        return;
      }
      walk(i + 1, sum + d[i]!);
      walk(i + 1, sum - d[i]!);
    };
    walk(0, 0);
    return hits / total;
  }

  it('is exact for n ≤ 16', () => {
    const d = [0.12, -0.03, 0.2, 0.05, 0.11, -0.08, 0.07, 0.15, NaN, 0.01];
    const got = signFlipPValue(d, 100, 0);
    expect(got.exact).toBe(true);
    expect(got.patterns).toBe(512);
    expect(got.p).toBe(referenceP(d.filter(Number.isFinite)));
    // All positive: only the identity and its mirror reach the observed |sum|.
    expect(signFlipPValue([1, 2, 3], 10, 0).p).toBe(2 / 8);
  });

  it('approximates the exact value with random patterns for n > 16', () => {
    const d = Array.from({ length: 20 }, (_, i) => 0.05 + 0.2 * wobble(i));
    const exact = referenceP(d);
    const got = signFlipPValue(d, 20000, 5);
    expect(got.exact).toBe(false);
    expect(Math.abs(got.p - exact)).toBeLessThan(4 * Math.sqrt((exact * (1 - exact)) / 20000) + 1e-4);
    expect(signFlipPValue(d, 20000, 5)).toEqual(got);
  });
});

describe('held-out split and tuning', () => {
  it('parses FRACTION and SPEC, and refuses anything else naming --holdout', () => {
    expect(parseHoldout('0.5')).toEqual({ queries: 0.5, subsets: 0.5 });
    expect(parseHoldout('queries=0.25,subsets=0.4')).toEqual({ queries: 0.25, subsets: 0.4 });
    expect(parseHoldout('subsets=0.3')).toEqual({ queries: 0.5, subsets: 0.3 });
    for (const bad of ['1', '0', '1.5', 'x', 'queries=2', 'seeds=0.5', 'queries=0.5,queries=0.2', '0x1'])
      expect(() => parseHoldout(bad)).toThrow(/--holdout/);
  });

  it('splits queries and subsets disjointly, seeded, at least 1 query and 3 subsets a side', () => {
    const split = holdoutSplit(10, 20, { queries: 0.5, subsets: 0.25 }, 7);
    expect([...split.tuningQueries, ...split.heldOutQueries].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect([...split.tuningSubsets, ...split.heldOutSubsets].sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(split.heldOutQueries).toHaveLength(5);
    expect(split.heldOutSubsets).toHaveLength(5);
    expect(holdoutSplit(10, 20, { queries: 0.5, subsets: 0.25 }, 7)).toEqual(split);
    expect(holdoutSplit(10, 20, { queries: 0.5, subsets: 0.25 }, 8)).not.toEqual(split);
    const small = holdoutSplit(2, 6, { queries: 0.9, subsets: 0.9 }, 0);
    expect([small.tuningQueries.length, small.heldOutQueries.length]).toEqual([1, 1]);
    expect([small.tuningSubsets.length, small.heldOutSubsets.length]).toEqual([3, 3]);
    expect(() => holdoutSplit(4, 5, { queries: 0.5, subsets: 0.5 }, 0)).toThrow(/--subsets 6/);
  });

  /** A synthetic evaluation: one strategy whose predictions are `noise`-far from the measurements. */
  function result(noise: (q: number) => number, label: number): EvaluationResult {
    const Q = 8;
    const M = 16;
    const measurements = Float64Array.from({ length: M * Q }, (_, i) => wobble(i));
    const predictions = Float64Array.from(measurements, (v, i) => v + noise(i % Q) * wobble(i + 300 + label));
    return {
      config: { ...DEFAULT_EVALUATION, subsets: M },
      trainSize: 4,
      querySize: Q,
      measurement: 'test',
      subsetMask: new Uint8Array(M * 4),
      subsetMeasurements: measurements,
      fullMeasurements: new Float64Array(0),
      strategies: [
        { strategy: 'ekfac', perQuery: new Float64Array(Q), lds: { mean: 0, low: 0, high: 0, count: Q }, predictions },
      ],
      loo: null,
      retrains: { done: 0, resumed: 0 },
    };
  }

  it('chooses on the tuning block only and reports on the held-out block', () => {
    const split = holdoutSplit(8, 16, { queries: 0.5, subsets: 0.5 }, 1);
    const tuning = new Set(split.tuningQueries);
    // Candidate "tuned-good" is accurate on the tuning queries and noise on the held-out ones; "flat" is mediocre
    // everywhere. Choosing on the tuning block picks "tuned-good"; its held-out LDS shows what that choice is worth.
    const candidates: Candidate[] = [
      { label: 'flat', settings: { damping: 1 }, result: result(() => 1.5, 1) },
      { label: 'tuned-good', settings: { damping: 2 }, result: result((q) => (tuning.has(q) ? 0.05 : 50), 2) },
    ];
    const report = runProtocol(candidates, { split, samples: 200, seed: 0, permutations: 100 });
    const ekfac = report.strategies[0]!;
    expect(ekfac.chosen).toBe('tuned-good');
    expect(ekfac.tuning.map((t) => t.candidate)).toEqual(['flat', 'tuned-good']);
    expect(ekfac.tuning[1]!.lds).toBeGreaterThan(0.9);
    expect(report.queries).toEqual(split.heldOutQueries);
    expect(report.subsets).toEqual(split.heldOutSubsets);
    const measured = candidates[1]!.result.subsetMeasurements;
    const heldOut = blockSpearman(
      candidates[1]!.result.strategies[0]!.predictions,
      measured,
      8,
      split.heldOutQueries,
      split.heldOutSubsets,
    );
    expect(Array.from(ekfac.perQuery)).toEqual(Array.from(heldOut));
    expect(ekfac.lds.mean).toBeLessThan(0.5); // the tuning block's 0.9+ does not carry over
  });

  it('refuses to choose among settings without a held-out split, and results of other retrains', () => {
    const a = { label: 'a', settings: {}, result: result(() => 1, 1) };
    const b = { label: 'b', settings: {}, result: result(() => 1, 2) };
    expect(() => runProtocol([a, b], { split: null, samples: 10, seed: 0, permutations: 10 })).toThrow(/--holdout/);
    const other = result(() => 1, 1);
    const shifted = { ...other, subsetMeasurements: Float64Array.from(other.subsetMeasurements, (v) => v + 1) };
    const split = holdoutSplit(8, 16, { queries: 0.5, subsets: 0.5 }, 1);
    expect(() =>
      runProtocol([a, { label: 'c', settings: {}, result: shifted }], {
        split,
        samples: 10,
        seed: 0,
        permutations: 10,
      }),
    ).toThrow(/same retrains/);
  });
});

describe('the Evaluation view’s paired comparisons (worker)', () => {
  it('compares every pair, richest first, on the stored per-query LDS, with NaN for unranked queries left out', async () => {
    const { pairedComparisons } = await import('../../src/app/evaluation-paired');
    const Q = 5;
    const M = 10;
    const measured = Float64Array.from({ length: M * Q }, (_, i) => wobble(i));
    const strategies = ['identity', 'kfac', 'ekfac'].map((strategy, k) => {
      const predictions = Float64Array.from(measured, (v, i) => v + (0.2 + k) * wobble(i + 900 * (k + 1)));
      const perQuery = blockSpearman(predictions, measured, Q, [0, 1, 2, 3, 4], [...Array(M).keys()]);
      return { strategy, predictions, perQuery };
    });
    const paired = pairedComparisons(strategies, measured, Q, M, 500, 4)!;
    expect(paired.pairs.map((p) => `${p.a}-${p.b}`)).toEqual(['ekfac-kfac', 'ekfac-identity', 'kfac-identity']);
    const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
    const d = Array.from(strategies[2]!.perQuery, (v, q) => v - strategies[0]!.perQuery[q]!);
    expect(paired.pairs[1]!.mean).toBeCloseTo(mean(d), 12);
    expect(paired.pairs[1]!.exact).toBe(true);
    expect(paired.pairs[1]!.p).toBe(signFlipPValue(d, 1, 0).p);
    expect(paired.twoWay.map((t) => t.strategy)).toEqual(['identity', 'kfac', 'ekfac']);
    expect(pairedComparisons(strategies, measured, Q, 2, 500, 4)).toBeNull();
  });
});
