/**
 * The after-answer experiment's statistics (src/eval/segment-effects.ts) on a real per-token run (token LM fixture,
 * CPU float64), checked against the engine's own segment aggregation, brute-force means and differences, and a
 * brute-force bootstrap; which shipped demo rows carry an after-answer segment by label.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { carriesAfterSegment, segmentEffects, segmentSums } from '../../src/eval/segment-effects';
import { bootstrapMeanDifference } from '../../src/core/stats';
import { seededUniform } from '../../src/core/random';
import { segmentsForDomain } from '../../src/data/segments';
import { segmentSummary } from '../../src/influence/aggregate';
import { runAttribution } from '../../src/influence/pipeline';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { DEFAULT_CONFIG, type ExampleMeta } from '../../src/influence/types';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const TRAIN = 16;
const fixture = await tokenLmFixture();
/** Even examples carry an after segment (their last third); domains alternate in pairs. */
const carries = (n: number) => n % 2 === 0;
const train: ExampleMeta[] = Array.from({ length: TRAIN }, (_, n) => {
  const length = fixture.model.length('train', n);
  const domain = Math.floor(n / 2) % 2 === 0 ? 'math' : 'code';
  const after = domain === 'math' ? 'after_answer' : 'after_code';
  const cut = Math.max(1, Math.floor((2 * length) / 3));
  const segments = carries(n)
    ? [
        { label: 'body', start: 0, end: Math.floor(cut / 2) },
        { label: 'final', start: Math.floor(cut / 2), end: cut },
        { label: after, start: cut, end: length },
      ]
    : [{ label: 'body', start: 0, end: length }];
  return { id: `t${n}`, domain, segments };
});
const queries: ExampleMeta[] = Array.from({ length: 6 }, (_, q) => ({ id: `q${q}`, benchmark: q < 3 ? 'a' : 'b' }));
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
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('segment effects', () => {
  const sums = segmentSums(result, (id) => carries(Number(id.slice(1))));

  it('sums each segment as the engine’s segment aggregation does, per benchmark', () => {
    expect([...sums.keys()].sort()).toEqual(['a', 'b']);
    for (const [benchmark, qs] of [
      ['a', [0, 1, 2]],
      ['b', [3, 4, 5]],
    ] as const) {
      const engine = segmentSummary(result, [...qs]);
      for (const { label, sum, count } of engine) {
        const ours = sums.get(benchmark)!.flatMap((e) => e.segments.filter((s) => s.label === label));
        expect(ours).toHaveLength(count);
        close(
          ours.reduce((s, x) => s + x.sum, 0),
          sum,
        );
      }
    }
  });

  it('compares the after segment with the rest of the same examples and with the examples without it', () => {
    const effects = segmentEffects(sums, 3);
    expect(effects.map((e) => `${e.benchmark}|${e.domain}`).sort()).toEqual(['a|code', 'a|math', 'b|code', 'b|math']);
    for (const e of effects) {
      const examples = sums.get(e.benchmark)!.filter((x) => x.domain === e.domain);
      const withIt = examples.filter((x) => x.carries);
      const withoutIt = examples.filter((x) => !x.carries);
      const [after, rest, without, whole, ...labels] = e.groups;
      expect(after!.group).toMatch(new RegExp(`^${e.afterLabel}`));
      const afterSums = withIt.map((x) => x.segments.at(-1)!.sum);
      const restSums = withIt.map((x) => x.segments[0]!.sum + x.segments[1]!.sum);
      const withoutSums = withoutIt.map((x) => x.segments[0]!.sum);
      const wholeSums = withIt.map((x) => x.segments[0]!.sum + x.segments[1]!.sum + x.segments[2]!.sum);
      close(after!.mean, mean(afterSums));
      close(rest!.mean, mean(restSums));
      close(without!.mean, mean(withoutSums));
      expect(whole!.group).toBe('whole response, examples with the segment');
      close(whole!.mean, mean(wholeSums));
      const [withMinusWithout, restMinusWithout, afterMinusRest] = e.differences;
      close(withMinusWithout!.mean, mean(wholeSums) - mean(withoutSums));
      close(restMinusWithout!.mean, mean(restSums) - mean(withoutSums));
      close(afterMinusRest!.mean, mean(afterSums.map((a, i) => a - restSums[i]!)));
      expect(e.differences.map((d) => [d.comparison, d.paired])).toEqual([
        ['with − without', false],
        ['rest − without', false],
        ['after − rest', true],
      ]);
      const oracle = bruteDifference(wholeSums, withoutSums, 2000, 3);
      close(withMinusWithout!.low, oracle.low);
      close(withMinusWithout!.high, oracle.high);
      expect(labels.map((g) => g.group.split(' ')[0])).toEqual(['body', 'final']);
      for (const g of e.groups) {
        expect(g.low).toBeLessThanOrEqual(g.mean);
        expect(g.high).toBeGreaterThanOrEqual(g.mean);
        expect(g.count).toBe(4);
      }
      const tokens = withIt.reduce((s, x) => s + x.segments.at(-1)!.tokens, 0);
      close(after!.perToken, after!.sum / tokens);
    }
    expect(segmentEffects(sums, 3)).toEqual(effects);
  });
});

