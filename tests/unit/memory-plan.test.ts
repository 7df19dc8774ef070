import { describe, expect, test } from 'vitest';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';
import { deviceProfile, formatPlan, ORT_HEAP_BYTES, THROUGHPUT } from '../../src/app/run-plan';
import { fetchBatch } from '../../src/influence/batches';
import { runPass } from '../../src/influence/chunks';
import { OutOfMemoryError } from '../../src/influence/errors';
import { planMemory, type DataProfile, type GraphProfile } from '../../src/influence/memory-plan';
import { DEFAULT_CONFIG, type AttributionConfig, type GradientSource, type LayerInfo } from '../../src/influence/types';
import { cpuBackend } from '../../src/linalg/cpu/backend';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** GPT-2 small: 12 blocks, MLP projections 768 → 3072 → 768 (24 tracked layers), V = 50,257, untied head. */
const GPT2_LAYERS: LayerInfo[] = Array.from({ length: 12 }, (_, i) => [
  { name: `/h.${i}/mlp/c_fc/MatMul`, dIn: 768, dOut: 3072, hasBias: true },
  { name: `/h.${i}/mlp/c_proj/MatMul`, dIn: 3072, dOut: 768, hasBias: true },
]).flat();
const GPT2: GraphProfile = {
  vocab: 50257,
  weightBytes: 652e6,
  linearWidth: 12 * (768 + 2304 + 768 + 768 + 768 + 3072 + 3072 + 768) + 2 * (50257 + 768),
  heapBytes: ORT_HEAP_BYTES,
  flopsPerSecond: THROUGHPUT.ortWasm,
};

function data(train: number, queries: number, maxTokens = 512): DataProfile {
  return { train, queries, maxTokens, trainTokens: train * maxTokens, queryTokens: queries * maxTokens };
}

const config = (changes: Partial<AttributionConfig> = {}): AttributionConfig => ({ ...DEFAULT_CONFIG, ...changes });
const small: LayerInfo[] = [{ name: 'mlp', dIn: 16, dOut: 32, hasBias: true }];
const tinyGraph: GraphProfile = { ...GPT2, vocab: 64, weightBytes: 1e5, linearWidth: 200 };

