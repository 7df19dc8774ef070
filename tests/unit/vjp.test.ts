/**
 * Every VJP against central finite differences, through the whole transform: each case is a small forward graph
 * whose differentiable tensors are initializers; the gradient graph (MSE loss against random targets, parameter
 * gradients on) runs on onnxruntime-web's wasm EP and is compared with (L(θ + h) − L(θ − h)) / 2h.
 * Float64 wherever the wasm EP has a double kernel (h = 1e-6, |error| ≤ 1e-7·max(1, |g|max));
 * float32 for Erf, Gelu and the com.microsoft ops (FastGelu, BiasGelu, Skip(Simplified)LayerNormalization), which it
 * has only in float (h = 1e-2, |error| ≤ 2e-2·max(1, |g|max)).
 */
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../../src/onnx/builder';
import { DataType, type Attribute } from '../../src/onnx/ir';
import { checkParameterGradients, uniform, type FloatName } from './autodiff-harness';

interface Parameter {
  readonly dims: number[];
  /** Values are uniform in [low, high); default [−1, 1). Keep away from kinks (Relu at 0) and domain edges (Log). */
  readonly low?: number;
  readonly high?: number;
}

interface Case {
  readonly name: string;
  readonly params: Record<string, Parameter>;
  readonly build: (b: GraphBuilder, p: Record<string, string>, type: DataType) => string;
  readonly opset?: number;
  readonly type?: FloatName;
  /** The graph imports the com.microsoft domain (onnxruntime's contrib ops). */
  readonly contrib?: boolean;
}

const i64 = (b: GraphBuilder, values: number[]) => b.int64s(values);
const one = (b: GraphBuilder, op: string, inputs: string[], attributes: Record<string, Attribute> = {}) =>
  b.op1(op, inputs, attributes);

