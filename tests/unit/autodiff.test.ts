/**
 * The gradient graph's contract beyond single VJPs: classifier and regression losses and their seeds, tracked-layer
 * choice (default pattern, explicit names, bias folding, both weight layouts), Σ g aᵀ = weight gradient, and the
 * errors raised before anything runs.
 */
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { buildKronfluenceTokenLm } from '../../src/models/kronfluence';
import { buildMlpForward, initMlpWeights, linearRegressionConfig, type MlpConfig } from '../../src/models/mlp';
import { attr, GraphBuilder } from '../../src/onnx/builder';
import { buildGradientGraph, DEFAULT_TRACKED, type GradientGraph } from '../../src/onnx/gradient-graph';
import { DataType } from '../../src/onnx/ir';
import { run, uniform, values } from './autodiff-harness';

const classifier: MlpConfig = {
  inputDim: 5,
  hiddenDims: [7, 6],
  outputDim: 3,
  activation: 'tanh',
  linearForm: 'gemm',
  task: 'classification',
};
const B = 4;

function features(seed: number, rows: number, dim: number): ort.Tensor {
  const random = uniform(seed);
  return new ort.Tensor(
    'float64',
    Float64Array.from({ length: rows * dim }, () => random() * 2 - 1),
    [rows, dim],
  );
}

/** Σ over rows of g aᵀ, laid out as the weight initializer is stored. */
function summedOuterProduct(graph: GradientGraph, outputs: Record<string, ort.Tensor>, index: number): Float64Array {
  const layer = graph.layers[index];
  const a = values(outputs[layer.activationOutput]);
  const g = values(outputs[layer.gradientOutput]);
  const result = new Float64Array(layer.dIn * layer.dOut);
  for (let r = 0; r < a.length / layer.dIn; r++) {
    for (let o = 0; o < layer.dOut; o++) {
      for (let i = 0; i < layer.dIn; i++) {
        const at = layer.weightLayout === 'in-out' ? i * layer.dOut + o : o * layer.dIn + i;
        result[at] += g[r * layer.dOut + o] * a[r * layer.dIn + i];
      }
    }
  }
  return result;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(tolerance);
}

describe('classifier cross-entropy (Gemm layers, nn.Linear layout)', () => {
  it('per-example loss and log-likelihood, seed softmax − one-hot, Σ g aᵀ = weight gradient, Σ g = bias gradient', async () => {
    const model = buildMlpForward(classifier, initMlpWeights(classifier, 5, 'float64'));
    const graph = buildGradientGraph(model, { loss: { kind: 'cross-entropy' }, parameterGradients: true });
    expect(
      graph.layers.map((l) => [l.nodeName, l.opType, l.weightName, l.weightLayout, l.biasName, l.dIn, l.dOut]),
    ).toEqual([
      ['/fc1/Gemm', 'Gemm', 'fc1.weight', 'out-in', 'fc1.bias', 5, 7],
      ['/fc2/Gemm', 'Gemm', 'fc2.weight', 'out-in', 'fc2.bias', 7, 6],
      ['/fc3/Gemm', 'Gemm', 'fc3.weight', 'out-in', 'fc3.bias', 6, 3],
    ]);
    const labels = [2, 0, 1, 2];
    const outputs = await run(graph.model, {
      features: features(11, B, 5),
      labels: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [B]),
    });
    const logits = values(outputs.logits);
    const lastGrad = values(outputs[graph.layers[2].gradientOutput]);
    for (let b = 0; b < B; b++) {
      const row = logits.slice(b * 3, b * 3 + 3);
      const logTotal = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
      expect(values(outputs.loss)[b]).toBeCloseTo(logTotal - row[labels[b]], 12);
      expect(values(outputs[graph.outputs.tokenLogLikelihoods!])[b]).toBeCloseTo(row[labels[b]] - logTotal, 12);
      row.forEach((x, c) =>
        expect(lastGrad[b * 3 + c]).toBeCloseTo(Math.exp(x - logTotal) - (c === labels[b] ? 1 : 0), 12),
      );
    }
    graph.layers.forEach((layer, index) => {
      expect(outputs[layer.activationOutput].dims).toEqual([B, 1, layer.dIn]);
      expectClose(
        summedOuterProduct(graph, outputs, index),
        values(outputs[graph.outputs.parameterGradients!.get(layer.weightName)!]),
        1e-12,
      );
      const g = values(outputs[layer.gradientOutput]);
      const biasGrad = Array.from({ length: layer.dOut }, (_, o) =>
        g.filter((_, k) => k % layer.dOut === o).reduce((s, v) => s + v, 0),
      );
      expectClose(biasGrad, values(outputs[graph.outputs.parameterGradients!.get(layer.biasName!)!]), 1e-12);
    });
  });

  it('folds MatMul + Add(bias) into one layer and reports the Add node', () => {
    const model = buildMlpForward({ ...classifier, linearForm: 'matmul' }, initMlpWeights(classifier, 5, 'float64'));
    const graph = buildGradientGraph(model, { loss: { kind: 'cross-entropy' }, tracked: ['/fc2/MatMul'] });
    expect(graph.layers).toHaveLength(1);
    expect(graph.layers[0]).toMatchObject({
      nodeName: '/fc2/MatMul',
      weightName: 'fc2.weight.T',
      weightLayout: 'in-out',
      biasName: 'fc2.bias',
      biasNodeName: '/fc2/Add',
      hasBias: true,
    });
  });
});

