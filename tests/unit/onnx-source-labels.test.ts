/**
 * Sampled labels drawn ahead (GradientRequest.sampleAlso): the covariance pass draws the Λ pass's labels from the
 * logits it computes anyway, so the Λ pass runs the gradient graph once per batch instead of twice. The gradients
 * must be exactly those of a source that ran both runs itself (float64 graph), whatever the later batching.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { OnnxGradientSource, type OnnxRows } from '../../src/influence/onnx-source';
import type { GradientBatch, GradientRequest } from '../../src/influence/types';
import { buildKronfluenceTokenLm } from '../../src/models/kronfluence';
import { buildGradientGraph } from '../../src/onnx/gradient-graph';
import { ModelSession } from '../../src/onnx/runtime';
import { fixtureData, fixtureWeights } from '../helpers/exact-kronfluence';

const backend = new CpuBackend();

async function gradientsOf(batch: GradientBatch): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for (const layer of batch.layers) out.push(await backend.read(layer.gradients));
  batch.release();
  return out;
}

describe('labels drawn ahead for a later sampled pass', () => {
  it('saves the later pass its logits run and gives bit-identical gradients, in any batching', async () => {
    const data = (await fixtureData('token_lm')) as Record<'train', { input_ids: number[]; prompt_len: number }[]>;
    const rows: OnnxRows = {
      kind: 'sequences',
      train: data.train.slice(0, 4).map((r) => ({ inputIds: r.input_ids, promptLen: r.prompt_len })),
      query: [],
    };
    const graph = buildGradientGraph(buildKronfluenceTokenLm(await fixtureWeights('token_lm')), {
      loss: { kind: 'token-cross-entropy' },
      tracked: /./,
    });
    const session = await ModelSession.create(graph.model);
    let runs = 0;
    const counting = { run: (feeds: Parameters<ModelSession['run']>[0]) => (runs++, session.run(feeds)) };
    try {
      const ahead = new OnnxGradientSource(graph, counting as unknown as ModelSession, rows);
      const fresh = new OnnxGradientSource(graph, session, rows);
      const sampled = (indices: number[], seed: number, sampleAlso?: number[]): GradientRequest => ({
        role: 'train',
        indices,
        labels: 'sampled',
        seed,
        ...(sampleAlso && { sampleAlso }),
      });

      await gradientsOf(await ahead.gradients(sampled([0, 1, 2, 3], 5, [9]), backend));
      expect(runs).toBe(2);
      // The later pass in other batches ([1, 2] and [0, 3]): one run each, the labels taken from what was kept.
      for (const indices of [
        [1, 2],
        [0, 3],
      ]) {
        const before = runs;
        const kept = await gradientsOf(await ahead.gradients(sampled(indices, 9), backend));
        expect(runs - before).toBe(1);
        const recomputed = await gradientsOf(await fresh.gradients(sampled(indices, 9), backend));
        expect(kept).toEqual(recomputed);
        // Different labels from seed 5's: the kept labels are seed 9's, not the covariance pass's.
        const other = await gradientsOf(await fresh.gradients(sampled(indices, 5), backend));
        expect(kept).not.toEqual(other);
      }
      // Taken once: asking again draws afresh (two runs), with the same result.
      const before = runs;
      await gradientsOf(await ahead.gradients(sampled([0, 1], 9), backend));
      expect(runs - before).toBe(2);
    } finally {
      await session.release();
    }
  });
});
