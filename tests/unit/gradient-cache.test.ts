/**
 * G(n) kept across query chunks (gradient-cache.ts): the same scores as recomputing them per chunk (float64), with the
 * gradient graph run once per training sequence instead of once per chunk; a budget smaller than the training set
 * keeps what fits and recomputes the rest; per-token and low-rank runs keep nothing.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { runAttribution } from '../../src/influence/pipeline';
import {
  DEFAULT_CONFIG,
  type AttributionConfig,
  type ExampleSet,
  type GradientRequest,
} from '../../src/influence/types';
import { type Strategy } from '../../src/core/strategy';
import { maxRelativeError } from '../helpers/exact-dense';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const fixture = await tokenLmFixture();
const set = (role: 'train' | 'query', count: number): ExampleSet => ({
  role,
  examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })),
});

/** A run over 14 training examples (3 batches of 5) and 5 queries (chunks of 2, 2, 1), counting training reads. */
async function run(config: AttributionConfig) {
  const backend = new CpuBackend();
  const source = new ExactGradientSource(fixture.model);
  const reads: number[] = [];
  const counting = {
    layers: source.layers,
    sequenceLength: source.sequenceLength.bind(source),
    gradients: (request: GradientRequest, b: CpuBackend) => {
      if (request.role === 'train') reads.push(...request.indices);
      return source.gradients(request, b);
    },
  };
  const result = await runAttribution(config, {
    backend,
    source: counting as unknown as ExactGradientSource,
    trainSet: set('train', 14),
    querySet: set('query', 5),
  });
  return { result, reads };
}

const base: AttributionConfig = {
  ...DEFAULT_CONFIG,
  seed: 2,
  batchSizes: { fit: 4, train: 5, query: 2, batchesPerChunk: 1 },
};
const path = (cacheBytes: number) => ({ scorePath: { form: 'auto' as const, memoryBytes: 1e9, cacheBytes } });

describe('G(n) kept across query chunks', () => {
  for (const strategy of ['identity', 'ekfac'] as Strategy[]) {
    it(`${strategy}: the same τ and self-influence, the training gradients read once instead of once per chunk`, async () => {
      const fresh = await run({ ...base, strategy, ...path(0) });
      const kept = await run({ ...base, strategy, ...path(1e9) });
      expect(maxRelativeError(kept.result.tauPerLayer, fresh.result.tauPerLayer)).toBeLessThan(1e-12);
      expect(maxRelativeError(kept.result.selfTau, fresh.result.selfTau)).toBeLessThan(1e-12);
      // Scoring alone: 3 chunks × 14 reads without the cache; 14 with it (factor passes read as before).
      const factorReads = strategy === 'ekfac' ? 2 * 14 : 0;
      expect(fresh.reads).toHaveLength(factorReads + 3 * 14);
      expect(kept.reads).toHaveLength(factorReads + 14);
    });
  }

  it('a budget for one batch keeps one batch and recomputes the others', async () => {
    const perBatch = 5 * fixture.model.layers.reduce((s, l) => s + l.dOut * (l.dIn + (l.hasBias ? 1 : 0)), 0) * 8;
    const fresh = await run({ ...base, strategy: 'identity', ...path(0) });
    const one = await run({ ...base, strategy: 'identity', ...path(perBatch) });
    expect(maxRelativeError(one.result.tau, fresh.result.tau)).toBeLessThan(1e-12);
    // Chunks 2 and 3 read the two batches not kept (9 examples) again.
    expect(one.reads).toHaveLength(14 + 2 * 9);
  });

  it('per-token scores and low-rank queries keep nothing (they need the tokens)', async () => {
    const perToken = await run({ ...base, strategy: 'identity', perToken: true, ...path(1e9) });
    expect(perToken.reads).toHaveLength(3 * 14);
    const lowRank = await run({ ...base, strategy: 'identity', queryRank: 1, ...path(1e9) });
    expect(lowRank.reads).toHaveLength(3 * 14);
  });
});