/** The percentile bootstrap of mean(a) − mean(b) written out: every resample's difference, sorted, numpy's quantile. */
function bruteDifference(a: number[], b: number[], samples: number, seed: number): { low: number; high: number } {
  const uniform = seededUniform(seed);
  const resample = (xs: number[]) => xs.map(() => xs[Math.floor(uniform() * xs.length)]!);
  const diffs: number[] = [];
  for (let s = 0; s < samples; s++) diffs.push(mean(resample(a)) - mean(resample(b)));
  diffs.sort((x, y) => x - y);
  const at = (p: number) => {
    const i = p * (diffs.length - 1);
    const lo = Math.floor(i);
    return diffs[lo]! + (i - lo) * (diffs[Math.min(lo + 1, diffs.length - 1)]! - diffs[lo]!);
  };
  return { low: at(0.025), high: at(0.975) };
}

describe('bootstrap of a difference of means', () => {
  it('equals the written-out resampling in float64 and is seeded', () => {
    const random = seededUniform(11);
    const a = Array.from({ length: 17 }, () => random() * 3 - 1);
    const b = Array.from({ length: 9 }, () => random() * 2);
    const got = bootstrapMeanDifference(a, b, 500, 5);
    const want = bruteDifference(a, b, 500, 5);
    close(got.mean, mean(a) - mean(b));
    close(got.low, want.low);
    close(got.high, want.high);
    expect(got.count).toBe(17);
    expect(bootstrapMeanDifference(a, b, 500, 5)).toEqual(got);
    expect(bootstrapMeanDifference(a, b, 500, 6)).not.toEqual(got);
    expect(bootstrapMeanDifference(a, [], 500, 5).mean).toBeNaN();
  });
});

describe('which training examples carry an after-answer segment', () => {
  const rows = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { domain: string; response: string; segments?: unknown; after_answer?: string });
  const meta = (r: ReturnType<typeof rows>[number]) => ({
    id: '',
    domain: r.domain,
    segments:
      (r.segments as { label: string; start: number; end: number }[]) ?? segmentsForDomain(r.domain, r.response),
  });

  it('in the after-answer variant, exactly the rows given one; in the plain demo data, none', () => {
    const variant = rows('public/data/after/train.jsonl');
    expect(variant.map((r) => carriesAfterSegment(meta(r)))).toEqual(variant.map((r) => r.after_answer !== undefined));
    expect(variant.filter((r) => r.after_answer !== undefined).length).toBeGreaterThan(1000);
    for (const file of ['public/data/train.jsonl', 'public/data/queries.jsonl'])
      expect(rows(file).filter((r) => carriesAfterSegment(meta(r)))).toEqual([]);
  });

  it('needs the domain’s own label as the last segment', () => {
    const seg = (label: string) => ({ label, start: 0, end: 1 });
    expect(carriesAfterSegment({ id: 'a', domain: 'math', segments: [seg('reasoning'), seg('after_answer')] })).toBe(
      true,
    );
    expect(carriesAfterSegment({ id: 'b', domain: 'code', segments: [seg('body'), seg('after_answer')] })).toBe(false);
    expect(carriesAfterSegment({ id: 'c', domain: 'math', segments: [seg('after_answer'), seg('final_answer')] })).toBe(
      false,
    );
    expect(carriesAfterSegment({ id: 'd', segments: [seg('after_code')] })).toBe(false);
  });
});
