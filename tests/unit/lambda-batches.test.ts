/**
 * The Λ pass's training batches kept for the first score pass (lambda-batches.ts): with the empirical Fisher the
 * scores, self-influence, group and per-token rows are bit-identical in float64 whether the batches are kept or
 * computed again, and the first score pass then reads no training example from the gradient source; the true
 * (sampled) Fisher keeps nothing, and a budget for one batch keeps one.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { runAttribution } from '../../src/influence/pipeline';
import { gradientBatchBytes, KeptLambdaBatches } from '../../src/influence/lambda-batches';
import {
  DEFAULT_CONFIG,
  type AttributionConfig,
  type AttributionResult,
  type ExampleSet,
  type GradientRequest,
  type GradientSource,
} from '../../src/influence/types';
import type { Strategy } from '../../src/core/strategy';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const fixture = await tokenLmFixture();
const TRAIN = 14;
const set = (role: 'train' | 'query', count: number): ExampleSet => ({
  role,
  // Two benchmarks, so the run also computes two groups' per-token rows.
  examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}`, benchmark: i % 2 ? 'gsm8k' : 'mbpp' })),
});

/** A run over 14 training examples (batches of 5, 5, 4) and 5 queries (chunks of 2, 2, 1), counting training reads. */
async function run(config: AttributionConfig) {
  const backend = new CpuBackend();
  const source = new ExactGradientSource(fixture.model);
  const reads: number[] = [];
  const counting: GradientSource = {
    layers: source.layers,
    sequenceLength: source.sequenceLength.bind(source),
    gradients: (request: GradientRequest, b) => {
      if (request.role === 'train') reads.push(...request.indices);
      return source.gradients(request, b);
    },
  };
  const result = await runAttribution(config, {
    backend,
    source: counting,
    trainSet: set('train', TRAIN),
    querySet: set('query', 5),
  });
  return { result, reads };
}

const base: AttributionConfig = {
  ...DEFAULT_CONFIG,
  fisher: 'empirical',
  seed: 3,
  batchSizes: { fit: 5, train: 5, query: 2, batchesPerChunk: 1 },
};
const kept = (lambdaBatchBytes: number) => ({
  scorePath: { form: 'auto' as const, memoryBytes: 1e9, lambdaBatchBytes },
});

/** Every float of a, as bits, equals b's (so -0 ≠ 0 and NaN payloads count). */
function expectBitIdentical(a: Float64Array, b: Float64Array): void {
  expect(a.length).toBe(b.length);
  const bits = (x: Float64Array) => Array.from(new BigUint64Array(x.slice().buffer), String);
  expect(bits(a)).toEqual(bits(b));
}

function expectSameResult(a: AttributionResult, b: AttributionResult): void {
  expectBitIdentical(a.tauPerLayer, b.tauPerLayer);
  expectBitIdentical(a.influence, b.influence);
  expectBitIdentical(a.selfTau, b.selfTau);
  expectBitIdentical(a.queryTargetCounts, b.queryTargetCounts);
  expect(a.groupTokens === null).toBe(b.groupTokens === null);
  if (a.groupTokens && b.groupTokens) expectBitIdentical(a.groupTokens.values, b.groupTokens.values);
  expect(a.tauPerToken === null).toBe(b.tauPerToken === null);
  if (a.tauPerToken && b.tauPerToken) expectBitIdentical(a.tauPerToken.values, b.tauPerToken.values);
}

describe("the Λ pass's batches serve the first score pass", () => {
  for (const strategy of ['ekfac', 'diagonal'] as Strategy[]) {
    it(`${strategy}: bit-identical scores, self-influence and group rows; the first score pass reads nothing`, async () => {
      const fresh = await run({ ...base, strategy, ...kept(0) });
      const reused = await run({ ...base, strategy, ...kept(1e9) });
      expectSameResult(reused.result, fresh.result);
      expect(fresh.result.groupTokens?.groups).toHaveLength(2);
      // Factor passes read every example once each (covariance only for ekfac), then one read per score chunk.
      const factorReads = strategy === 'ekfac' ? 2 * TRAIN : TRAIN;
      expect(fresh.reads).toHaveLength(factorReads + 3 * TRAIN);
      expect(reused.reads).toHaveLength(factorReads + 2 * TRAIN);
    });
  }

  it('per-token scores: the same per-token rows bit for bit', async () => {
    const fresh = await run({ ...base, perToken: true, ...kept(0) });
    const reused = await run({ ...base, perToken: true, ...kept(1e9) });
    expectSameResult(reused.result, fresh.result);
    expect(reused.result.tauPerToken).not.toBeNull();
    expect(reused.reads.length).toBe(fresh.reads.length - TRAIN);
  });

  it('the true (sampled) Fisher keeps nothing: its Λ gradients are of other labels', async () => {
    const sampled = await run({ ...base, fisher: 'sampled', ...kept(1e9) });
    const fresh = await run({ ...base, fisher: 'sampled', ...kept(0) });
    expect(sampled.reads).toEqual(fresh.reads);
    expectSameResult(sampled.result, fresh.result);
  });

  it('a budget for one batch keeps the first batch and computes the others again', async () => {
    const backend = new CpuBackend();
    const source = new ExactGradientSource(fixture.model);
    const batch = await source.gradients(
      { role: 'train', indices: [0, 1, 2, 3, 4], labels: 'given', seed: 0 },
      backend,
    );
    const perBatch = gradientBatchBytes(batch, 8);
    batch.release();
    expect(perBatch).toBeGreaterThan(0);
    const fresh = await run({ ...base, ...kept(0) });
    const one = await run({ ...base, ...kept(perBatch) });
    expectSameResult(one.result, fresh.result);
    expect(one.reads).toHaveLength(fresh.reads.length - 5);
  });

  it('offer and take: a batch is handed back once, by its exact indices; over budget it is refused', async () => {
    const backend = new CpuBackend();
    const source = new ExactGradientSource(fixture.model);
    const request = { role: 'train' as const, indices: [0, 1], labels: 'given' as const, seed: 0 };
    const batch = await source.gradients(request, backend);
    const bytes = gradientBatchBytes(batch, 8);
    const store = new KeptLambdaBatches(bytes, 8);
    expect(store.offer([0, 1], batch)).toBe(true);
    expect(store.bytes).toBe(bytes);
    const other = await source.gradients({ ...request, indices: [2] }, backend);
    expect(store.offer([2], other)).toBe(false);
    other.release();
    expect(store.take([0])).toBeUndefined();
    expect(store.take([0, 1])).toBe(batch);
    expect(store.take([0, 1])).toBeUndefined();
    expect(store.bytes).toBe(0);
    batch.release();
  });
});
