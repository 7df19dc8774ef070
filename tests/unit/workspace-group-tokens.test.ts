/**
 * The workspace's token views from group token scores alone (a default run: no per-token scores): the Sequences and
 * tokens analyses, the After-the-answer comparison and the training-example heatmap for a benchmark equal those of
 * the same run with full per-token scores (1e-10), on real engine runs (token LM, CPU float64); their intervals are
 * seeded; a query target without per-token scores says so.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { runAttribution } from '../../src/influence/pipeline';
import { topPairTokenScores } from '../../src/influence/pair-tokens';
import { DEFAULT_CONFIG, type AttributionResult, type ExampleMeta } from '../../src/influence/types';
import type { RunResults } from '../../src/app/run-results';
import {
  hasTokenScores,
  workspaceAfterAnswer,
  workspaceAnalyses,
  workspaceExample,
} from '../../src/app/workspace-data';
import type { GroupEntry } from '../../src/app/workspace-types';
import { resolved } from '../../src/app/group-intervals';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const TRAIN = 16;
const QUERIES = 6;
const fixture = await tokenLmFixture();
const train: ExampleMeta[] = Array.from({ length: TRAIN }, (_, n) => {
  const length = fixture.model.length('train', n);
  const split = Math.max(1, Math.floor(length / 2));
  // Every other example ends with an after-answer segment (after_answer for math, after_code for code).
  const domain = n % 2 === 0 ? 'math' : 'code';
  const after = n % 4 < 2 && length - split > 1;
  const cut = after ? split + 1 : length;
  return {
    id: `t${n}`,
    domain,
    difficulty: ['easy', 'hard'][Math.floor(n / 2) % 2],
    segments: [
      { label: 'reasoning', start: 0, end: split },
      { label: 'final_answer', start: split, end: cut },
      ...(after ? [{ label: domain === 'math' ? 'after_answer' : 'after_code', start: cut, end: length }] : []),
    ],
    tokenCategories: Array.from({ length }, (_, t) => (n + t) % 4),
  };
});
const queries: ExampleMeta[] = Array.from({ length: QUERIES }, (_, q) => ({
  id: `q${q}`,
  benchmark: q % 3 === 0 ? 'mbpp' : 'gsm8k',
}));

async function stored(perToken: boolean): Promise<RunResults & { engine: AttributionResult }> {
  const result: AttributionResult = await runAttribution(
    { ...DEFAULT_CONFIG, perToken, seed: 2, batchSizes: { fit: 8, train: 8, query: 4, batchesPerChunk: 2 } },
    {
      backend: new CpuBackend(),
      source: new ExactGradientSource(fixture.model),
      trainSet: { role: 'train', examples: train },
      querySet: { role: 'query', examples: queries },
    },
  );
  const row = (meta: ExampleMeta, n: number, role: 'train' | 'query') => ({
    id: meta.id,
    prompt: `${meta.id} prompt`,
    response: `${meta.id} response`,
    tokens: Array.from({ length: fixture.model.length(role, n) }, (_, t) => `tok${(n * 7 + t) % 5}`),
  });
  return {
    summary: {
      backend: { kind: 'cpu', description: 'CPU float64', reason: 'test' },
      strategy: 'ekfac',
      trainCount: TRAIN,
      queries: [],
      benchmarks: [],
      subsample: null,
      timings: [],
      peakGpuBytes: null,
    },
    result,
    trainTexts: train.map((e) => ({ prompt: `${e.id} prompt`, response: `${e.id} response` })),
    rows: { train: train.map((e, n) => row(e, n, 'train')), query: queries.map((e, q) => row(e, q, 'query')) },
    layers: [],
    config: { seed: 2 },
    name: perToken ? 'per-token' : 'default',
    engine: result,
  };
}

const full = await stored(true);
const grouped = await stored(false);
const pairs = await topPairTokenScores(
  { ...grouped.engine.config },
  { backend: new CpuBackend(), source: new ExactGradientSource(fixture.model), factors: grouped.engine.factors },
  grouped.engine.influence,
  QUERIES,
  3,
);

function close(a: number, b: number, scale: number, what: string) {
  expect(Math.abs(a - b), what).toBeLessThanOrEqual(1e-10 * scale);
}

function expectEntries(got: readonly GroupEntry[], want: readonly GroupEntry[], what: string) {
  expect(got.map((g) => [g.label, g.count, g.examples])).toEqual(want.map((g) => [g.label, g.count, g.examples]));
  const scale = Math.max(...want.map((g) => Math.abs(g.sum)), 1e-300);
  got.forEach((g, i) => {
    close(g.sum, want[i]!.sum, scale, `${what} ${g.label} sum`);
    close(g.low!, want[i]!.low!, scale, `${what} ${g.label} low`);
    close(g.high!, want[i]!.high!, scale, `${what} ${g.label} high`);
  });
}

describe('workspace token views from group token scores', () => {
  it('a default run has token scores without per-token scores', () => {
    expect(grouped.result.tauPerToken).toBeNull();
    expect(grouped.result.groupTokens!.groups.map((g) => g.name)).toEqual(['mbpp', 'gsm8k']);
    expect(hasTokenScores(grouped.result)).toBe(true);
    expect(hasTokenScores({ ...grouped.result, groupTokens: null })).toBe(false);
  });

  it('the Sequences and tokens analyses equal those of the per-token run, intervals included', () => {
    const [a, b] = [workspaceAnalyses(grouped), workspaceAnalyses(full)];
    expect(a.source).toBe('group');
    expect(b.source).toBe('per-token');
    expect(a.bootstrap).toEqual({ resamples: 1000, seed: 2 });
    expect(a.benchmarks.map((x) => x.benchmark)).toEqual(b.benchmarks.map((x) => x.benchmark));
    a.benchmarks.forEach((entry, i) => {
      expectEntries(entry.segments, b.benchmarks[i]!.segments, `${entry.benchmark} segments`);
      expectEntries(entry.categories, b.benchmarks[i]!.categories, `${entry.benchmark} categories`);
      expect(entry.topTokens.map((d) => d.helpful.map((t) => t.token))).toEqual(
        b.benchmarks[i]!.topTokens.map((d) => d.helpful.map((t) => t.token)),
      );
      for (const group of [...entry.segments, ...entry.categories]) {
        expect(group.high!).toBeGreaterThanOrEqual(group.low!);
        expect(Number.isFinite(group.low!) && Number.isFinite(group.high!)).toBe(true);
      }
    });
  });

  it('intervals are seeded: the same run gives the same intervals, and an interval spanning 0 is unresolved', async () => {
    const again = workspaceAnalyses(await stored(false));
    expect(again.benchmarks[0]!.segments).toEqual(workspaceAnalyses(grouped).benchmarks[0]!.segments);
    expect(resolved({ low: -1, high: 2 })).toBe(false);
    expect(resolved({ low: 0.5, high: 2 })).toBe(true);
    expect(resolved({ low: -3, high: -1 })).toBe(true);
  });

  it('the After-the-answer comparison equals the per-token run', () => {
    const [a, b] = [workspaceAfterAnswer(grouped), workspaceAfterAnswer(full)];
    expect(a.effects.length).toBeGreaterThan(0);
    expect(JSON.stringify(a.examples)).toBe(JSON.stringify(b.examples));
    const numbers = (value: unknown): number[] =>
      typeof value === 'number'
        ? [value]
        : Array.isArray(value)
          ? value.flatMap(numbers)
          : value && typeof value === 'object'
            ? Object.values(value).flatMap(numbers)
            : [];
    const [x, y] = [numbers(a.effects), numbers(b.effects)];
    expect(x.length).toBe(y.length);
    const scale = Math.max(...y.map(Math.abs));
    x.forEach((v, i) => close(v, y[i]!, scale, `effect value ${i}`));
  });

  it("the heatmap for a benchmark shows the group row; for a query it needs that query's token scores", () => {
    for (const n of [0, 5, 11]) {
      const a = workspaceExample(grouped, `t${n}`, { benchmark: 'gsm8k' });
      const b = workspaceExample(full, `t${n}`, { benchmark: 'gsm8k' });
      expect(a.tokenSource).toBe('group');
      expect(b.tokenSource).toBe('per-token');
      expect(a.tokens.length).toBe(fixture.model.length('train', n));
      const scale = Math.max(...b.tokenValues!.map(Math.abs));
      a.tokenValues!.forEach((v, t) => close(v, b.tokenValues![t]!, scale, `t${n} token ${t}`));
      a.segments.forEach((s, i) => close(s.sum, b.segments[i]!.sum, scale * 10, `t${n} ${s.label}`));
    }
    // A query's top pairs, kept at run time (app/job.ts pairTokensTopK): the pair's own row.
    const withPairs: RunResults = { ...grouped, result: { ...grouped.result, pairTokens: pairs } };
    for (let p = 0; p < pairs.queries.length; p += 5) {
      const [q, n] = [pairs.queries[p]!, pairs.train[p]!];
      const a = workspaceExample(withPairs, `t${n}`, { query: `q${q}` });
      const b = workspaceExample(full, `t${n}`, { query: `q${q}` });
      expect(a.tokenSource).toBe('pair');
      const scale = Math.max(...b.tokenValues!.map(Math.abs));
      a.tokenValues!.forEach((v, t) => close(v, b.tokenValues![t]!, scale, `q${q} t${n} token ${t}`));
    }
    const query = workspaceExample(grouped, 't3', { query: 'q1' });
    expect(query.tokenValues).toBeNull();
    expect(query.tokenSource).toBeNull();
    // The text is still there, one cell per position (not "Tokens: 0").
    expect(query.tokens.length).toBe(fixture.model.length('train', 3));
  });
});