describe('token cross-entropy', () => {
  it('masked positions may carry the −100 label: loss, log-likelihoods and g are those of label 0 there', async () => {
    const random = uniform(8);
    const tensor = (dims: number[]) => ({
      dims,
      data: Float64Array.from({ length: dims.reduce((p, d) => p * d, 1) }, () => random() - 0.5),
    });
    const weights = {
      'emb.weight': tensor([12, 8]),
      'up.weight': tensor([16, 8]),
      'up.bias': tensor([16]),
      'down.weight': tensor([8, 16]),
      'down.bias': tensor([8]),
      'unembed.weight': tensor([12, 8]),
    };
    const graph = buildGradientGraph(buildKronfluenceTokenLm(weights), { loss: { kind: 'token-cross-entropy' } });
    const ids = new ort.Tensor('int64', BigInt64Array.from([3, 5, 7, 0], BigInt), [1, 4]);
    const feeds = (labels: number[]) => ({
      input_ids: ids,
      attention_mask: new ort.Tensor('int64', BigInt64Array.from([1, 1, 1, 0], BigInt), [1, 4]),
      labels: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [1, 4]),
      loss_mask: new ort.Tensor('float64', Float64Array.from([0, 1, 1, 0]), [1, 4]),
    });
    const withSentinel = await run(graph.model, feeds([-100, 7, 2, -100]));
    const withZero = await run(graph.model, feeds([0, 7, 2, 0]));
    for (const name of [
      graph.outputs.loss,
      graph.outputs.tokenLogLikelihoods!,
      ...graph.layers.map((l) => l.gradientOutput),
    ]) {
      expect(values(withSentinel[name]), name).toEqual(values(withZero[name]));
    }
    expect(values(withSentinel[graph.outputs.loss])[0]).toBeGreaterThan(0);
  });
});

describe('MSE (linear regression)', () => {
  it('loss Σ (y − t)² per example and g = 2(y − t)', async () => {
    const config = linearRegressionConfig(3, 2);
    const graph = buildGradientGraph(buildMlpForward(config, initMlpWeights(config, 3, 'float64')), {
      loss: { kind: 'mse' },
      tracked: ['/linear/Gemm'],
    });
    const targets = features(4, B, 2);
    const outputs = await run(graph.model, { features: features(12, B, 3), targets });
    const y = values(outputs.outputs);
    const t = values(targets);
    for (let b = 0; b < B; b++)
      expect(values(outputs.loss)[b]).toBeCloseTo((y[2 * b] - t[2 * b]) ** 2 + (y[2 * b + 1] - t[2 * b + 1]) ** 2, 12);
    expectClose(
      values(outputs[graph.layers[0].gradientOutput]),
      y.map((v, k) => 2 * (v - t[k])),
      1e-12,
    );
    expect(graph.outputs.tokenLogLikelihoods).toBeNull();
  });
});

describe('choosing tracked layers', () => {
  it('the default pattern takes MLP projections and leaves attention out', () => {
    const tracked = [
      '/h.0/mlp/c_fc/MatMul',
      '/h.11/mlp/c_proj/MatMul',
      '/fc1/Gemm',
      '/model/layers.3/mlp/down_proj/MatMul',
      '/up/MatMul',
      '/block/ffn/w2/MatMul',
    ];
    const untracked = [
      '/h.0/attn/c_proj/MatMul',
      '/h.0/attn/c_attn/MatMul',
      '/model/layers.3/self_attn/o_proj/MatMul',
      '/lm_head/MatMul',
      '/h.0/attn/MatMul',
    ];
    for (const name of tracked) expect(DEFAULT_TRACKED.test(name), name).toBe(true);
    for (const name of untracked) expect(DEFAULT_TRACKED.test(name), name).toBe(false);
  });

  it('names what is wrong with a requested layer, or that none matched', () => {
    const model = buildMlpForward(classifier, initMlpWeights(classifier, 5, 'float64'));
    expect(() => buildGradientGraph(model, { loss: { kind: 'cross-entropy' }, tracked: ['/fc9/Gemm'] })).toThrow(
      'tracked layer "/fc9/Gemm": no node of that name',
    );
    expect(() => buildGradientGraph(model, { loss: { kind: 'cross-entropy' }, tracked: ['/Tanh'] })).toThrow(
      'tracked layer "/Tanh" cannot be tracked: it is a Tanh, not a MatMul or Gemm',
    );
    expect(() => buildGradientGraph(model, { loss: { kind: 'cross-entropy' }, tracked: /attention/ })).toThrow(
      /no tracked layer: .*candidates: Gemm "\/fc1\/Gemm"/,
    );
  });
});

