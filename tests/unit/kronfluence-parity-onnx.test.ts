/**
 * Parity with kronfluence through the real ONNX path: the fixture models built as forward ONNX graphs (src/models),
 * differentiated by our autodiff (src/onnx/gradient-graph.ts) and run by onnxruntime-web's wasm EP in float64, feed
 * runAttribution on the CPU float64 backend; pairwise and self scores must match kronfluence's to 1e-9. With the
 * default true-Fisher settings the ONNX path must also agree with the plain-TS models (same sampled labels).
 * (kronfluence-parity.test.ts checks the same with plain-TS models, an independent check of the gradients.)
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { OnnxGradientSource, type OnnxRows } from '../../src/influence/onnx-source';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_CONFIG, type AttributionConfig, type ExampleSet } from '../../src/influence/types';
import { buildKronfluenceMlpClassifier, buildKronfluenceTokenLm } from '../../src/models/kronfluence';
import { buildGradientGraph, type LossSpec } from '../../src/onnx/gradient-graph';
import type { Model } from '../../src/onnx/ir';
import { ModelSession } from '../../src/onnx/runtime';
import { maxRelativeError } from '../helpers/exact-dense';
import {
  fixtureData,
  fixtureWeights,
  kronfluenceReference,
  mlpClassifierFixture,
  tokenLmFixture,
} from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const SETTINGS: AttributionConfig = {
  ...DEFAULT_CONFIG,
  fisher: 'empirical',
  measurement: 'summed-loss',
  batchSizes: { fit: 8, train: 16, query: 8, batchesPerChunk: 2 },
};

function set(role: 'train' | 'query', count: number): ExampleSet {
  return { role, examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })) };
}

async function checkParity(
  name: 'mlp_classifier' | 'token_lm',
  model: Model,
  loss: LossSpec,
  rows: OnnxRows,
  moduleNames: string[],
): Promise<void> {
  const graph = buildGradientGraph(model, { loss, tracked: /./ });
  const session = await ModelSession.create(graph.model);
  try {
    const source = new OnnxGradientSource(graph, session, rows);
    expect(source.layers.map((l) => l.weightName?.split('.')[0])).toEqual(moduleNames);
    const inputs = {
      backend: new CpuBackend(),
      trainSet: set('train', rows.train.length),
      querySet: set('query', rows.query.length),
    };
    const result = await runAttribution(SETTINGS, { ...inputs, source });
    // The defaults (true Fisher from sampled labels, mean log-likelihood): ORT's pass and the plain-TS model draw the
    // same labels from the same (seed, example, position), so the two runs agree to rounding.
    const fixture = name === 'mlp_classifier' ? await mlpClassifierFixture() : await tokenLmFixture();
    const defaults = { ...DEFAULT_CONFIG, seed: 11 };
    const viaOnnx = await runAttribution(defaults, { ...inputs, source });
    const viaTs = await runAttribution(defaults, { ...inputs, source: new ExactGradientSource(fixture.model) });
    expect(maxRelativeError(viaOnnx.influence, viaTs.influence)).toBeLessThan(1e-9);
    // The LM's samples differ from its data (the classifier is so confident that its samples equal its labels).
    if (name === 'token_lm') expect(maxRelativeError(viaOnnx.tau, result.tau)).toBeGreaterThan(1e-3);
    const reference = await kronfluenceReference(name);
    expect(maxRelativeError(result.tau, reference.pairwise[0].total.data)).toBeLessThan(1e-9);
    expect(maxRelativeError(result.selfTau, reference.self[0].total.data)).toBeLessThan(1e-9);
    result.factors.layers.forEach((ours, l) => {
      const theirs = reference.factors!.layers.find((layer) => layer.name === moduleNames[l])!;
      expect(maxRelativeError(ours.lambdaSum!.data, theirs.lambdaSum!.data), moduleNames[l]).toBeLessThan(1e-9);
    });
  } finally {
    await session.release();
  }
}

describe('parity with kronfluence through ONNX + autodiff + onnxruntime-web (wasm, float64)', () => {
  it('mlp_classifier', async () => {
    const data = (await fixtureData('mlp_classifier')) as {
      train: { x: number[][]; y: number[] };
      queries: { x: number[][]; y: number[] };
    };
    const rows: OnnxRows = {
      kind: 'features',
      train: data.train.x.map((features, i) => ({ features, label: data.train.y[i] })),
      query: data.queries.x.map((features, i) => ({ features, label: data.queries.y[i] })),
    };
    await checkParity(
      'mlp_classifier',
      buildKronfluenceMlpClassifier(await fixtureWeights('mlp_classifier')),
      { kind: 'cross-entropy' },
      rows,
      ['fc1', 'fc2', 'fc3'],
    );
  });

  it('token_lm (padding, response-only loss)', async () => {
    const data = (await fixtureData('token_lm')) as Record<
      'train' | 'queries',
      { input_ids: number[]; prompt_len: number }[]
    >;
    const toRows = (list: typeof data.train) => list.map((r) => ({ inputIds: r.input_ids, promptLen: r.prompt_len }));
    const rows: OnnxRows = { kind: 'sequences', train: toRows(data.train), query: toRows(data.queries) };
    await checkParity(
      'token_lm',
      buildKronfluenceTokenLm(await fixtureWeights('token_lm')),
      { kind: 'token-cross-entropy' },
      rows,
      ['up', 'down', 'unembed'],
    );
  });
});

describe('OnnxGradientSource input checks', () => {
  it('names the example whose prompt or response is empty', async () => {
    const graph = buildGradientGraph(buildKronfluenceTokenLm(await fixtureWeights('token_lm')), {
      loss: { kind: 'token-cross-entropy' },
      tracked: /./,
    });
    const session = await ModelSession.create(graph.model);
    try {
      const rows: OnnxRows = {
        kind: 'sequences',
        train: [
          { inputIds: [3, 4, 5], promptLen: 1 },
          { inputIds: [3, 4], promptLen: 2 },
        ],
        query: [],
      };
      const source = new OnnxGradientSource(graph, session, rows);
      await expect(
        source.gradients({ role: 'train', indices: [0, 1], labels: 'given', seed: 0 }, new CpuBackend()),
      ).rejects.toThrow('train example 1: promptLen 2 with 2 tokens');
      expect(() => source.sequenceLength('query', 0)).toThrow('query example 0 does not exist (0 rows)');
    } finally {
      await session.release();
    }
  });
});