describe('memory planner', () => {
  test('ample memory keeps the configured batch sizes and changes nothing', () => {
    const plan = planMemory(config(), small, tinyGraph, data(100, 10, 32), deviceProfile({ kind: 'cpu' }));
    expect(plan.batchSizes).toEqual(DEFAULT_CONFIG.batchSizes);
    expect(plan.changes).toEqual([]);
    expect(plan.problems).toEqual([]);
    expect(plan.stages.map((s) => s.stage)).toEqual(['covariance', 'eigen', 'lambda', 'query', 'scores']);
    expect(plan.peakBytes).toBe(Math.max(...plan.stages.map((s) => s.peakBytes)));
    // Identity has no factor stages.
    const identity = planMemory(
      config({ strategy: 'identity' }),
      small,
      tinyGraph,
      data(100, 10, 32),
      deviceProfile({ kind: 'cpu' }),
    );
    expect(identity.stages.map((s) => s.stage)).toEqual(['query', 'scores']);
  });

  test('GPT-2 small on a 128 MiB binding: smaller batches, every stage within the limits, no error', () => {
    const device = deviceProfile({ kind: 'webgpu', maxBindingBytes: 128 * MiB, memoryBudgetBytes: 4 * GiB });
    const plan = planMemory(config(), GPT2_LAYERS, GPT2, data(4656, 481, 512), device);
    expect(plan.problems).toEqual([]);
    expect(plan.batchSizes.fit).toBeLessThan(DEFAULT_CONFIG.batchSizes.fit);
    expect(plan.batchSizes.query).toBeLessThan(DEFAULT_CONFIG.batchSizes.query);
    expect(plan.changes.length).toBeGreaterThan(0);
    for (const stage of plan.stages) expect(stage.peakBytes).toBeLessThanOrEqual(4 * GiB);
    // The largest single tensors: a of one layer for a batch, and G(n) of one layer for a batch.
    const T = 512;
    expect(plan.batchSizes.fit * T * 3072 * 4).toBeLessThanOrEqual(128 * MiB);
    expect(plan.batchSizes.train * 3072 * 769 * 4).toBeLessThanOrEqual(128 * MiB);
    expect(plan.batchSizes.query * 3072 * 769 * 4).toBeLessThanOrEqual(128 * MiB);
    // onnxruntime's heap: the logits of a batch (and the rest) within 3.5 GiB.
    expect(
      2 * GPT2.weightBytes + plan.batchSizes.fit * T * 4 * (3 * GPT2.vocab + GPT2.linearWidth),
    ).toBeLessThanOrEqual(ORT_HEAP_BYTES);
    expect(plan.scoreMemoryBytes).toBeLessThanOrEqual(128 * MiB);
  });

  test('a limit too small for the configured batch gives a smaller batch, down to 1, not an error', () => {
    const roomy = deviceProfile({ kind: 'cpu', memoryBudgetBytes: 1 * GiB });
    const tight = deviceProfile({ kind: 'cpu', memoryBudgetBytes: 16 * MiB });
    const big: LayerInfo[] = [{ name: 'mlp', dIn: 256, dOut: 512, hasBias: false }];
    const cfg = config({ batchSizes: { fit: 64, train: 64, query: 64, batchesPerChunk: 1 } });
    const wide = planMemory(cfg, big, tinyGraph, data(1000, 100, 64), roomy);
    const narrow = planMemory(cfg, big, tinyGraph, data(1000, 100, 64), tight);
    expect(wide.batchSizes.fit).toBe(64);
    expect(narrow.batchSizes.fit).toBeLessThan(64);
    expect(narrow.batchSizes.train).toBeLessThan(64);
    expect(narrow.problems).toEqual([]);
    for (const stage of narrow.stages) expect(stage.peakBytes).toBeLessThanOrEqual(16 * MiB);
    expect(narrow.changes[0]).toMatch(/training batch \(factors\) 64 → \d+: at 64, a training batch: needs/);
  });

  test('what does not fit at batch 1 is reported as a problem, not hidden', () => {
    const device = deviceProfile({ kind: 'cpu', memoryBudgetBytes: 64 * MiB });
    const plan = planMemory(config(), GPT2_LAYERS.slice(0, 1), GPT2, data(8, 2, 128), device);
    // A (769²) and S (3072²) in float64 are 77 MiB before any working copy: over a 64 MiB budget.
    expect(plan.problems.join(' ')).toMatch(/eigendecomposition at d = 3072: needs \S+ MiB of a 64\.0 MiB budget/);
  });

  test('WebGPU: a factor over one binding splits its eigendecomposition; covariance and rotations refuse', () => {
    const device = deviceProfile({ kind: 'webgpu', maxBindingBytes: 16 * MiB, memoryBudgetBytes: 4 * GiB });
    const plan = planMemory(config(), GPT2_LAYERS.slice(0, 1), GPT2, data(8, 2, 128), device);
    // S is 3072² floats = 36 MiB: more than one 16 MiB binding. A pair block of 2·1024 + 1 rows would just exceed it.
    expect(plan.notes).toEqual([
      'the eigendecomposition at d = 3072 splits into 4 blocks of ≤ 768 (its 36.0 MiB working matrix exceeds one ' +
        '16.0 MiB binding)',
    ]);
    expect(plan.problems).toEqual([
      'covariance at d = 3072: the kernels bind the 3072×3072 accumulator whole (36.0 MiB, over one binding); ' +
        'only the eigendecomposition splits',
      'rotations into the eigenbasis at d = 3072: the GEMMs bind Q whole (36.0 MiB, over one binding); the Λ, ' +
        'query and score stages cannot run on this device',
    ]);
    // `iwb attribute --plan` and the run log say it too.
    const lines = formatPlan({ plan, device, config: DEFAULT_RUN_CONFIG });
    expect(lines).toContain(`  splits: ${plan.notes[0]}`);
    expect(lines).toContain(`  does not fit: ${plan.problems[1]}`);
    const eigen = plan.stages.find((s) => s.stage === 'eigen')!;
    // Factors (A 769², S 3072²), the blocks of A and V (2·4·768·3072 floats), two new block columns and the pair solve
    // (about five (2·768 + 1)² matrices): less than the 4·d² an unsplit solve would hold.
    const factors = (769 ** 2 + 3072 ** 2) * 4;
    expect(eigen.peakBytes).toBe(factors + 4 * (2 * 4 * 768 * 3072 + 2 * 4 * 768 ** 2 + 5 * 1537 ** 2));
    expect(eigen.peakBytes).toBeLessThan(factors + 4 * 3072 ** 2 * 4);
    // S: 4 sweeps × 6 pairs of the single-binding solver at 1536 (d³ at its rate; the GEMMs are negligible); A whole.
    const whole = deviceProfile({ kind: 'webgpu', maxBindingBytes: 128 * MiB, memoryBudgetBytes: 4 * GiB });
    const unsplit = planMemory(config(), GPT2_LAYERS.slice(0, 1), GPT2, data(8, 2, 128), whole);
    expect(unsplit.notes).toEqual([]);
    expect(unsplit.problems).toEqual([]);
    const unsplitEigen = unsplit.stages.find((s) => s.stage === 'eigen')!;
    expect(eigen.seconds / unsplitEigen.seconds).toBeCloseTo(
      (4 * 6 * 1536 ** 3 + 769 ** 3) / (3072 ** 3 + 769 ** 3),
      1,
    );
  });

  test('the estimate grows with the counts and never with fewer', () => {
    const device = deviceProfile({ kind: 'cpu' });
    const at = (train: number, queries: number) =>
      planMemory(config(), small, tinyGraph, data(train, queries, 32), device);
    let previous = at(1, 1);
    for (const [train, queries] of [
      [2, 1],
      [8, 1],
      [8, 4],
      [64, 4],
      [64, 40],
      [1000, 40],
    ] as const) {
      const next = at(train, queries);
      expect(next.seconds).toBeGreaterThanOrEqual(previous.seconds);
      for (const stage of next.stages) {
        const before = previous.stages.find((s) => s.stage === stage.stage)!;
        expect(stage.seconds).toBeGreaterThanOrEqual(before.seconds);
      }
      previous = next;
    }
    expect(at(1000, 40).seconds).toBeGreaterThan(at(1, 1).seconds * 10);
  });
});

