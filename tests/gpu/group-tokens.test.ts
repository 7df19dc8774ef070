/**
 * Group per-token influence (src/influence/group-tokens.ts) on the WebGPU float32 backend against the CPU float64
 * pipeline, on the kronfluence fixture models with their queries split into two benchmarks: the group rows within the
 * bars the other scores meet (tests/gpu/influence-webgpu.test.ts: 1e-4 of the largest value, 1e-3 for EK-FAC on the
 * MLP classifier), and every buffer released. Measured on SwiftShader: identity 4.1e-8 (MLP) and 7.8e-8 (token LM),
 * EK-FAC 7.1e-7 (token LM) and 6.8e-4 (MLP: its heuristic δ far below max Λ amplifies float32 rounding, as there).
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { webGpuBackend } from '../../src/linalg/webgpu/backend';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_CONFIG, type AttributionConfig } from '../../src/influence/types';
import { type Strategy } from '../../src/core/strategy';
import type { Backend } from '../../src/linalg/backend';
import { maxRelativeError } from '../helpers/exact-dense';
import { mlpClassifierFixture, tokenLmFixture, type Fixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';
import { testGpu } from '../helpers/gpu';

const gpu = await webGpuBackend(await testGpu());
const cpu = new CpuBackend();
const fixtures = { mlp_classifier: await mlpClassifierFixture(), token_lm: await tokenLmFixture() };
const BATCHES = { fit: 16, train: 16, query: 3, batchesPerChunk: 4 };

function run(config: AttributionConfig, fixture: Fixture, backend: Backend) {
  return runAttribution(config, {
    backend,
    source: new ExactGradientSource(fixture.model),
    trainSet: fixture.trainSet,
    querySet: {
      role: 'query',
      examples: fixture.querySet.examples.map((e, q) => ({ ...e, benchmark: q % 3 === 0 ? 'mbpp' : 'gsm8k' })),
    },
  });
}

describe('group per-token influence on WebGPU against CPU float64', () => {
  for (const name of ['mlp_classifier', 'token_lm'] as const) {
    for (const strategy of ['identity', 'ekfac'] as Strategy[]) {
      it(`${name}, ${strategy}: the group rows within the pipeline's bar, and no buffer left`, async () => {
        const config: AttributionConfig = { ...DEFAULT_CONFIG, strategy, seed: 7, batchSizes: BATCHES };
        gpu.runtime.pool.trim();
        const before = gpu.runtime.pool.bytesAllocated;
        const onGpu = await run(config, fixtures[name], gpu);
        gpu.runtime.pool.trim();
        expect(gpu.runtime.pool.bytesAllocated).toBe(before);
        const onCpu = await run(config, fixtures[name], cpu);
        expect(onGpu.groupTokens!.groups).toEqual(onCpu.groupTokens!.groups);
        expect(onGpu.groupTokens!.groups.map((g) => g.name)).toEqual(['mbpp', 'gsm8k']);
        expect(Array.from(onGpu.groupTokens!.offsets)).toEqual(Array.from(onCpu.groupTokens!.offsets));
        const bar = strategy === 'ekfac' && name === 'mlp_classifier' ? 1e-3 : 1e-4;
        const error = maxRelativeError(onGpu.groupTokens!.values, onCpu.groupTokens!.values);
        expect(error).toBeLessThanOrEqual(bar);
      });
    }
  }
});
