import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildKronfluenceMlpClassifier,
  buildKronfluenceTokenLm,
  KRONFLUENCE_MLP_CLASSIFIER,
  KRONFLUENCE_TOKEN_LM,
} from '../../src/models/kronfluence';
import {
  buildMlpForward,
  initMlpWeights,
  linearRegressionConfig,
  logisticRegressionConfig,
  type MlpConfig,
} from '../../src/models/mlp';
import { mlpReference, tokenLmReference } from '../../src/models/reference';
import type { Weights } from '../../src/models/weights';
import { DataType } from '../../src/onnx/ir';
import { parseModel, serializeModel } from '../../src/onnx/protobuf';
import { ModelSession, padBatch } from '../../src/onnx/runtime';
import { readSafetensors } from '../../src/store/safetensors';
import { tensorToFloat64 } from '../../src/store/tensor-values';
import { KRONFLUENCE_FIXTURES } from '../helpers/fixtures';

const fixtures = pathToFileURL(`${KRONFLUENCE_FIXTURES}/`);
const sessions: ModelSession[] = [];
afterAll(async () => Promise.all(sessions.map((s) => s.release())));

async function session(model: Parameters<typeof ModelSession.create>[0]): Promise<ModelSession> {
  const created = await ModelSession.create(model);
  sessions.push(created);
  return created;
}

function loadWeights(model: string): Weights {
  // A plain Uint8Array copy: store's tensorToArray mis-reads Node Buffers (Buffer.slice() is a view into a pool).
  const bytes = new Uint8Array(readFileSync(new URL(`${model}/model.safetensors`, fixtures)));
  const file = readSafetensors(bytes, { source: `${model}/model.safetensors` });
  return Object.fromEntries(
    [...file.tensors].map(([name, t]) => [name, { dims: t.shape, data: tensorToFloat64(t, name) }]),
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function features(batch: number, dim: number, seed: number, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const out = dtype === 'float32' ? new Float32Array(batch * dim) : new Float64Array(batch * dim);
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(seed + 1.7 * i) * 2;
  return out;
}

describe('feature models (MLP, linear and logistic regression)', () => {
  const cases: [string, MlpConfig][] = [
    [
      'MLP relu gemm',
      { inputDim: 5, hiddenDims: [7, 6], outputDim: 3, activation: 'relu', linearForm: 'gemm', task: 'classification' },
    ],
    [
      'MLP tanh matmul',
      { inputDim: 5, hiddenDims: [9], outputDim: 2, activation: 'tanh', linearForm: 'matmul', task: 'regression' },
    ],
    [
      'deep linear matmul',
      { inputDim: 3, hiddenDims: [4, 5], outputDim: 2, activation: 'linear', linearForm: 'matmul', task: 'regression' },
    ],
    ['linear regression', linearRegressionConfig(4)],
    ['logistic regression', logisticRegressionConfig(4, 3)],
  ];
  for (const [label, config] of cases) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${label} (${dtype}) matches the float64 TypeScript forward`, async () => {
        const weights = initMlpWeights(config, 3, dtype);
        const model = buildMlpForward(config, weights);
        expect(parseModel(serializeModel(model))).toEqual(model);
        const x = features(4, config.inputDim, 1, dtype);
        const outputName = config.task === 'classification' ? 'logits' : 'outputs';
        const result = (await (await session(model)).run({ features: { data: x, dims: [4, config.inputDim] } }))[
          outputName
        ]!;
        expect(result.dims).toEqual([4, config.outputDim]);
        const expected = mlpReference(config, weights, x, 4);
        // float32: 1e-5 on outputs of size ~1 (float32 products over ≤ 9 terms); float64: identical up to rounding.
        expect(maxAbsDiff(result.data as Float32Array | Float64Array, expected)).toBeLessThan(
          dtype === 'float32' ? 1e-5 : 1e-14,
        );
      });
    }
  }

  it('uses Gemm with transB=1 on nn.Linear weights, or MatMul+Add on a transposed copy', () => {
    const [, gemmConfig] = cases[0]!;
    const gemm = buildMlpForward(gemmConfig, initMlpWeights(gemmConfig, 1));
    expect(gemm.graph.nodes.map((n) => `${n.name}:${n.opType}`)).toEqual([
      '/fc1/Gemm:Gemm',
      '/Relu:Relu',
      '/fc2/Gemm:Gemm',
      '/Relu_1:Relu',
      '/fc3/Gemm:Gemm',
    ]);
    expect(gemm.graph.nodes[0]!.attributes.transB).toEqual({ type: 'int', value: 1 });
    const [, matmulConfig] = cases[1]!;
    const matmul = buildMlpForward(matmulConfig, initMlpWeights(matmulConfig, 1));
    expect(matmul.graph.nodes[0]!.inputs).toEqual(['features', 'fc1.weight.T']);
    expect(matmul.graph.initializers.get('fc1.weight.T')!.dims).toEqual([5, 9]);
    expect(matmul.metadata['iwb.task']).toBe('regression');
    const [, deepLinear] = cases[2]!;
    expect(buildMlpForward(deepLinear, initMlpWeights(deepLinear, 1)).graph.nodes.map((n) => n.opType)).toEqual([
      'MatMul',
      'Add',
      'MatMul',
      'Add',
      'MatMul',
      'Add',
    ]);
  });
});

describe('kronfluence fixture models (float64 graphs, weights from model.safetensors)', () => {
  it('mlp_classifier matches the TypeScript forward on the fixture data', async () => {
    const weights = loadWeights('mlp_classifier');
    const model = buildKronfluenceMlpClassifier(weights);
    expect(model.graph.inputs[0]!.elemType).toBe(DataType.DOUBLE);
    expect(parseModel(serializeModel(model))).toEqual(model);
    const data = JSON.parse(readFileSync(new URL('mlp_classifier/data.json', fixtures), 'utf8')) as {
      train: { x: number[][] };
    };
    const x = Float64Array.from(data.train.x.flat());
    const { logits } = await (await session(model)).run({ features: { data: x, dims: [data.train.x.length, 6] } });
    expect(logits!.dims).toEqual([64, 3]);
    expect(
      maxAbsDiff(logits!.data as Float64Array, mlpReference(KRONFLUENCE_MLP_CLASSIFIER, weights, x, 64)),
    ).toBeLessThan(1e-13);
  });

  it('token_lm matches the TypeScript forward on the padded fixture sequences', async () => {
    const weights = loadWeights('token_lm');
    const model = buildKronfluenceTokenLm(weights);
    expect(model.graph.nodes.map((n) => n.name)).toEqual(
      expect.arrayContaining(['/emb/Gather', '/up/MatMul', '/up/Add', '/down/MatMul', '/unembed/MatMul']),
    );
    expect(parseModel(serializeModel(model))).toEqual(model);
    const data = JSON.parse(readFileSync(new URL('token_lm/data.json', fixtures), 'utf8')) as {
      train: { input_ids: number[] }[];
    };
    const batch = padBatch(
      data.train.map((row) => row.input_ids),
      0,
    );
    const { logits } = await (
      await session(model)
    ).run({ input_ids: batch.inputIds, attention_mask: batch.attentionMask });
    const T = batch.inputIds.dims[1]!;
    const paddedIds = data.train.map((row) => [...row.input_ids, ...new Array(T - row.input_ids.length).fill(0)]);
    expect(logits!.dims).toEqual([40, T, 12]);
    expect(
      maxAbsDiff(logits!.data as Float64Array, tokenLmReference(KRONFLUENCE_TOKEN_LM, weights, paddedIds)),
    ).toBeLessThan(1e-13);
  });
});
