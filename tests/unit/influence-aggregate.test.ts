/**
 * Aggregations and normalisation on a real run (token LM fixture, CPU float64, per-token scores), checked against
 * brute-force recomputation from the result's raw arrays.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import {
  benchmarkScores,
  creditedTokenInfluence,
  crossDomainTable,
  segmentSummary,
  tokenCategorySummary,
  tokenInfluence,
  topExamplesForQuery,
} from '../../src/influence/aggregate';
import { scoreView } from '../../src/influence/normalize';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_CONFIG, type ExampleMeta } from '../../src/influence/types';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const TRAIN = 16;
const QUERIES = 6;
const CATEGORIES = ['other', 'number', 'connector'];
const fixture = await tokenLmFixture();
const train: ExampleMeta[] = Array.from({ length: TRAIN }, (_, n) => {
  const length = fixture.model.length('train', n);
  const split = Math.max(1, Math.floor(length / 2));
  return {
    id: `t${n}`,
    domain: n % 2 === 0 ? 'math' : 'code',
    difficulty: ['easy', 'hard'][Math.floor(n / 2) % 2],
    // Segments that partition the whole sequence, so segment sums add up to the example's score.
    segments: [
      { label: 'reasoning', start: 0, end: split },
      { label: 'final_answer', start: split, end: length },
    ],
    tokenCategories: Array.from({ length }, (_, t) => (n + t) % CATEGORIES.length),
  };
});
const queries: ExampleMeta[] = Array.from({ length: QUERIES }, (_, q) => ({
  id: `q${q}`,
  benchmark: q < 4 ? 'gsm8k' : 'mbpp',
}));
const result = await runAttribution(
  { ...DEFAULT_CONFIG, perToken: true, batchSizes: { fit: 8, train: 8, query: 6, batchesPerChunk: 2 } },
  {
    backend: new CpuBackend(),
    source: new ExactGradientSource(fixture.model),
    trainSet: { role: 'train', examples: train },
    querySet: { role: 'query', examples: queries },
  },
);
const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(b)));

describe('aggregations', () => {
  it('top helpful and harmful per query are the largest positive and most negative scores', () => {
    const view = scoreView(result);
    for (let q = 0; q < QUERIES; q++) {
      const row = Array.from(view.values.subarray(q * TRAIN, (q + 1) * TRAIN));
      const top = topExamplesForQuery(view, train, q, 3);
      const sorted = [...row].sort((a, b) => b - a);
      expect(top.helpful.map((e) => e.score)).toEqual(sorted.filter((v) => v > 0).slice(0, 3));
      expect(top.harmful.map((e) => e.score)).toEqual(
        [...sorted]
          .reverse()
          .filter((v) => v < 0)
          .slice(0, 3),
      );
      top.helpful.forEach((e) => expect(e.id).toBe(train[e.index].id));
    }
  });

  it('benchmark influence is the mean over its queries; the cross-domain table has the group means and counts', () => {
    const view = scoreView(result);
    const benchmarks = benchmarkScores(view, queries);
    expect([...benchmarks.keys()]).toEqual(['gsm8k', 'mbpp']);
    for (let n = 0; n < TRAIN; n++)
      close(benchmarks.get('mbpp')!.scores[n], (view.values[4 * TRAIN + n] + view.values[5 * TRAIN + n]) / 2);
    const table = crossDomainTable(view, queries, train);
    expect(table).toHaveLength(2 * 2 * 2);
    for (const cell of table) {
      const members = train.flatMap((e, n) =>
        e.domain === cell.domain && e.difficulty === cell.difficulty ? [n] : [],
      );
      const qs = queries.flatMap((e, q) => (e.benchmark === cell.benchmark ? [q] : []));
      let sum = 0;
      for (const q of qs) for (const n of members) sum += view.values[q * TRAIN + n];
      close(cell.mean, sum / (qs.length * members.length));
      expect([cell.trainCount, cell.queryCount]).toEqual([members.length, qs.length]);
    }
  });

  it('segment sums and token-category sums add up to the examples’ influence', () => {
    const view = scoreView(result);
    const gsm8k = [0, 1, 2, 3];
    const total = benchmarkScores(view, queries)
      .get('gsm8k')!
      .scores.reduce((a, b) => a + b, 0);
    const segments = segmentSummary(result, gsm8k);
    expect(segments.map((s) => s.label).sort()).toEqual(['final_answer', 'reasoning']);
    close(
      segments.reduce((sum, s) => sum + s.sum, 0),
      total,
    );
    segments.forEach((s) => expect(s.count).toBe(TRAIN));
    const categories = tokenCategorySummary(result, gsm8k, CATEGORIES);
    close(
      categories.reduce((sum, c) => sum + c.sum, 0),
      total,
    );
    expect(categories.reduce((sum, c) => sum + c.count, 0)).toBe(result.trainTokenCounts.reduce((a, b) => a + b, 0));
    categories.forEach((c) => close(c.mean, c.sum / c.count));
  });

  it('normalisations divide by √self-influence or the token count, and say so', () => {
    const raw = scoreView(result);
    const bySelf = scoreView(result, 'self-influence');
    const byTokens = scoreView(result, 'token-count');
    expect(raw.label).toMatch(/mean log-likelihood.*positive = helps.*not normalised/);
    expect(bySelf.label).toMatch(/self-influence/);
    expect(byTokens.label).toMatch(/token count/);
    for (let q = 0; q < QUERIES; q++)
      for (let n = 0; n < TRAIN; n++) {
        close(bySelf.values[q * TRAIN + n], raw.values[q * TRAIN + n] / Math.sqrt(result.selfTau[n]));
        close(byTokens.values[q * TRAIN + n], raw.values[q * TRAIN + n] / fixture.model.length('train', n));
      }
  });

  it('a causal LM credits the score of position t to the predicted token t+1 (default), or to token t on request', () => {
    for (let n = 0; n < TRAIN; n++) {
      const positions = tokenInfluence(result, [0], n);
      const credited = creditedTokenInfluence(result, [0], n, 'next-token');
      expect(positions[positions.length - 1]).toBe(0); // the last token predicts nothing
      expect(credited[0]).toBe(0); // nothing predicts the first token
      for (let t = 0; t + 1 < positions.length; t++) expect(credited[t + 1]).toBe(positions[t]);
      expect(Array.from(creditedTokenInfluence(result, [0], n, 'same-token'))).toEqual(Array.from(positions));
    }
    // A category that only the first token of every example has gets nothing under 'next-token'.
    const firstOnly = {
      ...result,
      train: train.map((e) => ({ ...e, tokenCategories: Array.from(e.tokenCategories!, (_, t) => (t === 0 ? 1 : 0)) })),
    };
    const byCategory = tokenCategorySummary(firstOnly, [0], CATEGORIES);
    expect(byCategory.find((c) => c.label === 'number')!.sum).toBe(0);
    expect(
      tokenCategorySummary(firstOnly, [0], CATEGORIES, 'same-token').find((c) => c.label === 'number')!.sum,
    ).not.toBe(0);
  });

  it('segment errors name the example', () => {
    const bad = {
      ...result,
      train: [{ ...train[0], segments: [{ label: 'x', start: 0, end: 99 }] }, ...train.slice(1)],
    };
    expect(() => segmentSummary(bad, [0], 'same-token')).toThrow(/"t0": segment "x" \[0, 99\) is outside/);
  });
});
