/**
 * Whole-model gradients of the GPT-style LM (src/models/gpt.ts, float64, tanh GELU) from the gradient graph on
 * onnxruntime-web's wasm EP, against the independent plain-TypeScript forward/backward in gpt-reference.ts; the
 * tracked layers' a and g against the reference; Σ_t g aᵀ against the weight gradients; padding invariance.
 */
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGptForward, gptParameters } from '../../src/models/gpt';
import { buildGradientGraph, nextTokenTargets, type GradientGraph } from '../../src/onnx/gradient-graph';
import { serializeModel } from '../../src/onnx/protobuf';
import { uniform, values } from './autodiff-harness';
import { gptReference, type GptBatch } from './gpt-reference';
import { tinyGpt } from '../helpers/tiny-gpt';

ort.env.wasm.numThreads = 1;

const config = tinyGpt({ vocabSize: 11, maxPositions: 8, nLayer: 2 });

/** Random weights everywhere (non-zero biases, LayerNorm scales far from 1) so that every gradient term matters. */
function randomWeights(seed: number) {
  const random = uniform(seed);
  const weights: Record<string, { dims: number[]; data: Float64Array }> = {};
  for (const [name, dims] of gptParameters(config)) {
    const count = dims.reduce((p, d) => p * d, 1);
    weights[name] = { dims, data: Float64Array.from({ length: count }, () => (random() * 2 - 1) * 0.6) };
  }
  return weights;
}

const weights = randomWeights(99);
const parameterValues = new Map(Object.entries(weights).map(([name, w]) => [name, w.data]));

/** Right-padded rows → the gradient graph's feeds and the reference's batch. */
function makeBatch(rows: { ids: number[]; promptLength: number }[], sequence: number) {
  const B = rows.length;
  const inputIds = new Array<number>(B * sequence).fill(0);
  const attentionMask = new Array<number>(B * sequence).fill(0);
  rows.forEach((row, b) =>
    row.ids.forEach((id, t) => ((inputIds[b * sequence + t] = id), (attentionMask[b * sequence + t] = 1))),
  );
  const targets = nextTokenTargets(
    inputIds,
    [B, sequence],
    rows.map((r) => r.promptLength),
    rows.map((r) => r.ids.length),
    'float64',
  );
  const batch: GptBatch = {
    batch: B,
    sequence,
    inputIds,
    attentionMask,
    labels: Array.from(targets.labels, Number),
    lossMask: Array.from(targets.lossMask),
  };
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(inputIds, BigInt), [B, sequence]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(attentionMask, BigInt), [B, sequence]),
    labels: new ort.Tensor('int64', targets.labels, [B, sequence]),
    loss_mask: new ort.Tensor('float64', targets.lossMask as Float64Array, [B, sequence]),
  };
  return { batch, feeds };
}

const rows = [
  { ids: [3, 7, 1, 9, 4, 2], promptLength: 2 },
  { ids: [5, 8, 10, 6], promptLength: 1 },
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
}