const cases: Case[] = [
  {
    name: 'Add, bias broadcast [2,3,4] + [4]',
    params: { a: { dims: [2, 3, 4] }, b: { dims: [4] } },
    build: (b, p) => one(b, 'Add', [p.a, p.b]),
  },
  {
    name: 'Add, both broadcast [1,4] + [3,1]',
    params: { a: { dims: [1, 4] }, b: { dims: [3, 1] } },
    build: (b, p) => one(b, 'Add', [p.a, p.b]),
  },
  {
    name: 'Sub [2,3] − [3]',
    params: { a: { dims: [2, 3] }, b: { dims: [3] } },
    build: (b, p) => one(b, 'Sub', [p.a, p.b]),
  },
  {
    name: 'Mul [2,3] · [2,1]',
    params: { a: { dims: [2, 3] }, b: { dims: [2, 1] } },
    build: (b, p) => one(b, 'Mul', [p.a, p.b]),
  },
  {
    name: 'Div [2,3] / [3]',
    params: { a: { dims: [2, 3] }, b: { dims: [3], low: 0.5, high: 2 } },
    build: (b, p) => one(b, 'Div', [p.a, p.b]),
  },
  {
    name: 'Pow, tensor exponent',
    params: { a: { dims: [2, 3], low: 0.5, high: 2 }, e: { dims: [3], low: 0.5, high: 3 } },
    build: (b, p) => one(b, 'Pow', [p.a, p.e]),
  },
  {
    name: 'Pow, constant exponent 3',
    params: { a: { dims: [5] } },
    build: (b, p, t) => one(b, 'Pow', [p.a, b.scalar(3, t)]),
  },
  { name: 'Neg', params: { a: { dims: [4] } }, build: (b, p) => one(b, 'Neg', [p.a]) },
  { name: 'Exp', params: { a: { dims: [4] } }, build: (b, p) => one(b, 'Exp', [p.a]) },
  { name: 'Log', params: { a: { dims: [4], low: 0.5, high: 3 } }, build: (b, p) => one(b, 'Log', [p.a]) },
  { name: 'Sqrt', params: { a: { dims: [4], low: 0.5, high: 3 } }, build: (b, p) => one(b, 'Sqrt', [p.a]) },
  { name: 'Reciprocal', params: { a: { dims: [4], low: 0.5, high: 3 } }, build: (b, p) => one(b, 'Reciprocal', [p.a]) },
  { name: 'Tanh', params: { a: { dims: [2, 3] } }, build: (b, p) => one(b, 'Tanh', [p.a]) },
  { name: 'Sigmoid', params: { a: { dims: [2, 3] } }, build: (b, p) => one(b, 'Sigmoid', [p.a]) },
  { name: 'Relu', params: { a: { dims: [8] } }, build: (b, p) => one(b, 'Relu', [p.a]) },
  { name: 'Erf (float32)', type: 'float32', params: { a: { dims: [5] } }, build: (b, p) => one(b, 'Erf', [p.a]) },
  {
    name: 'Gelu exact, opset 20 (float32)',
    type: 'float32',
    opset: 20,
    params: { a: { dims: [5], low: -2, high: 2 } },
    build: (b, p) => one(b, 'Gelu', [p.a]),
  },
  {
    name: 'Gelu tanh, opset 20 (float32)',
    type: 'float32',
    opset: 20,
    params: { a: { dims: [5], low: -2, high: 2 } },
    build: (b, p) => one(b, 'Gelu', [p.a], { approximate: attr.string('tanh') }),
  },
  {
    name: 'Softmax axis −1',
    params: { a: { dims: [2, 5] } },
    build: (b, p) => one(b, 'Softmax', [p.a], { axis: attr.int(-1) }),
  },
  {
    name: 'Softmax axis 0',
    params: { a: { dims: [3, 2] } },
    build: (b, p) => one(b, 'Softmax', [p.a], { axis: attr.int(0) }),
  },
  {
    name: 'LogSoftmax',
    params: { a: { dims: [2, 5] } },
    build: (b, p) => one(b, 'LogSoftmax', [p.a], { axis: attr.int(1) }),
  },
  {
    name: 'LayerNormalization over the last axis',
    params: { x: { dims: [2, 3, 4] }, g: { dims: [4] }, h: { dims: [4] } },
    build: (b, p) => one(b, 'LayerNormalization', [p.x, p.g, p.h], { axis: attr.int(-1), epsilon: attr.float(1e-5) }),
  },
  {
    name: 'LayerNormalization over the last two axes (axis = 1), no bias',
    params: { x: { dims: [2, 3, 4] }, g: { dims: [3, 4] } },
    build: (b, p) => one(b, 'LayerNormalization', [p.x, p.g], { axis: attr.int(1) }),
  },
  {
    name: 'ReduceSum axes [1], keepdims 0',
    params: { a: { dims: [2, 3, 4] } },
    build: (b, p) => one(b, 'ReduceSum', [p.a, i64(b, [1])], { keepdims: attr.int(0) }),
  },
  {
    name: 'ReduceSum axes [−1], keepdims 1',
    params: { a: { dims: [2, 3] } },
    build: (b, p) => one(b, 'ReduceSum', [p.a, i64(b, [-1])]),
  },
  {
    name: 'ReduceSum over all axes',
    params: { a: { dims: [2, 3] } },
    build: (b, p) => one(b, 'Unsqueeze', [one(b, 'ReduceSum', [p.a], { keepdims: attr.int(0) }), i64(b, [0])]),
  },
  {
    name: 'ReduceMean opset 17 (axes attribute)',
    params: { a: { dims: [2, 3, 4] } },
    build: (b, p) => one(b, 'ReduceMean', [p.a], { axes: attr.ints([0, 2]), keepdims: attr.int(0) }),
  },
  {
    name: 'ReduceMean opset 18 (axes input)',
    opset: 18,
    params: { a: { dims: [2, 3, 4] } },
    build: (b, p) => one(b, 'ReduceMean', [p.a, i64(b, [2])], { keepdims: attr.int(0) }),
  },
  {
    name: 'MatMul [2,3,4] @ weight [4,5]',
    params: { a: { dims: [2, 3, 4] }, w: { dims: [4, 5] } },
    build: (b, p) => one(b, 'MatMul', [p.a, p.w]),
  },
  {
    name: 'MatMul batched with broadcast [2,2,3,4] @ [2,1,4,3]',
    params: { a: { dims: [2, 2, 3, 4] }, w: { dims: [2, 1, 4, 3] } },
    build: (b, p) => one(b, 'MatMul', [p.a, p.w]),
  },
  {
    name: 'MatMul vector @ matrix',
    params: { a: { dims: [4] }, w: { dims: [4, 3] } },
    build: (b, p) => one(b, 'MatMul', [p.a, p.w]),
  },
  {
    name: 'MatMul matrix @ vector',
    params: { a: { dims: [2, 3, 4] }, w: { dims: [4] } },
    build: (b, p) => one(b, 'MatMul', [p.a, p.w]),
  },
  {
    name: 'Gemm transB, bias [5], alpha/beta',
    params: { a: { dims: [3, 4] }, w: { dims: [5, 4] }, c: { dims: [5] } },
    build: (b, p) =>
      one(b, 'Gemm', [p.a, p.w, p.c], { transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) }),
  },
  {
    name: 'Gemm transA, C [3,1]',
    params: { a: { dims: [4, 3] }, w: { dims: [4, 5] }, c: { dims: [3, 1] } },
    build: (b, p) => one(b, 'Gemm', [p.a, p.w, p.c], { transA: attr.int(1) }),
  },
  {
    name: 'Gemm transA and transB, no C',
    params: { a: { dims: [4, 3] }, w: { dims: [5, 4] } },
    build: (b, p) => one(b, 'Gemm', [p.a, p.w], { transA: attr.int(1), transB: attr.int(1) }),
  },
  { name: 'Reshape', params: { a: { dims: [2, 6] } }, build: (b, p) => one(b, 'Reshape', [p.a, i64(b, [3, -1])]) },
  {
    name: 'Transpose perm',
    params: { a: { dims: [2, 3, 4] } },
    build: (b, p) => one(b, 'Transpose', [p.a], { perm: attr.ints([1, 2, 0]) }),
  },
  { name: 'Transpose default', params: { a: { dims: [2, 3] } }, build: (b, p) => one(b, 'Transpose', [p.a]) },
  {
    name: 'Unsqueeze then Squeeze',
    params: { a: { dims: [2, 3] } },
    build: (b, p) => one(b, 'Squeeze', [one(b, 'Unsqueeze', [p.a, i64(b, [0, 3])]), i64(b, [0])]),
  },
  {
    name: 'Flatten axis 2',
    params: { a: { dims: [2, 3, 2] } },
    build: (b, p) => one(b, 'Flatten', [p.a], { axis: attr.int(2) }),
  },
  {
    name: 'Concat axis 1',
    params: { a: { dims: [2, 1] }, c: { dims: [2, 3] }, d: { dims: [2, 2] } },
    build: (b, p) => one(b, 'Concat', [p.a, p.c, p.d], { axis: attr.int(1) }),
  },
  {
    name: 'Split sizes, one piece unused',
    params: { a: { dims: [2, 6] } },
    build: (b, p) => {
      const [x, , z] = b.op('Split', [p.a, i64(b, [1, 2, 3])], { axis: attr.int(1) }, { outputs: 3 });
      return one(b, 'Concat', [z, x], { axis: attr.int(1) });
    },
  },
  {
    name: 'Slice with negative step and clamped ends',
    params: { a: { dims: [3, 5] } },
    build: (b, p) => one(b, 'Slice', [p.a, i64(b, [-1, 100]), i64(b, [0, -100]), i64(b, [1, 0]), i64(b, [1, -2])]),
  },
  {
    name: 'Gather axis 0 with repeated indices (embedding lookup)',
    params: { table: { dims: [4, 3] } },
    build: (b, p) => one(b, 'Gather', [p.table, b.constant(DataType.INT64, [2, 3], [1, 3, 1, 0, 1, 3])]),
  },
  {
    name: 'Gather axis 0 at opset 13 (one-hot product instead of a scatter)',
    opset: 13,
    params: { table: { dims: [4, 3] } },
    build: (b, p) => one(b, 'Gather', [p.table, b.constant(DataType.INT64, [2, 3], [1, 3, 1, 0, 1, 3])]),
  },
  {
    name: 'Gather axis 1, scalar index',
    params: { a: { dims: [2, 4, 2] } },
    build: (b, p) => one(b, 'Gather', [p.a, b.constant(DataType.INT64, [], [2])], { axis: attr.int(1) }),
  },
  {
    name: 'Where with a broadcast condition',
    params: { a: { dims: [2, 3] }, c: { dims: [3] } },
    build: (b, p) => one(b, 'Where', [b.constant(DataType.BOOL, [2, 1], [1, 0]), p.a, p.c]),
  },
  {
    name: 'Cast to float32 and back (float32 tolerances)',
    type: 'float32',
    params: { a: { dims: [4] } },
    build: (b, p) =>
      one(b, 'Cast', [one(b, 'Cast', [p.a], { to: attr.int(DataType.DOUBLE) })], { to: attr.int(DataType.FLOAT) }),
  },
  {
    name: 'Expand [3,1] → [2,3,4]',
    params: { a: { dims: [3, 1] } },
    build: (b, p) => one(b, 'Expand', [p.a, i64(b, [2, 3, 4])]),
  },
  {
    name: 'CumSum along axis 1',
    params: { a: { dims: [2, 4] } },
    build: (b, p) => one(b, 'CumSum', [p.a, b.constant(DataType.INT64, [], [1])]),
  },
  {
    name: 'CumSum exclusive and reverse, axis −1',
    params: { a: { dims: [3, 4] } },
    build: (b, p) =>
      one(b, 'CumSum', [p.a, b.constant(DataType.INT64, [], [-1])], { exclusive: attr.int(1), reverse: attr.int(1) }),
  },
  {
    name: 'Trilu upper with k = 1 (a causal mask pattern)',
    params: { a: { dims: [2, 3, 3] } },
    build: (b, p) => one(b, 'Trilu', [p.a, b.constant(DataType.INT64, [], [1])]),
  },
  {
    name: 'Trilu lower, no k',
    params: { a: { dims: [3, 4] } },
    build: (b, p) => one(b, 'Trilu', [p.a], { upper: attr.int(0) }),
  },
  { name: 'Sin', params: { a: { dims: [5] } }, build: (b, p) => one(b, 'Sin', [p.a]) },
  { name: 'Cos', params: { a: { dims: [5] } }, build: (b, p) => one(b, 'Cos', [p.a]) },
  {
    name: 'GatherElements axis 1 with repeated indices',
    params: { a: { dims: [2, 3] } },
    build: (b, p) =>
      one(b, 'GatherElements', [p.a, b.constant(DataType.INT64, [2, 4], [0, 2, 2, 1, 1, 1, 0, 2])], {
        axis: attr.int(1),
      }),
  },
  {
    name: 'Einsum bhqd,bhkd->bhqk (attention scores)',
    params: { q: { dims: [1, 2, 3, 4] }, k: { dims: [1, 2, 5, 4] } },
    build: (b, p) => one(b, 'Einsum', [p.q, p.k], { equation: attr.string('bhqd,bhkd->bhqk') }),
  },
  {
    name: 'Einsum i,j->ij (rotary outer product) and ...ij->...ji',
    params: { a: { dims: [3] }, c: { dims: [4] } },
    build: (b, p) =>
      one(b, 'Einsum', [one(b, 'Einsum', [p.a, p.c], { equation: attr.string('i,j->ij') })], {
        equation: attr.string('...ij->...ji'),
      }),
  },
  {
    name: 'Einsum with implicit output ij,jk',
    params: { a: { dims: [2, 3] }, c: { dims: [3, 2] } },
    build: (b, p) => one(b, 'Einsum', [p.a, p.c], { equation: attr.string('ij,jk') }),
  },
  {
    name: 'SimplifiedLayerNormalization (RMSNorm as onnxruntime fuses it)',
    params: { x: { dims: [2, 3, 4] }, scale: { dims: [4] } },
    build: (b, p) => one(b, 'SimplifiedLayerNormalization', [p.x, p.scale], { epsilon: attr.float(1e-5) }),
  },
  {
    name: 'com.microsoft.SkipLayerNormalization with beta and bias, and the sum output used too (float32)',
    type: 'float32',
    contrib: true,
    params: {
      x: { dims: [2, 3, 4] },
      skip: { dims: [2, 3, 4] },
      gamma: { dims: [4] },
      beta: { dims: [4] },
      bias: { dims: [4] },
    },
    build: (b, p) => {
      const [y, , , sum] = b.op(
        'SkipLayerNormalization',
        [p.x, p.skip, p.gamma, p.beta, p.bias],
        { epsilon: attr.float(1e-5) },
        { outputs: 4, domain: 'com.microsoft' },
      );
      return one(b, 'Mul', [y!, sum!]);
    },
  },
  {
    name: 'com.microsoft.SkipSimplifiedLayerNormalization with bias (float32)',
    type: 'float32',
    contrib: true,
    params: { x: { dims: [2, 3, 4] }, skip: { dims: [2, 3, 4] }, gamma: { dims: [4] }, bias: { dims: [4] } },
    build: (b, p) =>
      b.op1(
        'SkipSimplifiedLayerNormalization',
        [p.x, p.skip, p.gamma, p.bias],
        { epsilon: attr.float(1e-5) },
        { domain: 'com.microsoft' },
      ),
  },
  {
    name: 'com.microsoft.FastGelu with bias (float32)',
    contrib: true,
    type: 'float32',
    params: { x: { dims: [2, 4] }, bias: { dims: [4] } },
    build: (b, p) => b.op1('FastGelu', [p.x, p.bias], {}, { domain: 'com.microsoft' }),
  },
  {
    name: 'com.microsoft.BiasGelu (float32)',
    contrib: true,
    type: 'float32',
    params: { a: { dims: [2, 4] }, bias: { dims: [4] } },
    build: (b, p) => b.op1('BiasGelu', [p.a, p.bias], {}, { domain: 'com.microsoft' }),
  },
  { name: 'Dropout in inference mode', params: { a: { dims: [2, 3] } }, build: (b, p) => one(b, 'Dropout', [p.a]) },
  {
    name: 'Identity and a Constant operand',
    params: { a: { dims: [3] } },
    build: (b, p, t) => one(b, 'Mul', [one(b, 'Identity', [p.a]), b.constant(t, [3], [1, -2, 3])]),
  },
  {
    name: 'Sum of three with broadcast',
    params: { a: { dims: [2, 3] }, c: { dims: [3] }, d: { dims: [1] } },
    build: (b, p) => one(b, 'Sum', [p.a, p.c, p.d]),
  },
  {
    name: 'a value with several consumers (accumulation)',
    params: { a: { dims: [4] } },
    build: (b, p) => one(b, 'Add', [one(b, 'Mul', [p.a, p.a]), one(b, 'Tanh', [p.a])]),
  },
  {
    name: 'broadcast against a shape known only at run time (reduction axes computed by the graph)',
    params: { a: { dims: [2, 3] }, c: { dims: [3] } },
    build: (b, p) => {
      // The float round trip hides the shape vector's values from static inference.
      const shape = one(b, 'Cast', [one(b, 'Cast', [i64(b, [1, 3])], { to: attr.int(DataType.FLOAT) })], {
        to: attr.int(DataType.INT64),
      });
      return one(b, 'Mul', [p.a, one(b, 'Reshape', [p.c, shape])]);
    },
  },
  {
    name: 'broadcast shape vector built at run time from Shape, Gather and Concat (inferred statically)',
    params: { a: { dims: [2, 3] }, c: { dims: [3] } },
    build: (b, p) => {
      const columns = one(b, 'Gather', [one(b, 'Shape', [p.a]), i64(b, [1])], { axis: attr.int(0) });
      const shape = one(b, 'Concat', [i64(b, [1]), columns], { axis: attr.int(0) });
      return one(b, 'Mul', [p.a, one(b, 'Reshape', [p.c, shape])]);
    },
  },
];

