/**
 * The largest model each backend takes, stated with every plan (`iwb attribute --plan`, the run log) and in the page's
 * estimate before a run (RunEstimate.text.largest, shown by run-estimate.ts).
 */
import { describe, expect, it } from 'vitest';
import { deviceProfile, estimateOf, largestModel } from '../../src/app/run-plan';
import type { MemoryPlan } from '../../src/influence/memory-plan';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('largest model', () => {
  it('WebGPU: 1.75 GiB of weights, tracked layers up to √(binding / 4) wide', () => {
    const line = largestModel(
      deviceProfile({ kind: 'webgpu', maxBindingBytes: 128 * MiB, memoryBudgetBytes: 4 * GiB }),
    );
    // 128 MiB / 4 bytes = 2^25 elements: a 5792 × 5792 factor fits (5792² = 33,547,264 ≤ 33,554,432 < 5793²).
    expect(line).toBe(
      '  largest model: 1.75 GiB of float32 weights (~469 M parameters: one protobuf under 2 GiB, held twice in ' +
        "onnxruntime's 3.50 GiB heap); tracked layers up to 5792 wide (one 5792×5792 factor per 128.0 MiB binding)",
    );
  });

  it('CPU: float64 elements, one tensor at most 2 GiB (a typed array)', () => {
    const cpu = deviceProfile({ kind: 'cpu', maxBindingBytes: 8 * GiB, memoryBudgetBytes: 8 * GiB });
    // 2 GiB / 8 bytes = 2^28 elements: 16384².
    expect(largestModel(cpu)).toMatch(
      /tracked layers up to 16384 wide \(one 16384×16384 factor per 2\.00 GiB binding\)$/,
    );
  });
});

describe("the page's estimate says it before a run", () => {
  const plan: MemoryPlan = {
    batchSizes: { fit: 4, train: 4, query: 2, batchesPerChunk: 1 },
    scoreMemoryBytes: MiB,
    cacheBytes: 0,
    stages: [],
    peakBytes: MiB,
    seconds: 1,
    changes: [],
    problems: [],
    notes: [],
  };
  it.each([
    ['webgpu', deviceProfile({ kind: 'webgpu', maxBindingBytes: 128 * MiB, memoryBudgetBytes: 4 * GiB })],
    ['cpu', deviceProfile({ kind: 'cpu', maxBindingBytes: 8 * GiB, memoryBudgetBytes: 8 * GiB })],
  ] as const)('%s: the same statement as the plan line', (_kind, device) => {
    const estimate = estimateOf({ plan, device }, [], { train: 4, queries: 2 }, 'test backend');
    expect(`  largest model: ${estimate.text.largest}`).toBe(largestModel(device));
    expect(estimate.text.largest).toMatch(/^1\.75 GiB of float32 weights .* tracked layers up to \d+ wide/);
  });
});
