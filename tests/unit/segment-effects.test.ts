/**
 * The after-answer experiment's statistics (src/eval/segment-effects.ts) on a real per-token run (token LM fixture,
 * CPU float64), checked against the engine's own segment aggregation and brute-force means.
 */
import { describe, expect, it } from 'vitest';
import { segmentEffects, segmentSums } from '../../src/eval/segment-effects';
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
      const [after, rest, without, ...labels] = e.groups;
      expect(after!.group).toMatch(new RegExp(`^${e.afterLabel}`));
      close(after!.mean, mean(withIt.map((x) => x.segments.at(-1)!.sum)));
      close(rest!.mean, mean(withIt.map((x) => x.segments[0]!.sum + x.segments[1]!.sum)));
      close(without!.mean, mean(withoutIt.map((x) => x.segments[0]!.sum)));
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
