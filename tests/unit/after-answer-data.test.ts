/**
 * The worker's after-answer comparison (src/app/workspace-data.ts, workspaceAfterAnswer) on the committed run of
 * the after-answer variant (tests/fixtures/sequences: `npm run experiment:sequences -- --per-group 3 --queries 2
 * --strategy identity`), opened as a ?bundle= link opens it: it equals the experiment script's own result.json and the
 * statistics recomputed here from the bundle's tensors with the experiment's carriers (the rows' after_answer field).
 */
import { describe, expect, it } from 'vitest';
import { SEGMENT_SEED, segmentEffects, segmentSums } from '../../src/eval/segment-effects';
import { decodeBundle } from '../../src/store/bundle';
import { openBundle } from '../../src/app/run-results';
import { workspaceAfterAnswer, workspaceIndex } from '../../src/app/workspace-data';
import { resultOfBundle } from '../helpers/bundle-result';
import { readFixture, readFixtureText } from '../helpers/fixtures';

const bytes = new Uint8Array(readFixture('sequences/run.iwb'));
const carriers = new Set(
  readFixtureText('sequences/train.jsonl')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; after_answer?: string })
    .filter((r) => r.after_answer !== undefined)
    .map((r) => r.id),
);

describe('after-answer comparison in the worker', () => {
  it('equals the experiment script’s result and a recomputation from the bundle', async () => {
    const { results } = await openBundle(bytes, 'run.iwb');
    expect(workspaceIndex('r', results, 'run.iwb').hasAfterSegments).toBe(true);
    const data = workspaceAfterAnswer(results);
    expect(data.examples).toEqual([
      { domain: 'math', with: 3, without: 3 },
      { domain: 'code', with: 3, without: 3 },
    ]);
    expect(data.bootstrap).toEqual({ resamples: 2000, seed: SEGMENT_SEED });
    const recomputed = segmentEffects(
      segmentSums(resultOfBundle(await decodeBundle(bytes)), (id) => carriers.has(id)),
      SEGMENT_SEED,
    );
    expect(data.effects).toEqual(recomputed);
    const script = JSON.parse(readFixtureText('sequences/result.json')) as { seed: number; effects: unknown };
    expect(script.seed).toBe(SEGMENT_SEED);
    expect(data.effects).toEqual(script.effects);
    // Both domains × both benchmarks, each with the four groups, its labels and the three differences.
    expect(data.effects.map((e) => `${e.benchmark}|${e.domain}`)).toEqual([
      'math|math',
      'math|code',
      'code|math',
      'code|code',
    ]);
    for (const e of data.effects) expect(e.differences.map((d) => d.count)).toEqual([3, 3, 3]);
  });

  it('says what is missing for a run without after-answer segments or per-token scores', async () => {
    const { results } = await openBundle(bytes, 'run.iwb');
    const stripped = {
      ...results,
      result: { ...results.result, train: results.result.train.map((e) => ({ ...e, segments: [] })) },
    };
    expect(workspaceIndex('r', stripped, null).hasAfterSegments).toBe(false);
    expect(() => workspaceAfterAnswer(stripped)).toThrow(/no training example of this run ends with an after-answer/);
    const noTokens = { ...results, result: { ...results.result, tauPerToken: null } };
    expect(() => workspaceAfterAnswer(noTokens)).toThrow(/no token scores/);
  });
});