describe('allocation failure fallback', () => {
  test('fetchBatch turns an allocation failure into OutOfMemoryError; runPass retries it in halves', async () => {
    const backend = cpuBackend();
    const calls: number[][] = [];
    const source: GradientSource = {
      layers: [],
      sequenceLength: () => 1,
      async gradients(request) {
        calls.push([...request.indices]);
        if (request.indices.length > 2) throw new Error('std::bad_alloc');
        throw new Error('stop here');
      },
    };
    await expect(
      fetchBatch(source, { role: 'train', indices: [0, 1, 2], labels: 'given', seed: 0 }, backend),
    ).rejects.toBeInstanceOf(OutOfMemoryError);
    await expect(
      fetchBatch(source, { role: 'train', indices: [0], labels: 'given', seed: 0 }, backend),
    ).rejects.toThrow('stop here');

    const processed: number[][] = [];
    const chunks: number[] = [];
    await runPass(
      { stage: 'covariance', total: 11, start: 0, batchSize: 8, batchesPerChunk: 1 },
      async (indices) => {
        if (indices.length > 3) throw new OutOfMemoryError(indices.length, new Error('bad_alloc'));
        processed.push(indices);
      },
      async (next) => void chunks.push(next),
    );
    // 8 fails → 4 fails → 2 fits, and the pass stays at 2.
    expect(processed).toEqual([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10]]);
    expect(chunks).toEqual([2, 4, 6, 8, 10, 11]);
    // Other errors, and a failure at batch 1, are not retried.
    await expect(
      runPass(
        { stage: 'covariance', total: 4, start: 0, batchSize: 1, batchesPerChunk: 1 },
        async () => {
          throw new OutOfMemoryError(1, new Error('bad_alloc'));
        },
        async () => {},
      ),
    ).rejects.toBeInstanceOf(OutOfMemoryError);
  });
});
