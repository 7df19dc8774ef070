/**
 * The scoring path of issue 15 §1: the token form and the per-sequence-gradient form give the same τ (float64, 1e-10
 * relative), the cost model picks as score-plan.ts documents, and a run reads each training sequence's gradients once
 * for pairwise and self scores.
 */
import { describe, expect, it } from 'vitest';
import type { Tensor, TokenBatch } from '../../src/linalg/backend';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_SCORE_PATH, planScores, type ScoreShape } from '../../src/influence/score-plan';
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
import { mulberry32, randomMask, randomMatrix } from '../helpers/matrices';

/** Counts the sequence form's GEMMs, so a test can tell which form actually ran. */
class CountingBackend extends CpuBackend {
  pairwiseCalls = 0;
  override pairwiseInner(a: Tensor, c: Tensor) {
    this.pairwiseCalls++;
    return super.pairwiseInner(a, c);
  }
}

const backend = new CountingBackend();
const fixture = await tokenLmFixture();

describe('the cost model', () => {
  const shape: ScoreShape = {
    queries: 4,
    sequences: 8,
    tokens: 8 * 80,
    dOut: 3072,
    dInPrime: 769,
    rank: null,
    perToken: false,
    gradientsBuiltAnyway: false,
    bytesPerElement: 8,
  };
  const budget = { form: 'auto' as const, memoryBytes: 1e9 };
  const size = 3072 * 769;

  it('costs are the documented multiply-add counts', () => {
    const plan = planScores(shape, budget);
    expect(plan.tokenCost).toBe(4 * 640 * size);
    expect(plan.sequenceCost).toBe(640 * size + 4 * 8 * size);
    expect(plan.sequenceBytes).toBe(8 * size * 8);
    expect(planScores({ ...shape, rank: 16 }, budget).tokenCost).toBe(4 * 640 * 16 * (3072 + 769));
    expect(planScores({ ...shape, gradientsBuiltAnyway: true }, budget).sequenceCost).toBe(4 * 8 * size);
  });

  it('several queries, long sequences: sequence form; one query: token form, unless G(n) is built anyway', () => {
    expect(planScores(shape, budget)).toMatchObject({ form: 'sequence', reason: 'cost' });
    expect(planScores({ ...shape, queries: 1 }, budget)).toMatchObject({ form: 'token', reason: 'cost' });
    expect(planScores({ ...shape, queries: 1, gradientsBuiltAnyway: true }, budget)).toMatchObject({
      form: 'sequence',
      reason: 'cost',
    });
  });

  it('one token per sequence (a classifier): equal G-build and token costs make the token form win', () => {
    const classifier = { ...shape, tokens: shape.sequences, queries: 3 };
    // token: Q·B·D; sequence: B·D + Q·B·D — never cheaper.
    expect(planScores(classifier, budget)).toMatchObject({ form: 'token', reason: 'cost' });
    // A tie (G built anyway: Q·B·D on both sides) goes to the token form.
    expect(planScores({ ...classifier, gradientsBuiltAnyway: true }, budget)).toMatchObject({
      form: 'token',
      reason: 'cost',
    });
  });

  it('per-token scores, a low-rank operator, a batch over the memory budget: token form, even if forced', () => {
    const forced = { form: 'sequence' as const, memoryBytes: 1e9 };
    expect(planScores({ ...shape, perToken: true }, forced)).toMatchObject({ form: 'token', reason: 'per-token' });
    expect(planScores({ ...shape, rank: 8 }, forced)).toMatchObject({ form: 'token', reason: 'low-rank' });
    const tight = { form: 'auto' as const, memoryBytes: 8 * size * 8 - 1 };
    expect(planScores(shape, tight)).toMatchObject({ form: 'token', reason: 'memory' });
    expect(planScores(shape, { ...tight, memoryBytes: 8 * size * 8 })).toMatchObject({ form: 'sequence' });
    // G built anyway (self-influence in the same pass): its memory is spent whichever form scores.
    expect(planScores({ ...shape, gradientsBuiltAnyway: true }, tight)).toMatchObject({
      form: 'sequence',
      reason: 'cost',
    });
    // float32 halves the footprint.
    expect(planScores({ ...shape, bytesPerElement: 4 }, { ...tight, memoryBytes: 4 * size * 8 })).toMatchObject({
      form: 'sequence',
    });
  });

  it('forcing a form overrides the cost comparison; the default budget is 128 MiB', () => {
    expect(planScores(shape, { form: 'token', memoryBytes: 1e9 })).toMatchObject({ form: 'token', reason: 'forced' });
    expect(planScores({ ...shape, queries: 1 }, { form: 'sequence', memoryBytes: 1e9 })).toMatchObject({
      form: 'sequence',
      reason: 'forced',
    });
    expect(DEFAULT_SCORE_PATH).toEqual({ form: 'auto', memoryBytes: 128 * 1024 * 1024 });
    // GPT-2-small's MLP layers, batch of 8, float64: 151 MB > 128 MiB, so the token form; a batch of 4 fits.
    expect(planScores(shape).reason).toBe('memory');
    expect(planScores({ ...shape, sequences: 4, tokens: 320 }).form).toBe('sequence');
  });
});

