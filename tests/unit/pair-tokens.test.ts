/**
 * On-demand pair token scores (src/influence/pair-tokens.ts): per-token influence of one query on chosen training
 * examples, from a finished run's factors, equals the full per-token run's s_q · τ_t(q, n) (1e-10), for every
 * strategy and both measurements (token LM, CPU float64).
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { pairTokenScores } from '../../src/influence/pair-tokens';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_CONFIG, type AttributionConfig } from '../../src/influence/types';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const backend = new CpuBackend();
const fixture = await tokenLmFixture();
const TRAIN = 12;
const QUERIES = 5;
const source = new ExactGradientSource(fixture.model);

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
        const full = await runAttribution(config, {
          backend,
          source,
          trainSet: { role: 'train', examples: Array.from({ length: TRAIN }, (_, n) => ({ id: `t${n}` })) },
          querySet: { role: 'query', examples: Array.from({ length: QUERIES }, (_, q) => ({ id: `q${q}` })) },
        });
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
});
