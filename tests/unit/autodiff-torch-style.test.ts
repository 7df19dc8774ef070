/**
 * A GPT-2 graph spelled the way torch.onnx (opset 17) exports Hugging Face's GPT2LMHeadModel, which our own model
 * builder does not imitate in every detail: Conv1D as Reshape → Gemm(addmm) → Reshape with shapes computed by
 * Shape/Gather/Slice/Concat at run time; heads split with a run-time Reshape; a bool causal-mask buffer sliced to the
 * sequence length; an additive float padding mask computed from the int64 attention_mask; the score scale as
 * Sqrt(Cast(Shape)); lm_head as MatMul with a run-time Transpose of its weight. Its gradients must equal the
 * plain-TypeScript reference's, and its tracked layers must still yield [B, T, d] rows.
 */
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../../src/onnx/builder';
import { buildGradientGraph, nextTokenTargets } from '../../src/onnx/gradient-graph';
import { DataType, type Model } from '../../src/onnx/ir';
import { run, uniform, values } from './autodiff-harness';
import { gptReference, type GptShape } from './gpt-reference';

const shape: GptShape = { vocabSize: 9, dModel: 8, nLayer: 1, nHead: 2, dMlp: 12, layerNormEpsilon: 1e-5 };
const maxPositions = 8;
const { dModel: D, nHead: H, dMlp: F, vocabSize: V } = shape;
const MIN = -Number.MAX_VALUE;

function parameterDims(): [string, number[]][] {
  const dims: [string, number[]][] = [
    ['wte.weight', [V, D]],
    ['wpe.weight', [maxPositions, D]],
  ];
  for (let l = 0; l < shape.nLayer; l++) {
    const h = `h.${l}`;
    dims.push(
      [`${h}.ln_1.weight`, [D]],
      [`${h}.ln_1.bias`, [D]],
      [`${h}.attn.c_attn.weight`, [D, 3 * D]],
      [`${h}.attn.c_attn.bias`, [3 * D]],
      [`${h}.attn.c_proj.weight`, [D, D]],
      [`${h}.attn.c_proj.bias`, [D]],
      [`${h}.ln_2.weight`, [D]],
      [`${h}.ln_2.bias`, [D]],
      [`${h}.mlp.c_fc.weight`, [D, F]],
      [`${h}.mlp.c_fc.bias`, [F]],
      [`${h}.mlp.c_proj.weight`, [F, D]],
      [`${h}.mlp.c_proj.bias`, [D]],
    );
  }
  dims.push(['ln_f.weight', [D]], ['ln_f.bias', [D]], ['lm_head.weight', [V, D]]);
  return dims;
}

