/**
 * The workspace's answers (src/app/workspace-data.ts) on the committed synthetic bundle: the overview's
 * cells are the engine's crossDomainTable with a deterministic bootstrap interval around each mean; the analyses'
 * one-row-per-benchmark reduction gives exactly the engine's segment and category summaries over the queries; an
 * example's per-layer parts sum to its influence and its segments' sums to its tokens'.
 */
import { describe, expect, it } from 'vitest';
import { TOKEN_CATEGORIES } from '../../src/data/categories';
import { crossDomainTable, segmentSummary, tokenCategorySummary } from '../../src/influence/aggregate';
import { scoreView } from '../../src/influence/normalize';
import { openBundle, type RunResults } from '../../src/app/run-results';
import type { GroupEntry } from '../../src/app/workspace-types';
import { readFixture } from '../helpers/fixtures';
import {
  precomputeWorkspace,
  workspaceAnalyses,
  workspaceExample,
  workspaceOverview,
} from '../../src/app/workspace-data';

/** The committed bundle read through the one results model, as the worker opens a ?bundle= link. */
async function stored(): Promise<RunResults> {
  return (await openBundle(readFixture('workspace/small.iwb'), 'small')).results;
}

describe('workspace data', () => {
  it('overview cells are crossDomainTable with a seeded bootstrap interval around the mean', async () => {
    const data = await stored();
    const first = workspaceOverview(data, 'self-influence');
    const expected = crossDomainTable(scoreView(data.result, 'self-influence'), data.result.queries, data.result.train);
    expect(first.cells.map((c) => [c.benchmark, c.domain, c.difficulty, c.mean, c.trainCount])).toEqual(
      expected.map((c) => [c.benchmark, c.domain, c.difficulty, c.mean, c.trainCount]),
    );
    for (const cell of first.cells) {
      expect(cell.low).toBeLessThanOrEqual(cell.mean);
      expect(cell.high).toBeGreaterThanOrEqual(cell.mean);
      expect(cell.high).toBeGreaterThan(cell.low);
      expect(cell.sum).toBe(cell.mean * cell.trainCount);
    }
    // Same seed, same intervals (a fresh copy of the run, so nothing is cached).
    expect(workspaceOverview(await stored(), 'self-influence').cells).toEqual(first.cells);
  });

  it("analyses equal the engine's summaries over each benchmark's queries, exactly", async () => {
    const data = await stored();
    const analyses = workspaceAnalyses(data);
    for (const entry of analyses.benchmarks) {
      const queries = data.result.queries.flatMap((q, i) => (q.benchmark === entry.benchmark ? [i] : []));
      // The engine's summaries, plus each entry's bootstrap interval (src/app/group-intervals.ts).
      const bare = (entries: readonly GroupEntry[]) => entries.map(({ low: _low, high: _high, ...rest }) => rest);
      expect(bare(entry.segments)).toEqual(segmentSummary(data.result, queries));
      expect(bare(entry.categories)).toEqual(tokenCategorySummary(data.result, queries, TOKEN_CATEGORIES));
      for (const group of [...entry.segments, ...entry.categories])
        expect(group.high).toBeGreaterThanOrEqual(group.low!);
      expect(entry.topTokens.length).toBe(2);
    }
  });

  it("an example's layer parts sum to its influence and its segments cover its tokens", async () => {
    const data = await stored();
    const detail = workspaceExample(data, 't7', { query: 'q1' });
    const N = data.result.train.length;
    expect(detail.influence).toBe(data.result.influence[1 * N + 7]);
    expect(detail.layers.reduce((sum, l) => sum + l.value, 0)).toBeCloseTo(detail.influence, 12);
    const tokens = Array.from(detail.tokenValues!).reduce((a, b) => a + b, 0);
    expect(detail.segments.reduce((sum, s) => sum + s.sum, 0)).toBeCloseTo(tokens, 12);
    expect(tokens).toBeCloseTo(detail.influence, 12);
    expect(detail.segments[0]!.label).toBe('prompt');
    expect(detail.tokens).toEqual(data.rows.train[7]!.tokens);
  });
});

describe('workspace precomputation', () => {
  it('computes every overview and the analyses before a view asks, pausing between pieces', async () => {
    const data = await stored();
    let pauses = 0;
    await precomputeWorkspace(data, async () => void pauses++);
    // Three normalisations and two benchmarks, one pause after each piece.
    expect(pauses).toBe(5);
    // Answers are the computed objects, not recomputed ones, and equal a fresh computation of the same run.
    const overview = workspaceOverview(data, 'token-count');
    expect(workspaceOverview(data, 'token-count')).toBe(overview);
    expect(workspaceOverview(await stored(), 'token-count')).toEqual(overview);
    const analyses = workspaceAnalyses(data);
    expect(workspaceAnalyses(data).benchmarks[0]).toBe(analyses.benchmarks[0]);
    expect(workspaceAnalyses(await stored())).toEqual(analyses);
  });
});
