/**
 * The linear layer in the spellings exporters use, each against MatMul + Add(bias) with the same function (float64):
 * Gemm with transB = 1 on an nn.Linear weight, Gemm with transA = 1 on a transposed input, Gemm with alpha ≠ 1 on
 * the weight scaled by 1/alpha, and MatMul on a Transpose node of the weight (the dynamo exporter's form). The
 * tracked layer's a and g must be those whose outer product is the gradient of the weight the graph stores:
 * alpha·x for alpha (so a layer that forgot alpha would fail), x itself otherwise.
 */
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../../src/onnx/builder';
import { buildGradientGraph, type GradientGraph } from '../../src/onnx/gradient-graph';
import { DataType, type Model } from '../../src/onnx/ir';
import { run, uniform, values } from './autodiff-harness';

const [B, IN, OUT] = [5, 4, 3];
const random = uniform(7);
const W = Float64Array.from({ length: IN * OUT }, () => random() - 0.5); // [IN, OUT]
const WT = Float64Array.from({ length: IN * OUT }, (_, k) => W[(k % IN) * OUT + Math.floor(k / IN)]!); // [OUT, IN]
const BIAS = Float64Array.from({ length: OUT }, () => random() - 0.5);
const X = Float64Array.from({ length: B * IN }, () => 2 * random() - 1);
const LABELS = BigInt64Array.from([0, 2, 1, 1, 0].map(BigInt));
const ALPHA = 0.5;

type Form = 'matmul' | 'transB' | 'transA' | 'alpha' | 'transposeNode' | 'beta';

function model(form: Form): Model {
  const b = new GraphBuilder('main_graph');
  const x = b.input('features', DataType.DOUBLE, ['batch', IN]);
  const bias = b.initializer('fc.bias', [OUT], BIAS);
  const name = { name: '/fc/Linear', outputs: ['logits'] };
  if (form === 'matmul') {
    const product = b.op1('MatMul', [x, b.initializer('fc.weight', [IN, OUT], W)], {}, { name: '/fc/Linear' });
    b.op1('Add', [product, bias], {}, { outputs: ['logits'] });
  } else if (form === 'transposeNode') {
    const weight = b.op1('Transpose', [b.initializer('fc.weight', [OUT, IN], WT)], { perm: attr.ints([1, 0]) });
    const product = b.op1('MatMul', [x, weight], {}, { name: '/fc/Linear' });
    b.op1('Add', [product, bias], {}, { outputs: ['logits'] });
  } else if (form === 'transB') {
    b.op1('Gemm', [x, b.initializer('fc.weight', [OUT, IN], WT), bias], { transB: attr.int(1) }, name);
  } else if (form === 'transA') {
    const columns = b.op1('Transpose', [x], { perm: attr.ints([1, 0]) });
    b.op1('Gemm', [columns, b.initializer('fc.weight', [IN, OUT], W), bias], { transA: attr.int(1) }, name);
  } else if (form === 'alpha') {
    const scaled = W.map((w) => w / ALPHA);
    b.op1('Gemm', [x, b.initializer('fc.weight', [IN, OUT], scaled), bias], { alpha: attr.float(ALPHA) }, name);
  } else {
    const half = BIAS.map((v) => 2 * v);
    const weight = b.initializer('fc.weight', [IN, OUT], W);
    b.op1('Gemm', [x, weight, b.initializer('fc.scaled_bias', [OUT], half)], { beta: attr.float(0.5) }, name);
  }
  b.output('logits', DataType.DOUBLE, ['batch', OUT]);
  return b.build();
}

async function layerOutputs(form: Form): Promise<{ graph: GradientGraph; a: number[]; g: number[]; loss: number[] }> {
  const graph = buildGradientGraph(model(form), { loss: { kind: 'cross-entropy' }, tracked: ['/fc/Linear'] });
  const outputs = await run(graph.model, {
    features: new ort.Tensor('float64', X, [B, IN]),
    labels: new ort.Tensor('int64', LABELS, [B]),
  });
  const layer = graph.layers[0]!;
  return {
    graph,
    a: values(outputs[layer.activationOutput]!),
    g: values(outputs[layer.gradientOutput]!),
    loss: values(outputs[graph.outputs.loss]!),
  };
}

describe('Gemm and transposed-weight linears track the weight they store', () => {
  it.each(['transB', 'transA', 'alpha', 'transposeNode', 'beta'] as const)('%s', async (form) => {
    const reference = await layerOutputs('matmul');
    const got = await layerOutputs(form);
    const close = (x: number[], y: number[]) => x.forEach((v, i) => expect(v).toBeCloseTo(y[i]!, 14));
    close(got.loss, reference.loss);
    close(got.g, reference.g);
    close(got.a, form === 'alpha' ? reference.a.map((v) => ALPHA * v) : reference.a);
    const layer = got.graph.layers[0]!;
    expect([layer.dIn, layer.dOut]).toEqual([IN, OUT]);
    expect(layer.weightLayout).toBe(form === 'transB' || form === 'transposeNode' ? 'out-in' : 'in-out');
    // A bias scaled by beta ≠ 1 is not the gradient Σ g: it is left out of the tracked parameters.
    expect(layer.hasBias).toBe(form !== 'beta');
  });
});
