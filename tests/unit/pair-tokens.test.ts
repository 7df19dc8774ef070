/**
 * On-demand pair token scores (src/influence/pair-tokens.ts): per-token influence of one query on chosen training
 * examples, from a finished run's factors, equals the full per-token run's s_q · τ_t(q, n) (1e-10), for every
 * strategy and both measurements (token LM, CPU float64).
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { pairTokenScores, topPairs, topPairTokenScores } from '../../src/influence/pair-tokens';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_CONFIG, type AttributionConfig } from '../../src/influence/types';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const backend = new CpuBackend();
const fixture = await tokenLmFixture();
const TRAIN = 12;
const QUERIES = 5;
const source = new ExactGradientSource(fixture.model);

/** The full per-token run (TRAIN training examples, QUERIES queries) that on-demand scores are compared with. */
function fullPerTokenRun(config: AttributionConfig) {
  return runAttribution(config, {
    backend,
    source,
    trainSet: { role: 'train', examples: Array.from({ length: TRAIN }, (_, n) => ({ id: `t${n}` })) },
    querySet: { role: 'query', examples: Array.from({ length: QUERIES }, (_, q) => ({ id: `q${q}` })) },
  });
}

describe('pair token scores on demand', () => {
  for (const strategy of ['ekfac', 'kfac', 'diagonal', 'identity'] as const) {
    for (const measurement of ['mean-log-likelihood', 'summed-loss'] as const) {
      it(`equal the full per-token run (${strategy}, ${measurement})`, async () => {
        const config: AttributionConfig = {
          ...DEFAULT_CONFIG,
          strategy,
          measurement,
          perToken: true,
          seed: 5,
          batchSizes: { fit: 4, train: 4, query: 2, batchesPerChunk: 1 },
        };
        const full = await fullPerTokenRun(config);
        const { offsets, values } = full.tauPerToken!;
        const rowLength = offsets[TRAIN]!;
        for (const [query, train] of [
          [3, [7, 0, 11]],
          [0, [4]],
        ] as const) {
          const pairs = await pairTokenScores(config, { backend, source, factors: full.factors }, query, train);
          const scale = measurement === 'summed-loss' ? 1 : 1 / full.queryTargetCounts[query]!;
          train.forEach((n, i) => {
            const want = values.slice(query * rowLength + offsets[n]!, query * rowLength + offsets[n + 1]!);
            const got = pairs.values[i]!;
            expect(got.length).toBe(want.length);
            const largest = Math.max(...want.map((v) => Math.abs(scale * v)));
            expect(largest).toBeGreaterThan(0);
            got.forEach((v, t) =>
              expect(Math.abs(v - scale * want[t]!), `q${query} t${n} token ${t}`).toBeLessThanOrEqual(1e-10 * largest),
            );
            // And they sum to the pair's influence.
            const sum = got.reduce((a, b) => a + b, 0);
            expect(Math.abs(sum - full.influence[query * TRAIN + n]!)).toBeLessThanOrEqual(1e-9 * largest);
          });
        }
      });
    }
  }

  it('the top k pairs per query by |influence| are those of the full per-token run', async () => {
    const config: AttributionConfig = {
      ...DEFAULT_CONFIG,
      perToken: true,
      seed: 6,
      batchSizes: { fit: 4, train: 4, query: 2, batchesPerChunk: 1 },
    };
    const full = await fullPerTokenRun(config);
    expect(topPairs(Float64Array.from([1, -5, 3, 0, 2, -2]), 2, 2)).toEqual([
      [1, 2],
      [1, 2],
    ]);
    const table = await topPairTokenScores(
      config,
      { backend, source, factors: full.factors },
      full.influence,
      QUERIES,
      3,
    );
    expect(table.queries.length).toBe(QUERIES * 3);
    const { offsets, values } = full.tauPerToken!;
    const rowLength = offsets[TRAIN]!;
    let largest = 0;
    for (const v of values) largest = Math.max(largest, Math.abs(v));
    for (let p = 0; p < table.queries.length; p++) {
      const [q, n] = [table.queries[p]!, table.train[p]!];
      const row = full.influence.subarray(q * TRAIN, (q + 1) * TRAIN);
      // Its |influence| is among the query's 3 largest.
      expect(row.filter((v) => Math.abs(v) > Math.abs(row[n]!)).length).toBeLessThan(3);
      const scale = 1 / full.queryTargetCounts[q]!;
      const got = table.values.subarray(table.offsets[p]!, table.offsets[p + 1]!);
      expect(got.length).toBe(offsets[n + 1]! - offsets[n]!);
      got.forEach((v, t) =>
        expect(Math.abs(v - scale * values[q * rowLength + offsets[n]! + t]!)).toBeLessThanOrEqual(1e-10 * largest),
      );
    }
  });
});
