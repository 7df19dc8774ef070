/**
 * Group token scores in `.iwb` bundles (docs/bundle-format.md, "Group token scores"): a run's rows survive encode →
 * decode → the engine's form exactly (F64); bundles written before them (the committed fixtures) still open, with
 * none; and a bundle whose group token fields disagree is refused with the field named.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { groupTokensOf, groupTokenTensors, pairTokensOf, pairTokenTensors } from '../../src/app/bundle-content';
import { benchmarkGroups } from '../../src/influence/group-tokens';
import type { AttributionResult, GroupTokenInfluence } from '../../src/influence/types';
import { decodeBundle, encodeBundle, type BundleContent } from '../../src/store/bundle';
import { bundleRun } from '../../src/store/runs';
import type { SafetensorsTensor } from '../../src/store/safetensors';
import { randomMatrix, sampleContent, seededRandom } from '../fixtures/store/sample-bundle';
import { refusalOf, type Json } from '../helpers/bundle-edit';

const QUERIES = 4;
const TRAIN = 5;

function withGroups(): {
  content: BundleContent;
  groups: GroupTokenInfluence;
  pairs: NonNullable<AttributionResult['pairTokens']>;
} {
  const content = sampleContent({ queries: QUERIES, train: TRAIN });
  const offsets = content.scores!.tauPerToken!.offsets;
  const grouped = benchmarkGroups(
    ['gsm8k', 'mbpp', 'gsm8k', 'mbpp'].map((benchmark, q) => ({ id: `${q}`, benchmark })),
  );
  const values = randomMatrix([grouped.length, offsets[TRAIN]!], seededRandom(9)).data;
  const groups: GroupTokenInfluence = { groups: grouped, offsets, values };
  // Pair token scores of (query 1, example 3) and (query 0, example 4): one row of each example's length.
  const lengths = [3, 4].map((n) => offsets[n + 1]! - offsets[n]!);
  const pairs = {
    queries: Int32Array.from([1, 0]),
    train: Int32Array.from([3, 4]),
    offsets: Int32Array.from([0, lengths[0]!, lengths[0]! + lengths[1]!]),
    values: randomMatrix([lengths[0]! + lengths[1]!], seededRandom(11)).data,
  };
  return {
    content: {
      ...content,
      scores: {
        ...content.scores!,
        groupTokens: groupTokenTensors(groups, QUERIES),
        pairTokens: pairTokenTensors(pairs),
      },
    },
    groups,
    pairs,
  };
}

const good = (() => {
  const { content } = withGroups();
  return encodeBundle(content, { scoreDtype: 'F64', createdAt: '2026-12-07T00:00:00.000Z' });
})();

const refusal = (edit: (manifest: Json, tensors: Map<string, SafetensorsTensor>) => void) => refusalOf(good, edit);

const int32Tensor = (values: number[]): SafetensorsTensor => ({
  dtype: 'I32',
  shape: [values.length],
  data: new Uint8Array(Int32Array.from(values).buffer),
});

describe('group token scores in bundles', () => {
  it('round-trip exactly (F64), with the group names in the manifest and as the run record keeps them', async () => {
    const { groups } = withGroups();
    const bytes = await good;
    const bundle = await decodeBundle(bytes);
    expect(bundle.manifest.scores!.tokenGroups).toEqual(['gsm8k', 'mbpp']);
    const decoded = groupTokensOf(bundle.scores.groupTokens!);
    expect(decoded.groups).toEqual([
      { name: 'gsm8k', queries: [0, 2] },
      { name: 'mbpp', queries: [1, 3] },
    ]);
    expect(Array.from(decoded.offsets)).toEqual(Array.from(groups.offsets));
    expect(Array.from(decoded.values)).toEqual(Array.from(groups.values));
    const pairs = pairTokensOf(bundle.scores.pairTokens!);
    expect(pairs).toEqual(withGroups().pairs);
    const run = await bundleRun(bytes);
    expect(run.run.tokenGroups).toEqual(['gsm8k', 'mbpp']);
    expect(run.tensors.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'scores.group_token_influence',
        'scores.group_token_offsets',
        'scores.group_token_queries',
      ]),
    );
  });

  for (const file of ['workspace/small.iwb', 'sequences/run.iwb', 'evaluation/micro.iwb']) {
    it(`a bundle written before them opens, with none (tests/fixtures/${file})`, async () => {
      const bytes = new Uint8Array(await readFile(new URL(`../fixtures/${file}`, import.meta.url)));
      const bundle = await decodeBundle(bytes);
      expect(bundle.scores.groupTokens).toBeUndefined();
      expect(bundle.scores.pairTokens).toBeUndefined();
      expect(bundle.manifest.scores!.tokenGroups).toBeUndefined();
      expect((await bundleRun(bytes)).run.tokenGroups).toBeUndefined();
    });
  }

  it('refuses group token fields that disagree, naming the field', async () => {
    expect(await refusal((_m, t) => t.delete('scores.group_token_offsets'))).toMatch(
      /tensor 'scores.group_token_offsets' is missing though manifest scores.tokenGroups is set/,
    );
    expect(await refusal((m) => delete m.scores.tokenGroups)).toMatch(
      /tensor 'scores.group_token_influence' is present but manifest scores.tokenGroups is absent/,
    );
    expect(await refusal((m) => (m.scores.tokenGroups = ['gsm8k', 'gsm8k']))).toMatch(
      /manifest scores.tokenGroups: expected a list of distinct non-empty strings/,
    );
    expect(await refusal((m) => (m.scores.tokenGroups = ['gsm8k', 'mbpp', 'humaneval']))).toMatch(
      /tensor 'scores.group_token_influence' has shape \[2, \d+\], expected \[3, \d+\]/,
    );
    expect(await refusal((_m, t) => t.set('scores.group_token_queries', int32Tensor([0, 1, 2, 1])))).toBe(
      "tensor 'scores.group_token_queries' element 2 = 2 is not a group index in [-1, 2)",
    );
    expect(await refusal((_m, t) => t.set('scores.group_token_queries', int32Tensor([0, 0, 0, -1])))).toBe(
      'manifest scores.tokenGroups[1] ("mbpp") has no query in \'scores.group_token_queries\'',
    );
    expect(await refusal((_m, t) => t.set('scores.group_token_queries', int32Tensor([0, 1, 0])))).toMatch(
      /tensor 'scores.group_token_queries' has shape \[3\], expected \[4\]/,
    );
    expect(await refusal((_m, t) => t.set('scores.group_token_offsets', int32Tensor([0, 2, 1, 4, 5, 9])))).toMatch(
      /tensor 'scores.group_token_offsets' element 2 = 1 is not a valid offset/,
    );
  });

  it('refuses pair token fields that disagree, naming the field', async () => {
    const pairsTensor = (values: number[]): SafetensorsTensor => ({
      ...int32Tensor(values),
      shape: [values.length / 2, 2],
    });
    expect(await refusal((_m, t) => t.delete('scores.pair_token_offsets'))).toBe(
      "tensor 'scores.pair_token_offsets' is missing: the pair token scores come together",
    );
    expect(await refusal((_m, t) => t.set('scores.pair_token_pairs', pairsTensor([1, 3, 4, 4])))).toBe(
      "tensor 'scores.pair_token_pairs' row 1 = (4, 4) is outside 4 × 5",
    );
    expect(await refusal((_m, t) => t.set('scores.pair_token_pairs', pairsTensor([1, 3, 1, 3])))).toBe(
      "tensor 'scores.pair_token_pairs' row 1 = (1, 3) repeats an earlier pair",
    );
    // Pair 0 names example 2 instead of 3: its row has example 3's length.
    expect(await refusal((_m, t) => t.set('scores.pair_token_pairs', pairsTensor([1, 2, 0, 4])))).toMatch(
      /tensor 'scores.pair_token_offsets' gives pair 0 \d+ tokens; training example 2 has \d+/,
    );
  });
});
