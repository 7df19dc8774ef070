/**
 * kronfluence's own pairwise scores (tests/fixtures/kronfluence/token_lm) with the JSONL rows they score, as a bundle
 * the workspace opens: τ kept to float64, influence = τ (summed loss), rows by position; counts that differ refused.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { scoreFolderBundle } from '../../src/app/score-folder';
import { decodeBundle } from '../../src/store/bundle';
import { memoryFileSource } from '../../src/store/file-source';
import { openBundle } from '../../src/app/run-results';
import { fixtureData, kronfluenceReference, FIXTURES } from '../helpers/exact-kronfluence';

const SCORES = path.join(FIXTURES, 'token_lm', 'kronfluence', 'token_lm', 'scores_pairwise');
const source = () =>
  memoryFileSource(
    new Map(
      readdirSync(SCORES).map((f) => [`scores_pairwise/${f}`, new Uint8Array(readFileSync(path.join(SCORES, f)))]),
    ),
  );

async function jsonl(role: 'train' | 'queries', drop = 0) {
  const rows = ((await fixtureData('token_lm')) as Record<string, object[]>)[role]!;
  return {
    name: `${role}.jsonl`,
    text:
      rows
        .slice(drop)
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
  };
}

test("kronfluence's pairwise scores open as a read-only run with their rows", async () => {
  const bytes = await scoreFolderBundle(source(), await jsonl('train'), await jsonl('queries'));
  const bundle = await decodeBundle(bytes);
  const reference = await kronfluenceReference('token_lm');
  expect(bundle.scores.tau!.shape).toEqual([6, 40]);
  // Scores are stored as float32 in a bundle (half the size): τ agrees to float32 rounding.
  const ref = reference.pairwise[0]!.total.data;
  const worst = Math.max(
    ...[...bundle.scores.tau!.data].map((v, i) => Math.abs(v - ref[i]!) / Math.max(...ref.map(Math.abs))),
  );
  expect(worst).toBeLessThan(1e-6);
  expect(bundle.manifest.rows!.train.map((r) => r.id).slice(0, 2)).toEqual(['row 0', 'row 1']);
  expect(bundle.manifest.strategy).toBe('ekfac');
  const opened = await openBundle(bytes, 'kronfluence token_lm');
  expect(opened.results.summary.trainCount).toBe(40);
});

test('a JSONL whose row count is not the scores’ is refused with both counts', async () => {
  await expect(scoreFolderBundle(source(), await jsonl('train', 1), await jsonl('queries'))).rejects.toThrow(
    'scores_pairwise/pairwise_scores.safetensors: scores 40 training examples, train.jsonl has 39 rows',
  );
});

test('a scores folder without the factor arguments kronfluence writes beside it is refused by name', async () => {
  const files = new Map(
    readdirSync(SCORES)
      .filter((f) => f !== 'factor_arguments.json')
      .map((f) => [`scores_pairwise/${f}`, new Uint8Array(readFileSync(path.join(SCORES, f)))]),
  );
  await expect(
    scoreFolderBundle(memoryFileSource(files), await jsonl('train'), await jsonl('queries')),
  ).rejects.toThrow(/^scores_pairwise\/factor_arguments\.json: missing/);
});