describe('GPT gradient graph against the plain-TypeScript reference (float64)', () => {
  let graph: GradientGraph;
  let session: ort.InferenceSession;
  let outputs: Record<string, ort.Tensor>;
  const { batch, feeds } = makeBatch(rows, 6);
  const reference = gptReference(config, parameterValues, batch);

  beforeAll(async () => {
    graph = buildGradientGraph(buildGptForward(config, weights), {
      loss: { kind: 'token-cross-entropy' },
      parameterGradients: true,
    });
    session = await ort.InferenceSession.create(serializeModel(graph.model), { executionProviders: ['wasm'] });
    outputs = await session.run(feeds);
  }, 120_000); // session creation (ORT's wasm start-up and graph optimisation) is slow on a loaded 2-core machine

  it('tracks the MLP projections by default, naming node and weight', () => {
    expect(graph.layers.map((l) => [l.nodeName, l.weightName, l.dIn, l.dOut, l.biasName])).toEqual([
      ['/h.0/mlp/c_fc/MatMul', 'h.0.mlp.c_fc.weight', 8, 16, 'h.0.mlp.c_fc.bias'],
      ['/h.0/mlp/c_proj/MatMul', 'h.0.mlp.c_proj.weight', 16, 8, 'h.0.mlp.c_proj.bias'],
      ['/h.1/mlp/c_fc/MatMul', 'h.1.mlp.c_fc.weight', 8, 16, 'h.1.mlp.c_fc.bias'],
      ['/h.1/mlp/c_proj/MatMul', 'h.1.mlp.c_proj.weight', 16, 8, 'h.1.mlp.c_proj.bias'],
    ]);
  });

  it('computes the same logits, per-example loss and per-token log-likelihoods', () => {
    expect(maxAbsDiff(values(outputs.logits), reference.logits)).toBeLessThan(1e-10);
    expect(maxAbsDiff(values(outputs[graph.outputs.loss]), reference.loss)).toBeLessThan(1e-10);
    expect(maxAbsDiff(values(outputs[graph.outputs.tokenLogLikelihoods!]), reference.tokenLogLikelihood)).toBeLessThan(
      1e-10,
    );
  });

  it('computes the same gradient for every parameter', () => {
    const gradients = graph.outputs.parameterGradients!;
    for (const [name] of gptParameters(config)) {
      let expected = reference.gradients.get(name)!;
      let initializer = name;
      if (name === 'lm_head.weight') {
        // The MatMul path stores lm_head transposed ([d_model, vocab]) as 'lm_head.weight.T'.
        initializer = 'lm_head.weight.T';
        const { vocabSize: V, dModel: D } = config;
        expected = Float64Array.from(
          { length: V * D },
          (_, k) => reference.gradients.get(name)![(k % V) * D + Math.floor(k / V)],
        );
      }
      const actual = values(outputs[gradients.get(initializer)!]);
      expect(maxAbs(expected), name).toBeGreaterThan(1e-6);
      expect(maxAbsDiff(actual, expected), name).toBeLessThan(1e-9 * Math.max(1, maxAbs(expected)));
    }
  });

  it('outputs the same activations a and output gradients g at every tracked layer', () => {
    graph.layers.forEach((layer, index) => {
      const trace = reference.mlp[Math.floor(index / 2)];
      const [a, g] =
        index % 2 === 0 ? [trace.cFcInput, trace.cFcOutputGrad] : [trace.cProjInput, trace.cProjOutputGrad];
      expect(outputs[layer.activationOutput].dims).toEqual([2, 6, layer.dIn]);
      expect(outputs[layer.gradientOutput].dims).toEqual([2, 6, layer.dOut]);
      expect(maxAbsDiff(values(outputs[layer.activationOutput]), a)).toBeLessThan(1e-11);
      expect(maxAbsDiff(values(outputs[layer.gradientOutput]), g)).toBeLessThan(1e-11);
    });
  });

  it('Σ_t g aᵀ equals the weight gradient and Σ_t g the bias gradient of every tracked layer', () => {
    for (const layer of graph.layers) {
      const a = values(outputs[layer.activationOutput]);
      const g = values(outputs[layer.gradientOutput]);
      const rowsCount = a.length / layer.dIn;
      const weightGrad = new Float64Array(layer.dIn * layer.dOut);
      const biasGrad = new Float64Array(layer.dOut);
      for (let r = 0; r < rowsCount; r++) {
        for (let o = 0; o < layer.dOut; o++) {
          biasGrad[o] += g[r * layer.dOut + o];
          for (let i = 0; i < layer.dIn; i++)
            weightGrad[i * layer.dOut + o] += a[r * layer.dIn + i] * g[r * layer.dOut + o];
        }
      }
      expect(layer.weightLayout).toBe('in-out');
      const gradients = graph.outputs.parameterGradients!;
      expect(maxAbsDiff(weightGrad, values(outputs[gradients.get(layer.weightName)!]))).toBeLessThan(
        1e-12 * Math.max(1, maxAbs(weightGrad)),
      );
      expect(maxAbsDiff(biasGrad, values(outputs[gradients.get(layer.biasName!)!]))).toBeLessThan(
        1e-12 * Math.max(1, maxAbs(biasGrad)),
      );
    }
  });

  it('padding changes no example: each row alone, unpadded, gives the same outputs, and g is 0 on padding', async () => {
    for (let row = 0; row < rows.length; row++) {
      const length = rows[row].ids.length;
      const alone = await session.run(makeBatch([rows[row]], length).feeds);
      const slice = (tensor: ort.Tensor, width: number) =>
        values(tensor).slice(row * 6 * width, (row * 6 + length) * width);
      expect(Math.abs(values(alone[graph.outputs.loss])[0] - values(outputs[graph.outputs.loss])[row])).toBeLessThan(
        1e-12,
      );
      expect(
        maxAbsDiff(
          values(alone[graph.outputs.tokenLogLikelihoods!]),
          slice(outputs[graph.outputs.tokenLogLikelihoods!], 1),
        ),
      ).toBeLessThan(1e-12);
      for (const layer of graph.layers) {
        expect(
          maxAbsDiff(values(alone[layer.activationOutput]), slice(outputs[layer.activationOutput], layer.dIn)),
        ).toBeLessThan(1e-12);
        expect(
          maxAbsDiff(values(alone[layer.gradientOutput]), slice(outputs[layer.gradientOutput], layer.dOut)),
        ).toBeLessThan(1e-12);
        const padded = values(outputs[layer.gradientOutput]).slice(
          (row * 6 + length) * layer.dOut,
          (row + 1) * 6 * layer.dOut,
        );
        expect(padded.every((v) => v === 0)).toBe(true);
      }
    }
  });
});