describe('both forms give the same τ in float64', () => {
  it('backend level: Σ_t m gᵀ P ã = ⟨P, G(n)⟩ for odd shapes, masks and the ones column', async () => {
    const rng = mulberry32(15);
    for (const [q, b, t, dIn, dOut, ones] of [
      [1, 1, 1, 1, 1, false],
      [3, 7, 5, 33, 7, true],
      [2, 5, 9, 7, 130, true],
      [4, 3, 33, 130, 33, false],
    ] as const) {
      const dInPrime = dIn + (ones ? 1 : 0);
      const batch: TokenBatch = {
        activations: backend.upload(randomMatrix(rng, b * t, dIn), [b, t, dIn]),
        gradients: backend.upload(randomMatrix(rng, b * t, dOut), [b, t, dOut]),
        mask: backend.upload(randomMask(rng, b * t), [b, t]),
        appendOnes: ones,
      };
      const p = backend.upload(randomMatrix(rng, q, dOut * dInPrime), [q, dOut, dInPrime]);
      const token = await backend.read(backend.scores(p, batch, false));
      const sequence = await backend.read(backend.pairwiseInner(p, backend.sequenceGradients(batch)));
      expect(maxRelativeError(sequence, token)).toBeLessThan(1e-10);
    }
  });

  const set = (role: 'train' | 'query', count: number): ExampleSet => ({
    role,
    examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })),
  });
  const run = (config: AttributionConfig, source = new ExactGradientSource(fixture.model)) =>
    runAttribution(config, { backend, source, trainSet: set('train', 14), querySet: set('query', 5) });
  const base: AttributionConfig = {
    ...DEFAULT_CONFIG,
    seed: 1,
    batchSizes: { fit: 4, train: 5, query: 3, batchesPerChunk: 1 },
  };

  for (const strategy of ['identity', 'ekfac'] as Strategy[]) {
    it(`pipeline level (${strategy}): τ per layer and self-influence agree between the two forced forms`, async () => {
      backend.pairwiseCalls = 0;
      const token = await run({ ...base, strategy, scorePath: { form: 'token', memoryBytes: 1e9 } });
      expect(backend.pairwiseCalls).toBe(0);
      const sequence = await run({ ...base, strategy, scorePath: { form: 'sequence', memoryBytes: 1e9 } });
      // 2 query chunks × 3 training batches × the fixture's tracked layers.
      expect(backend.pairwiseCalls).toBe(2 * 3 * fixture.model.layers.length);
      expect(maxRelativeError(sequence.tauPerLayer, token.tauPerLayer)).toBeLessThan(1e-10);
      expect(maxRelativeError(sequence.tau, token.tau)).toBeLessThan(1e-10);
      expect(maxRelativeError(sequence.selfTau, token.selfTau)).toBeLessThan(1e-10);
    });
  }

  it('training gradients are read once per query chunk: pairwise and self scores share one pass', async () => {
    const source = new ExactGradientSource(fixture.model);
    const requests: GradientRequest[] = [];
    const counting = {
      layers: source.layers,
      sequenceLength: source.sequenceLength.bind(source),
      gradients: (request: GradientRequest, b: typeof backend) => {
        requests.push(request);
        return source.gradients(request, b);
      },
    };
    await run(
      { ...base, strategy: 'identity', batchSizes: { ...base.batchSizes, query: 5 } },
      counting as unknown as ExactGradientSource,
    );
    const trainReads = requests.filter((r) => r.role === 'train').flatMap((r) => [...r.indices]);
    // One query chunk: every training example exactly once (before, the self pass read them all a second time).
    expect(trainReads.sort((a, b) => a - b)).toEqual(Array.from({ length: 14 }, (_, i) => i));
  });
});
