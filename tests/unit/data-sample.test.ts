import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { loadUserInputs } from '../../src/app/inputs';
import { allocate, strataFields, stratifiedSample, type SampleRow } from '../../src/data/sample';
import { MICRO_DATA, microModelBytes } from '../helpers/cli';

function rows(counts: Record<string, number>): SampleRow[] {
  return Object.entries(counts).flatMap(([key, n]) => {
    const [domain, difficulty] = key.split('/');
    return Array.from({ length: n }, (_, i) => ({ id: `${key}-${i}`, domain, difficulty }));
  });
}

const chosenBy = (sample: readonly SampleRow[]) => {
  const counts: Record<string, number> = {};
  for (const r of sample) counts[`${r.domain}/${r.difficulty}`] = (counts[`${r.domain}/${r.difficulty}`] ?? 0) + 1;
  return counts;
};

describe('stratified sample', () => {
  test('proportional by largest remainder, one per non-empty stratum first', () => {
    expect(allocate([60, 30, 10], 10)).toEqual([6, 3, 1]);
    // Quotas 6.62, 3.31, 0.07 → 7, 3, 0; the empty-handed stratum takes one from the largest share.
    expect(allocate([100, 50, 1], 10)).toEqual([6, 3, 1]);
    // Quotas 2.5, 0, 1.5: equal remainders go to the larger stratum.
    expect(allocate([5, 0, 3], 4)).toEqual([3, 0, 1]);
    // Fewer rows than strata: the largest strata get one each.
    expect(allocate([2, 9, 5], 2)).toEqual([0, 1, 1]);
    for (const [sizes, n] of [
      [[7, 3, 11, 1], 13],
      [[1000, 1, 1, 1], 50],
      [[4, 4, 4], 11],
    ] as const) {
      const shares = allocate(sizes, n);
      expect(shares.reduce((a, b) => a + b, 0)).toBe(n);
      shares.forEach((s, i) => expect(s).toBeLessThanOrEqual(sizes[i]!));
      shares.forEach((s, i) => expect(s).toBeGreaterThanOrEqual(sizes[i]! > 0 ? 1 : 0));
    }
  });

  test('the proportions of the sample follow the strata, and the report counts them', () => {
    const data = rows({ 'math/easy': 300, 'math/hard': 100, 'code/easy': 80, 'code/hard': 20 });
    const { rows: sample, report } = stratifiedSample(data, 50, 3, ['domain', 'difficulty']);
    expect(sample).toHaveLength(50);
    expect(chosenBy(sample)).toEqual({ 'math/easy': 30, 'math/hard': 10, 'code/easy': 8, 'code/hard': 2 });
    expect(report).toMatchObject({ seed: 3, requested: 50, available: 500, chosen: 50, by: ['domain', 'difficulty'] });
    expect(report.strata).toContainEqual({ key: 'code / hard', available: 20, chosen: 2 });
    // In the file's order.
    const positions = sample.map((r) => data.indexOf(r as (typeof data)[number]));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  test('deterministic by seed, different across seeds, independent of the file order', () => {
    const data = rows({ 'math/easy': 200, 'code/easy': 200 });
    const ids = (seed: number, order = data) => stratifiedSample(order, 20, seed, ['domain']).rows.map((r) => r.id);
    expect(ids(1)).toEqual(ids(1));
    expect(ids(1)).not.toEqual(ids(2));
    expect(new Set(ids(1, [...data].reverse()))).toEqual(new Set(ids(1)));
  });

  test('N ≥ size takes every row; empty and missing strata', () => {
    const data = rows({ 'math/easy': 3, 'code/hard': 2 });
    const all = stratifiedSample(data, 99, 0, ['domain', 'difficulty']);
    expect(all.rows).toEqual(data);
    expect(all.report).toMatchObject({ requested: 99, available: 5, chosen: 5 });
    expect(stratifiedSample([], 4, 0, ['domain']).rows).toEqual([]);
    const unlabelled = [{ id: 'a' }, { id: 'b', domain: 'math' }, { id: 'c' }];
    const sample = stratifiedSample(unlabelled, 2, 0, ['domain']);
    expect(sample.report.strata).toEqual([
      { key: '(none)', available: 2, chosen: 1 },
      { key: 'math', available: 1, chosen: 1 },
    ]);
    expect(() => stratifiedSample(data, -1, 0, ['domain'])).toThrow(/sample size/);
  });

  test('strata: domain × difficulty for training rows, benchmark for queries when they name one', () => {
    expect(strataFields(rows({ 'math/easy': 1 }), 'train')).toEqual(['domain', 'difficulty']);
    expect(strataFields([{ id: 'x', domain: 'math' }], 'train')).toEqual(['domain']);
    expect(strataFields([{ id: 'q', domain: 'math', extra: { benchmark: 'gsm8k' } }], 'query')).toEqual(['benchmark']);
  });

  test("the demo data's 24-sample holds GSM8K and MBPP (its first 24 rows are GSM8K only)", () => {
    const demo = readFileSync('public/data/train.jsonl', 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as SampleRow & { source: string });
    expect(new Set(demo.slice(0, 24).map((r) => r.source.split('/')[0]))).toEqual(new Set(['gsm8k']));
    const { rows: sample, report } = stratifiedSample(demo, 24, 0, strataFields(demo, 'train'));
    expect(new Set(sample.map((r) => r.source.split('/')[0]))).toEqual(new Set(['gsm8k', 'mbpp']));
    expect(report.strata).toHaveLength(6);
    for (const stratum of report.strata) expect(stratum.chosen).toBeGreaterThanOrEqual(1);
  });
});

test('loadUserInputs with limits.sample: the seeded sample of both files, and what it took, for the manifest', async () => {
  const text = (file: string) => ({ name: file, text: readFileSync(file, 'utf8') });
  const files = {
    model: { name: 'micro.onnx', bytes: microModelBytes() },
    tokenizer: text(MICRO_DATA.tokenizer),
    train: text(MICRO_DATA.train),
    queries: text(MICRO_DATA.queries),
  };
  const sampled = await loadUserInputs(files, { train: 6, queries: 2, sample: true, seed: 5 });
  expect(sampled.train).toHaveLength(6);
  expect(sampled.queries).toHaveLength(2);
  expect(sampled.sample?.train).toMatchObject({ seed: 5, requested: 6, chosen: 6 });
  expect(sampled.sample?.train?.strata.reduce((a, s) => a + s.chosen, 0)).toBe(6);
  expect(new Set(sampled.train.map((e) => e.domain)).size).toBeGreaterThan(1);
  expect(sampled.subsample).toMatch(/6 of \d+ training rows of .*train\.jsonl sampled \(seed 5\) by domain/);
  const again = await loadUserInputs(files, { train: 6, queries: 2, sample: true, seed: 5 });
  expect(again.train.map((e) => e.id)).toEqual(sampled.train.map((e) => e.id));
  const first = await loadUserInputs(files, { train: 6, queries: 2 });
  expect(first.sample).toBeNull();
  expect(first.subsample).toMatch(/^Used the first 6 training rows/);
});
