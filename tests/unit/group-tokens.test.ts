/**
 * Group per-token influence by linearity (src/influence/group-tokens.ts) on the kronfluence token LM, CPU float64:
 * each group's row equals the mean over its queries of s_q · τ_t(q, n) from a full per-token run (1e-10), under every
 * measurement, normalisation and strategy, with several query chunks, a low-rank query operator and a resumed run.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { benchmarkGroups, groupTokenRow } from '../../src/influence/group-tokens';
import type { Normalization } from '../../src/influence/normalize';
import { runAttribution } from '../../src/influence/pipeline';
import {
  DEFAULT_CONFIG,
  type AttributionConfig,
  type AttributionResult,
  type CheckpointStore,
  type ExampleMeta,
  type ProgressEvent,
  type RunCheckpoint,
} from '../../src/influence/types';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const backend = new CpuBackend();
const TRAIN = 14;
const fixture = await tokenLmFixture();
// Three groups of unequal sizes, interleaved (so a group spans query chunks).
const BENCHMARKS = ['gsm8k', 'mbpp', 'gsm8k', 'other', 'mbpp', 'gsm8k'];
const queries: ExampleMeta[] = BENCHMARKS.map((benchmark, q) => ({ id: `q${q}`, benchmark }));
const train: ExampleMeta[] = Array.from({ length: TRAIN }, (_, n) => ({ id: `t${n}` }));
const BASE: AttributionConfig = {
  ...DEFAULT_CONFIG,
  seed: 4,
  perToken: true,
  batchSizes: { fit: 4, train: 5, query: 3, batchesPerChunk: 1 },
};

function run(config: AttributionConfig, options = {}): Promise<AttributionResult> {
  return runAttribution(
    config,
    {
      backend,
      source: new ExactGradientSource(fixture.model),
      trainSet: { role: 'train', examples: train },
      querySet: { role: 'query', examples: queries },
    },
    options,
  );
}

/** The reference: Σ_q w_q τ_t(q, n) / d_n from the full per-token scores, w_q = s_q / |g|. */
function referenceRow(result: AttributionResult, members: readonly number[], n: number, normalization: Normalization) {
  const { offsets, values } = result.tauPerToken!;
  const rowLength = offsets[TRAIN]!;
  const length = offsets[n + 1]! - offsets[n]!;
  const divisor =
    normalization === 'none'
      ? 1
      : normalization === 'self-influence'
        ? Math.sqrt(Math.max(result.selfTau[n]!, 0))
        : result.trainTokenCounts[n]!;
  const out = new Float64Array(length);
  for (const q of members) {
    const scale = result.config.measurement === 'summed-loss' ? 1 : 1 / result.queryTargetCounts[q]!;
    for (let t = 0; t < length; t++) out[t]! += (scale * values[q * rowLength + offsets[n]! + t]!) / members.length;
  }
  return out.map((v) => (divisor > 0 ? v / divisor : 0));
}

function expectRowsMatch(result: AttributionResult, reference: AttributionResult = result) {
  const groups = result.groupTokens!;
  expect(groups.groups.map((g) => g.name)).toEqual(['gsm8k', 'mbpp', 'other']);
  expect(groups.groups.map((g) => g.queries)).toEqual([[0, 2, 5], [1, 4], [3]]);
  let largest = 0;
  for (const v of reference.tauPerToken!.values) largest = Math.max(largest, Math.abs(v));
  expect(largest).toBeGreaterThan(0);
  for (const normalization of ['none', 'self-influence', 'token-count'] as const) {
    groups.groups.forEach((group, g) => {
      for (let n = 0; n < TRAIN; n++) {
        const got = groupTokenRow(result, g, n, normalization);
        const want = referenceRow(reference, group.queries, n, normalization);
        expect(got.length).toBe(want.length);
        let scale = 0;
        want.forEach((v) => (scale = Math.max(scale, Math.abs(v))));
        for (let t = 0; t < want.length; t++)
          expect(Math.abs(got[t]! - want[t]!), `${normalization} ${group.name} n=${n} t=${t}`).toBeLessThanOrEqual(
            1e-10 * Math.max(scale, 1e-300),
          );
      }
    });
  }
}

describe('group per-token influence by linearity (token LM, CPU float64)', () => {
  it('groups are the benchmarks, in order of first query', () => {
    expect(benchmarkGroups(queries)).toEqual([
      { name: 'gsm8k', queries: [0, 2, 5] },
      { name: 'mbpp', queries: [1, 4] },
      { name: 'other', queries: [3] },
    ]);
    expect(benchmarkGroups([{ id: 'a' }, { id: 'b', domain: 'math' }])).toEqual([
      { name: 'all', queries: [0] },
      { name: 'math', queries: [1] },
    ]);
  });

  for (const measurement of ['mean-log-likelihood', 'summed-loss'] as const) {
    for (const strategy of ['ekfac', 'kfac', 'diagonal', 'identity'] as const) {
      it(`each group's row is the mean of its queries' per-token influence (${measurement}, ${strategy})`, async () => {
        expectRowsMatch(await run({ ...BASE, measurement, strategy }));
      });
    }
  }

  it('are computed by default without per-token scores, the same as with them', async () => {
    const withTokens = await run(BASE);
    const plain = await run({ ...BASE, perToken: false });
    expect(plain.tauPerToken).toBeNull();
    expectRowsMatch(plain, withTokens);
    // The pairwise and self scores are those of a run without group scores, bit for bit.
    const without = await run({ ...BASE, perToken: false, groupTokens: false });
    expect(Array.from(plain.tau)).toEqual(Array.from(without.tau));
    expect(Array.from(plain.selfTau)).toEqual(Array.from(without.selfTau));
  });

  it('sum the exact P_q when the queries are low-rank', async () => {
    const exact = await run(BASE);
    const lowRank = await run({ ...BASE, queryRank: 1 });
    expectRowsMatch(lowRank, exact);
  });

  it('are off with groupTokens: false', async () => {
    expect((await run({ ...BASE, groupTokens: false })).groupTokens).toBeNull();
  });

  it('a run cancelled in the scores pass resumes to bit-identical group rows', async () => {
    const reference = await run(BASE);
    let saved: RunCheckpoint | null = null;
    const store: CheckpointStore = {
      load: async () => (saved === null ? null : structuredClone(saved)),
      save: async (checkpoint) => void (saved = structuredClone(checkpoint)),
    };
    const controller = new AbortController();
    let seen = 0;
    const onProgress = (event: ProgressEvent) => {
      if (event.stage === 'scores' && ++seen === 2) controller.abort(new Error('stop'));
    };
    await expect(run(BASE, { checkpoint: store, signal: controller.signal, onProgress })).rejects.toThrow('stop');
    expect(saved!.runningScores?.groupPerToken).toBeDefined();
    const resumed = await run(BASE, { checkpoint: store });
    expect(Array.from(resumed.groupTokens!.values)).toEqual(Array.from(reference.groupTokens!.values));
  });
});