function buildCase(testCase: Case) {
  const type = testCase.type ?? 'float64';
  const dataType = type === 'float64' ? DataType.DOUBLE : DataType.FLOAT;
  const b = new GraphBuilder('vjp_case');
  const random = uniform(1234);
  const params: Record<string, string> = {};
  for (const [name, { dims, low = -1, high = 1 }] of Object.entries(testCase.params)) {
    const count = dims.reduce((p, d) => p * d, 1);
    const data = Array.from({ length: count }, () => low + (high - low) * random());
    params[name] = b.initializer(name, dims, type === 'float64' ? Float64Array.from(data) : Float32Array.from(data));
  }
  const y = testCase.build(b, params, dataType);
  b.output(y, dataType, null);
  const extraOpsets = testCase.contrib ? [{ domain: 'com.microsoft', version: 1 }] : [];
  return { model: b.build({ opset: testCase.opset ?? 17, extraOpsets }), type };
}

describe('VJPs against central finite differences', () => {
  for (const testCase of cases) {
    it(testCase.name, async () => {
      const { model, type } = buildCase(testCase);
      const step = type === 'float64' ? 1e-6 : 1e-2;
      const tolerance = type === 'float64' ? 1e-7 : 2e-2;
      const check = await checkParameterGradients(model, Object.keys(testCase.params), {}, step);
      expect(check.checked).toBeGreaterThan(0);
      expect(check.maxError).toBeLessThanOrEqual(tolerance * Math.max(1, check.scale));
    });
  }
});
