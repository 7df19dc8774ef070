/**
 * Invariants of runAttribution on the kronfluence token LM (sequences of different lengths, padding, a no-bias layer),
 * CPU float64: per-token scores sum to the example score, per-layer scores are the single-layer runs, self-influence is
 * the pairwise diagonal, batching and padding change nothing, a cancelled run resumes bit-identically, non-finite
 * values are reported with the stage and the layer, progress is reported, and the measurement scales τ.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { NonFiniteError } from '../../src/influence/errors';
import { runAttribution } from '../../src/influence/pipeline';
import {
  DEFAULT_CONFIG,
  type AttributionConfig,
  type AttributionResult,
  type CheckpointStore,
  type ExampleSet,
  type GradientSource,
  type ProgressEvent,
  type RunCheckpoint,
  type StageName,
} from '../../src/influence/types';
import { maxRelativeError } from '../helpers/exact-dense';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource, type ExactModel } from '../helpers/exact-source';

const backend = new CpuBackend();
const TRAIN = 14;
const QUERIES = 5;
const BASE: AttributionConfig = {
  ...DEFAULT_CONFIG,
  seed: 3,
  batchSizes: { fit: 4, train: 5, query: 2, batchesPerChunk: 1 },
};
const fixture = await tokenLmFixture();

function set(role: 'train' | 'query', count: number): ExampleSet {
  return { role, examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })) };
}

async function run(
  config: AttributionConfig,
  model: ExactModel = fixture.model,
  options = {},
): Promise<AttributionResult> {
  return runAttribution(
    config,
    { backend, source: new ExactGradientSource(model), trainSet: set('train', TRAIN), querySet: set('query', QUERIES) },
    options,
  );
}

class MemoryCheckpoints implements CheckpointStore {
  saved: RunCheckpoint | null = null;
  saves = 0;
  async load(): Promise<RunCheckpoint | null> {
    return this.saved === null ? null : structuredClone(this.saved);
  }
  async save(checkpoint: RunCheckpoint): Promise<void> {
    // structuredClone: what IndexedDB would store, and no aliasing with the running stage.
    this.saved = structuredClone(checkpoint);
    this.saves++;
  }
}

describe('runAttribution invariants (token LM, CPU float64)', () => {
  it('per-token scores sum to the example scores of a run without per-token output', async () => {
    const plain = await run(BASE);
    const tokens = await run({ ...BASE, perToken: true });
    const { offsets, values } = tokens.tauPerToken!;
    const rowLength = offsets[TRAIN];
    expect(rowLength).toBe(
      Array.from({ length: TRAIN }, (_, n) => fixture.model.length('train', n)).reduce((a, b) => a + b),
    );
    const summed = new Float64Array(QUERIES * TRAIN);
    for (let q = 0; q < QUERIES; q++)
      for (let n = 0; n < TRAIN; n++)
        for (let t = offsets[n]; t < offsets[n + 1]; t++) summed[q * TRAIN + n] += values[q * rowLength + t];
    expect(maxRelativeError(summed, plain.tau)).toBeLessThan(1e-12);
    expect(maxRelativeError(tokens.tau, plain.tau)).toBeLessThan(1e-12);
  });

  it('per-layer scores are what single-layer runs give, and sum to the total', async () => {
    const all = await run(BASE);
    const total = new Float64Array(QUERIES * TRAIN);
    for (const [l, name] of ['up', 'down', 'unembed'].entries()) {
      const single = await run({ ...BASE, trackedLayers: `^${name}$` });
      expect(single.layers.map((layer) => layer.name)).toEqual([name]);
      const slice = all.tauPerLayer.subarray(l * QUERIES * TRAIN, (l + 1) * QUERIES * TRAIN);
      expect(maxRelativeError(slice, single.tau), name).toBeLessThan(1e-12);
      slice.forEach((v, i) => (total[i] += v));
    }
    expect(maxRelativeError(total, all.tau)).toBeLessThan(1e-14);
  });

  it('self-influence equals the pairwise diagonal when the queries are the training examples', async () => {
    const asQueries: ExactModel = {
      ...fixture.model,
      length: (_role, index) => fixture.model.length('train', index),
      example: (_role, index, labels, seed) => fixture.model.example('train', index, labels, seed),
    };
    const result = await runAttribution(
      { ...BASE, measurement: 'summed-loss', batchSizes: { ...BASE.batchSizes, query: 6 } },
      {
        backend,
        source: new ExactGradientSource(asQueries),
        trainSet: set('train', TRAIN),
        querySet: set('query', TRAIN),
      },
    );
    const diagonal = Float64Array.from({ length: TRAIN }, (_, n) => result.tau[n * TRAIN + n]);
    expect(maxRelativeError(result.selfTau, diagonal)).toBeLessThan(1e-12);
    expect(Math.min(...result.selfTau)).toBeGreaterThan(0);
  });

  it('batch sizes and padding do not change any result (sampled labels included)', async () => {
    const unpadded = await run({
      ...BASE,
      perToken: true,
      batchSizes: { fit: 1, train: 1, query: 1, batchesPerChunk: 3 },
    });
    const padded = await run({
      ...BASE,
      perToken: true,
      batchSizes: { fit: 9, train: 14, query: 5, batchesPerChunk: 1 },
    });
    expect(maxRelativeError(padded.tau, unpadded.tau)).toBeLessThan(1e-12);
    expect(maxRelativeError(padded.selfTau, unpadded.selfTau)).toBeLessThan(1e-12);
    expect(maxRelativeError(padded.tauPerToken!.values, unpadded.tauPerToken!.values)).toBeLessThan(1e-12);
    padded.layers.forEach((layer, l) => expect(layer.damping).toBeCloseTo(unpadded.layers[l].damping, 12));
  });

  it('a run cancelled in any stage resumes from its checkpoint to a bit-identical result', async () => {
    const config: AttributionConfig = { ...BASE, perToken: true };
    const reference = await run(config);
    // Self-influence is computed inside the scores pass (from the same G(n)), so a cancelled scores pass covers it.
    for (const [stage, afterEvents] of [
      ['covariance', 2],
      ['lambda', 3],
      ['scores', 4],
    ] as [StageName, number][]) {
      const store = new MemoryCheckpoints();
      const controller = new AbortController();
      let seen = 0;
      const onProgress = (event: ProgressEvent) => {
        if (event.stage === stage && ++seen === afterEvents) controller.abort(new Error(`stop in ${stage}`));
      };
      await expect(
        run(config, fixture.model, { checkpoint: store, signal: controller.signal, onProgress }),
      ).rejects.toThrow(`stop in ${stage}`);
      expect(store.saved, stage).not.toBeNull();
      const resumedEvents: ProgressEvent[] = [];
      const resumed = await run(config, fixture.model, {
        checkpoint: store,
        onProgress: (e: ProgressEvent) => resumedEvents.push(e),
      });
      // Resumed, not restarted: the first event of the resumed session is in the stage that was cancelled (a scores
      // pass first prepares its query chunk again: the query operators are not checkpointed).
      const first = resumedEvents.filter((e) => stage !== 'scores' || e.stage !== 'query')[0]!;
      expect(first.stage, stage).toBe(stage);
      if (stage === 'scores') expect(resumedEvents[0].stage).toBe('query');
      expect(Array.from(resumed.tau), stage).toEqual(Array.from(reference.tau));
      expect(Array.from(resumed.selfTau), stage).toEqual(Array.from(reference.selfTau));
      expect(Array.from(resumed.tauPerToken!.values), stage).toEqual(Array.from(reference.tauPerToken!.values));
      expect(Array.from(resumed.queryTokenLoss!.values), stage).toEqual(Array.from(reference.queryTokenLoss!.values));
    }
  });

  it('refuses a checkpoint of a different run', async () => {
    const store = new MemoryCheckpoints();
    await run(BASE, fixture.model, { checkpoint: store });
    await expect(run({ ...BASE, strategy: 'kfac' }, fixture.model, { checkpoint: store })).rejects.toThrow(
      /different configuration/,
    );
  });

  it('reports progress per stage with done ≤ total, ending at total', async () => {
    const events: ProgressEvent[] = [];
    await run(BASE, fixture.model, { onProgress: (e: ProgressEvent) => events.push(e) });
    const stages = [...new Set(events.map((e) => e.stage))];
    // No separate self stage: the first scores pass computes self-influence from the same training gradients.
    expect(stages).toEqual(['covariance', 'eigen', 'lambda', 'query', 'scores']);
    // Query chunks of 2 alternate with scoring: each prepared chunk is reported, in queries, before its scores.
    const queryEvents = events.filter((e) => e.stage === 'query');
    expect(queryEvents.map((e) => [e.done, e.total, e.unit])).toEqual([
      [2, QUERIES, 'queries'],
      [4, QUERIES, 'queries'],
      [5, QUERIES, 'queries'],
    ]);
    expect(events[events.indexOf(queryEvents[1]!) - 1]!.stage).toBe('scores');
    expect(queryEvents.every((e) => e.itemsPerSecond > 0 && e.etaSeconds >= 0)).toBe(true);
    for (const stage of stages) {
      const ofStage = events.filter((e) => e.stage === stage);
      ofStage.forEach((e, i) => {
        expect(e.done).toBeLessThanOrEqual(e.total);
        if (i > 0) expect(e.done).toBeGreaterThanOrEqual(ofStage[i - 1].done);
      });
      expect(ofStage[ofStage.length - 1].done).toBe(ofStage[0].total);
    }
    expect(events.find((e) => e.stage === 'scores')!.total).toBe(QUERIES * TRAIN);
    expect(events.filter((e) => e.stage === 'scores').every((e) => e.unit === 'pairs')).toBe(true);
  });

  it('names the stage and the layer of a non-finite value', async () => {
    const poisoned: ExactModel = {
      ...fixture.model,
      example(role, index, labels, seed) {
        const example = fixture.model.example(role, index, labels, seed);
        if (role !== 'train' || index !== 6) return example;
        const layers = example.layers.map((layer, l) =>
          l === 1 ? { a: layer.a, g: layer.g.map((v, k) => (k === 3 ? Number.NaN : v)) } : layer,
        );
        return { ...example, layers };
      },
    };
    const error = await run(BASE, poisoned).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).stage).toBe('covariance');
    expect((error as NonFiniteError).layer).toBe('down');
    expect((error as Error).message).toMatch(/layer "down".*training examples 4–7/);
  });

  it("each query's loss per position is its model's −log-likelihood there, summing to its summed loss", async () => {
    const result = await run(BASE);
    const { offsets, values } = result.queryTokenLoss!;
    for (let q = 0; q < QUERIES; q++) {
      const example = fixture.model.example('query', q, 'given', BASE.seed);
      const row = values.subarray(offsets[q], offsets[q + 1]);
      expect(row.length).toBe(fixture.model.length('query', q));
      expect(Array.from(row)).toEqual(Array.from(example.tokenLogLikelihoods, (l) => 0 - l));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(example.loss, 12);
      expect(row.some((l) => l > 0)).toBe(true);
    }
  });

  it('mean-log-likelihood influence is τ / T_q, summed-loss influence is τ', async () => {
    const result = await run({ ...BASE, measurement: 'mean-log-likelihood' });
    for (let q = 0; q < QUERIES; q++) {
      const targets = fixture.model.example('query', q, 'given', 0).targetCount;
      expect(result.queryTargetCounts[q]).toBe(targets);
      for (let n = 0; n < TRAIN; n++) {
        const expected = result.tau[q * TRAIN + n] / targets;
        expect(Math.abs(result.influence[q * TRAIN + n] - expected)).toBeLessThanOrEqual(1e-15 * Math.abs(expected));
      }
    }
    const summed = await run({ ...BASE, measurement: 'summed-loss' });
    expect(Array.from(summed.influence)).toEqual(Array.from(summed.tau));
  });

  it('rejects bad configurations with the field at fault', async () => {
    await expect(run({ ...BASE, batchSizes: { ...BASE.batchSizes, train: 0 } })).rejects.toThrow(/batchSizes\.train/);
    await expect(run({ ...BASE, queryRank: 0 })).rejects.toThrow(/queryRank/);
    await expect(run({ ...BASE, trackedLayers: '^nothing$' })).rejects.toThrow(/matches none.*up, down, unembed/);
  });
});

describe('gradient source contract', () => {
  it('a batch with the wrong shape is refused before any kernel runs, naming the layer and the shapes', async () => {
    const honest = new ExactGradientSource(fixture.model);
    const lying: GradientSource = {
      layers: honest.layers.map((l) => (l.name === 'down' ? { ...l, dIn: 15 } : l)),
      sequenceLength: (role, index) => honest.sequenceLength(role, index),
      gradients: (request, b) => honest.gradients(request, b),
    };
    const inputs = { backend, source: lying, trainSet: set('train', TRAIN), querySet: set('query', QUERIES) };
    await expect(runAttribution(BASE, inputs)).rejects.toThrow(
      /malformed batch for train examples 0–3: layer "down": activations \[4, \d+, 16\], expected \[4, \d+, 15\]/,
    );
  });
});

describe('label sampling', () => {
  it('samples for the covariance and Λ passes with independent seeds; scores always use the given labels', async () => {
    const honest = new ExactGradientSource(fixture.model);
    const requests: { labels: string; seed: number }[] = [];
    const recording: GradientSource = {
      layers: honest.layers,
      sequenceLength: (role, index) => honest.sequenceLength(role, index),
      gradients: (request, b) => {
        requests.push({ labels: request.labels, seed: request.seed });
        return honest.gradients(request, b);
      },
    };
    await runAttribution(BASE, {
      backend,
      source: recording,
      trainSet: set('train', TRAIN),
      querySet: set('query', QUERIES),
    });
    const fitBatches = Math.ceil(TRAIN / BASE.batchSizes.fit);
    const sampled = requests.filter((r) => r.labels === 'sampled');
    expect(sampled).toHaveLength(2 * fitBatches);
    const seeds = new Set(sampled.map((r) => r.seed));
    expect(seeds.size).toBe(2);
    expect(seeds.has(BASE.seed)).toBe(true);
    expect(requests.slice(2 * fitBatches).every((r) => r.labels === 'given')).toBe(true);
  });
});

describe('checkpoint fingerprint', () => {
  it('does not depend on the order in which the configuration’s keys were written', async () => {
    const store = new MemoryCheckpoints();
    await run(BASE, fixture.model, { checkpoint: store });
    const reordered = Object.fromEntries(Object.entries(BASE).reverse()) as unknown as AttributionConfig;
    const again = await run(reordered, fixture.model, { checkpoint: store });
    expect(again.tau.length).toBe(QUERIES * TRAIN);
  });
});