function torchStyleGpt(params: Map<string, Float64Array>): Model {
  const b = new GraphBuilder('main_graph');
  const ids = b.input('input_ids', DataType.INT64, ['batch', 'sequence']);
  const mask = b.input('attention_mask', DataType.INT64, ['batch', 'sequence']);
  const dims = new Map(parameterDims());
  const p = (name: string) => (b.hasValue(name) ? name : b.initializer(name, dims.get(name)!, params.get(name)!));
  const op = (
    type: string,
    inputs: string[],
    attributes: Record<string, ReturnType<typeof attr.int>> = {},
    name?: string,
  ) => b.op1(type, inputs, attributes, name ? { name } : {});
  const i64 = (values: number[]) => b.int64s(values);
  const scalarI64 = (value: number) => b.constant(DataType.INT64, [], [value]);
  const f64 = (value: number) => b.constant(DataType.DOUBLE, [], [value]);

  const idsShape = op('Shape', [ids]);
  const batch = op('Unsqueeze', [op('Gather', [idsShape, scalarI64(0)], { axis: attr.int(0) }), i64([0])]);
  const seqScalar = op('Gather', [idsShape, scalarI64(1)], { axis: attr.int(0) });
  const seq = op('Unsqueeze', [seqScalar, i64([0])]);
  const positions = op('Unsqueeze', [op('Range', [scalarI64(0), seqScalar, scalarI64(1)]), i64([0])]);
  let hidden = op('Add', [
    op('Gather', [p('wte.weight'), ids], {}, '/transformer/wte/Gather'),
    op('Gather', [p('wpe.weight'), positions], {}, '/transformer/wpe/Gather'),
  ]);
  // Extended attention mask: (1 − mask[:, None, None, :]) · finfo.min, a float computed from integers only.
  const keyMask = op('Cast', [op('Unsqueeze', [mask, i64([1, 2])])], { to: attr.int(DataType.DOUBLE) });
  const additiveMask = op('Mul', [op('Sub', [f64(1), keyMask]), f64(MIN)]);
  const causalBuffer = b.initializer({
    name: 'h.0.attn.bias',
    dataType: DataType.BOOL,
    dims: [1, 1, maxPositions, maxPositions],
    data: Uint8Array.from({ length: maxPositions ** 2 }, (_, k) =>
      k % maxPositions <= Math.floor(k / maxPositions) ? 1 : 0,
    ),
  });

  const conv1d = (x: string, prefix: string, path: string, dOut: number) => {
    const xShape = op('Shape', [x]);
    const flat = op('Reshape', [
      x,
      op('Concat', [i64([-1]), op('Gather', [xShape, i64([-1])], { axis: attr.int(0) })], { axis: attr.int(0) }),
    ]);
    const y = op(
      'Gemm',
      [flat, p(`${prefix}.weight`), p(`${prefix}.bias`)],
      { alpha: attr.float(1), beta: attr.float(1) },
      `${path}/Gemm`,
    );
    const outShape = op('Concat', [op('Slice', [xShape, i64([0]), i64([-1])]), i64([dOut])], { axis: attr.int(0) });
    return op('Reshape', [y, outShape]);
  };
  const layerNorm = (x: string, prefix: string, path: string) =>
    op(
      'LayerNormalization',
      [x, p(`${prefix}.weight`), p(`${prefix}.bias`)],
      { axis: attr.int(-1), epsilon: attr.float(shape.layerNormEpsilon) },
      `${path}/LayerNormalization`,
    );

  for (let l = 0; l < shape.nLayer; l++) {
    const h = `h.${l}`;
    const path = `/transformer/h.${l}`;
    const normed1 = layerNorm(hidden, `${h}.ln_1`, `${path}/ln_1`);
    const qkv = conv1d(normed1, `${h}.attn.c_attn`, `${path}/attn/c_attn`, 3 * D);
    const [q, k, v] = b.op('Split', [qkv, i64([D, D, D])], { axis: attr.int(2) }, { outputs: 3 });
    const headShape = op('Concat', [batch, seq, i64([H, D / H])], { axis: attr.int(0) });
    const heads = (x: string) => op('Transpose', [op('Reshape', [x, headShape])], { perm: attr.ints([0, 2, 1, 3]) });
    const [query, key, value] = [heads(q), heads(k), heads(v)];
    const scale = op('Sqrt', [
      op('Cast', [op('Gather', [op('Shape', [value]), scalarI64(3)], { axis: attr.int(0) })], {
        to: attr.int(DataType.DOUBLE),
      }),
    ]);
    const scores = op('Div', [op('MatMul', [query, op('Transpose', [key], { perm: attr.ints([0, 1, 3, 2]) })]), scale]);
    const causal = op('Slice', [
      op('Slice', [causalBuffer, op('Sub', [seq, seq]), seq, i64([2])]),
      i64([0]),
      seq,
      i64([3]),
    ]);
    const masked = op('Add', [op('Where', [causal, scores, f64(MIN)]), additiveMask]);
    const probs = op('Softmax', [masked], { axis: attr.int(-1) });
    const context = op('Transpose', [op('MatMul', [probs, value])], { perm: attr.ints([0, 2, 1, 3]) });
    const merged = op('Reshape', [context, op('Concat', [batch, seq, i64([D])], { axis: attr.int(0) })]);
    const residual1 = op('Add', [hidden, conv1d(merged, `${h}.attn.c_proj`, `${path}/attn/c_proj`, D)]);
    const normed2 = layerNorm(residual1, `${h}.ln_2`, `${path}/ln_2`);
    const up = conv1d(normed2, `${h}.mlp.c_fc`, `${path}/mlp/c_fc`, F);
    // NewGELUActivation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    const inner = op('Tanh', [
      op('Mul', [f64(Math.sqrt(2 / Math.PI)), op('Add', [up, op('Mul', [f64(0.044715), op('Pow', [up, f64(3)])])])]),
    ]);
    const activated = op('Mul', [op('Mul', [f64(0.5), up]), op('Add', [f64(1), inner])]);
    hidden = op('Add', [residual1, conv1d(activated, `${h}.mlp.c_proj`, `${path}/mlp/c_proj`, D)]);
  }
  const final = layerNorm(hidden, 'ln_f', '/transformer/ln_f');
  b.op(
    'MatMul',
    [final, op('Transpose', [p('lm_head.weight')], { perm: attr.ints([1, 0]) })],
    {},
    { name: '/lm_head/MatMul', outputs: ['logits'] },
  );
  b.output('logits', DataType.DOUBLE, ['batch', 'sequence', V]);
  return b.build({ opset: 17 });
}