describe('errors before anything runs', () => {
  function modelWith(op: string, domain = '') {
    const b = new GraphBuilder('main_graph');
    const x = b.input('features', DataType.FLOAT, ['batch', 4]);
    const w = b.initializer('fc1.weight', [4, 3], new Float32Array(12).fill(0.1));
    const hidden = b.op1('MatMul', [x, w], {}, { name: '/fc1/MatMul' });
    const strange = b.op1(op, [hidden], {}, { name: '/head/strange', domain });
    // Unsupported ops on a constant side path, or whose result is only measured (Shape), need no VJP.
    const sidePath = b.op1('Cos', [b.constant(DataType.FLOAT, [3], [1, 2, 3])]);
    const measured = b.op1('Shape', [b.op1('Sin', [hidden])]);
    b.op1('Add', [b.op1('Reshape', [strange, measured]), sidePath], {}, { outputs: ['logits'] });
    b.output('logits', DataType.FLOAT, ['batch', 3]);
    return b.build({ opset: 17, extraOpsets: domain ? [{ domain, version: 1 }] : [] });
  }

  it('an op without a VJP on the gradient path is named with its node', () => {
    expect(() => buildGradientGraph(modelWith('Atan'), { loss: { kind: 'cross-entropy' } })).toThrow(
      /^unsupported op "Atan" at node "\/head\/strange" \(on the gradient path/,
    );
    expect(() =>
      buildGradientGraph(modelWith('BiasSoftmax', 'com.microsoft'), { loss: { kind: 'cross-entropy' } }),
    ).toThrow('unsupported op "com.microsoft.BiasSoftmax" at node "/head/strange"');
  });

  it('a fused contrib op without a gradient rule is refused in one line saying how to export without it', () => {
    for (const op of ['GroupQueryAttention', 'MultiHeadAttention', 'RotaryEmbedding'])
      expect(() => buildGradientGraph(modelWith(op, 'com.microsoft'), { loss: { kind: 'cross-entropy' } })).toThrow(
        new RegExp(
          `^cannot differentiate com\\.microsoft\\.${op} at node "/head/strange" \\(on the gradient path\\): .*export the model without onnxruntime transformers optimization`,
        ),
      );
  });

  it('the same graph with a supported op builds, although side paths hold a Cos and a measured Sin', () => {
    expect(
      buildGradientGraph(modelWith('Tanh'), { loss: { kind: 'cross-entropy' } }).layers.map((l) => l.nodeName),
    ).toEqual(['/fc1/MatMul']);
  });

  it('rejects opsets below 13 and reserved names', () => {
    const old = modelWith('Tanh');
    expect(() =>
      buildGradientGraph({ ...old, opsetImports: [{ domain: '', version: 11 }] }, { loss: { kind: 'cross-entropy' } }),
    ).toThrow('opset ≥ 13');
    const b = new GraphBuilder('main_graph');
    const x = b.input('labels', DataType.FLOAT, ['batch', 4]);
    b.op1(
      'MatMul',
      [x, b.initializer('fc1.weight', [4, 3], new Float32Array(12))],
      {},
      { outputs: ['logits'], name: '/fc1/MatMul' },
    );
    b.output('logits', DataType.FLOAT, ['batch', 3]);
    expect(() => buildGradientGraph(b.build(), { loss: { kind: 'cross-entropy' } })).toThrow(
      'already has a value named "labels"',
    );
  });

  it('refuses to track a layer that does not reach the loss', () => {
    const b = new GraphBuilder('main_graph');
    const x = b.input('features', DataType.FLOAT, ['batch', 4]);
    const w = b.initializer('fc1.weight', [4, 3], new Float32Array(12));
    b.op1('Gemm', [x, w], { alpha: attr.float(2) }, { name: '/fc1/Gemm', outputs: ['logits'] });
    b.op1('MatMul', [x, b.initializer('fc2.weight', [4, 3], new Float32Array(12))], {}, { name: '/fc2/MatMul' });
    b.output('logits', DataType.FLOAT, ['batch', 3]);
    const model = b.build();
    expect(() => buildGradientGraph(model, { loss: { kind: 'cross-entropy' }, tracked: ['/fc2/MatMul'] })).toThrow(
      'tracked layer MatMul "/fc2/MatMul" does not affect the loss',
    );
  });
});