describe('a torch.onnx-style GPT-2 graph', () => {
  it('differentiates to the reference gradients, with [B, T, d] rows at Reshape → Gemm layers', async () => {
    const random = uniform(31);
    const params = new Map(
      parameterDims().map(([name, d]) => [
        name,
        Float64Array.from({ length: d.reduce((x, y) => x * y, 1) }, () => (random() * 2 - 1) * 0.6),
      ]),
    );
    const graph = buildGradientGraph(torchStyleGpt(params), {
      loss: { kind: 'token-cross-entropy' },
      parameterGradients: true,
    });
    // Shape vectors computed at run time are still inferred statically: no broadcast needs run-time reduction axes.
    expect(graph.model.graph.nodes.filter((n) => n.opType === 'NonZero')).toEqual([]);
    expect(graph.layers.map((l) => [l.nodeName, l.opType, l.weightName, l.biasName])).toEqual([
      ['/transformer/h.0/mlp/c_fc/Gemm', 'Gemm', 'h.0.mlp.c_fc.weight', 'h.0.mlp.c_fc.bias'],
      ['/transformer/h.0/mlp/c_proj/Gemm', 'Gemm', 'h.0.mlp.c_proj.weight', 'h.0.mlp.c_proj.bias'],
    ]);

    const [B, T] = [2, 5];
    const inputIds = [4, 1, 7, 2, 8, 6, 3, 5, 0, 0];
    const attentionMask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
    const targets = nextTokenTargets(inputIds, [B, T], [2, 1], [5, 3], 'float64');
    const outputs = await run(graph.model, {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(inputIds, BigInt), [B, T]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(attentionMask, BigInt), [B, T]),
      labels: new ort.Tensor('int64', targets.labels, [B, T]),
      loss_mask: new ort.Tensor('float64', targets.lossMask as Float64Array, [B, T]),
    });
    const reference = gptReference(shape, params, {
      batch: B,
      sequence: T,
      inputIds,
      attentionMask,
      labels: Array.from(targets.labels, Number),
      lossMask: Array.from(targets.lossMask),
    });

    const close = (actual: number[], expected: ArrayLike<number>, what: string) => {
      const scale = Math.max(1, ...Array.from(expected, Math.abs));
      actual.forEach((x, i) => expect(Math.abs(x - expected[i]), `${what}[${i}]`).toBeLessThan(1e-9 * scale));
    };
    close(values(outputs[graph.outputs.loss]), reference.loss, 'loss');
    for (const [name, expected] of reference.gradients)
      close(values(outputs[graph.outputs.parameterGradients!.get(name)!]), expected, name);
    const [fc, proj] = graph.layers;
    expect(outputs[fc.activationOutput].dims).toEqual([B, T, D]);
    expect(outputs[proj.gradientOutput].dims).toEqual([B, T, D]);
    close(values(outputs[fc.activationOutput]), reference.mlp[0].cFcInput, 'c_fc a');
    close(values(outputs[fc.gradientOutput]), reference.mlp[0].cFcOutputGrad, 'c_fc g');
    close(values(outputs[proj.activationOutput]), reference.mlp[0].cProjInput, 'c_proj a');
    close(values(outputs[proj.gradientOutput]), reference.mlp[0].cProjOutputGrad, 'c_proj g');
  });
});
