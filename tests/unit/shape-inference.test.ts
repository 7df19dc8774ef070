/**
 * Static shape inference (src/onnx/autodiff/shapes.ts over the op registry) for the ops exporters write in modern
 * decoders, on graphs with symbolic dims and no value_info: rank, element type and dims where knowable. Unknown
 * parts must be null, never a guess.
 */
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../../src/onnx/builder';
import { inferFacts } from '../../src/onnx/autodiff/shapes';
import { DataType, type Attribute, type Graph } from '../../src/onnx/ir';

function graph(build: (b: GraphBuilder, x: string, ids: string) => void, opset = 17): Graph {
  const b = new GraphBuilder('g');
  const x = b.input('x', DataType.FLOAT, ['batch', 'seq', 8]);
  const ids = b.input('ids', DataType.INT64, ['batch', 'seq']);
  build(b, x, ids);
  b.output(x, DataType.FLOAT, ['batch', 'seq', 8]);
  return b.build({ opset }).graph;
}

/** Facts of the value `pick` returns, in a graph built by `build`. */
function factsOf(build: (b: GraphBuilder, x: string, ids: string) => string, opset = 17) {
  let name = '';
  const g = graph((b, x, ids) => void (name = build(b, x, ids)), opset);
  return inferFacts(g, opset).facts(name);
}

const op = (b: GraphBuilder, type: string, inputs: string[], attributes: Record<string, Attribute> = {}) =>
  b.op1(type, inputs, attributes);

describe('ranks, types and dims without value_info', () => {
  it('Cast to every type keeps the dims; comparisons and logic give bool', () => {
    for (const to of [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.INT64, DataType.INT32, DataType.BOOL])
      expect(factsOf((b, x) => op(b, 'Cast', [x], { to: attr.int(to) }))).toEqual({
        type: to,
        dims: ['batch', 'seq', 8],
      });
    for (const type of ['Equal', 'Less', 'Greater', 'And'])
      expect(factsOf((b, _x, ids) => op(b, type, [ids, b.int64s([0])]))).toEqual({
        type: DataType.BOOL,
        dims: ['batch', 'seq'],
      });
    expect(factsOf((b, _x, ids) => op(b, 'Not', [op(b, 'Equal', [ids, b.int64s([0])])])).dims).toEqual([
      'batch',
      'seq',
    ]);
  });

  it('position ids from CumSum of the mask, a causal mask from Trilu, Where and Expand', () => {
    expect(factsOf((b, _x, ids) => op(b, 'CumSum', [ids, b.constant(DataType.INT64, [], [1])]))).toEqual({
      type: DataType.INT64,
      dims: ['batch', 'seq'],
    });
    const causal = (b: GraphBuilder, ids: string) => {
      const seq = op(b, 'Gather', [op(b, 'Shape', [ids]), b.int64s([1])]);
      const square = op(b, 'ConstantOfShape', [op(b, 'Concat', [seq, seq], { axis: attr.int(0) })], {
        value: attr.tensor({ name: '', dataType: DataType.FLOAT, dims: [1], data: new Float32Array([-1e9]) }),
      });
      return op(b, 'Trilu', [square, b.constant(DataType.INT64, [], [1])]);
    };
    expect(factsOf((b, _x, ids) => causal(b, ids))).toEqual({ type: DataType.FLOAT, dims: ['seq', 'seq'] });
    const batch = (b: GraphBuilder, ids: string) => op(b, 'Gather', [op(b, 'Shape', [ids]), b.int64s([0])]);
    expect(
      factsOf((b, _x, ids) => {
        const shape = op(b, 'Concat', [batch(b, ids), b.int64s([1, 1, 1])], { axis: attr.int(0) });
        return op(b, 'Expand', [op(b, 'Unsqueeze', [causal(b, ids), b.int64s([0, 1])]), shape]);
      }).dims,
    ).toEqual(['batch', 1, 'seq', 'seq']);
    expect(
      factsOf((b, _x, ids) => {
        const padding = op(b, 'Unsqueeze', [op(b, 'Equal', [ids, b.int64s([0])]), b.int64s([1, 2])]);
        return op(b, 'Where', [padding, b.scalar(-1e9), op(b, 'Unsqueeze', [causal(b, ids), b.int64s([0, 1])])]);
      }),
    ).toEqual({ type: DataType.FLOAT, dims: ['batch', 1, 'seq', 'seq'] });
  });

  it('Range, ConstantOfShape, Shape (start/end) and Size', () => {
    expect(
      factsOf((b, _x, ids) => {
        const seq = op(b, 'Squeeze', [op(b, 'Shape', [ids], { start: attr.int(1) }), b.int64s([0])]);
        return op(b, 'Range', [b.constant(DataType.INT64, [], [0]), seq, b.constant(DataType.INT64, [], [1])]);
      }),
    ).toEqual({ type: DataType.INT64, dims: ['seq'] });
    expect(factsOf((b, x) => op(b, 'Size', [x]))).toEqual({ type: DataType.INT64, dims: [] });
    expect(factsOf((b, x) => op(b, 'Shape', [x], { start: attr.int(-2) }))).toEqual({
      type: DataType.INT64,
      dims: [2],
    });
  });

  it('Slice with tensor starts/ends computed from shapes, and with constants', () => {
    expect(
      factsOf((b, x) => {
        const half = op(b, 'Div', [op(b, 'Gather', [op(b, 'Shape', [x]), b.int64s([2])]), b.int64s([2])]);
        return op(b, 'Slice', [x, half, b.int64s([1000]), b.int64s([-1])]);
      }).dims,
    ).toEqual(['batch', 'seq', 4]);
    expect(factsOf((b, x) => op(b, 'Slice', [x, b.int64s([0]), b.int64s([3]), b.int64s([2])])).dims).toEqual([
      'batch',
      'seq',
      3,
    ]);
  });

  it('Split with sizes as an input, as an attribute (opset 11) and in equal parts', () => {
    const pieces = (opset: number, form: 'input' | 'attribute' | 'equal') => {
      let outputs: string[] = [];
      const g = graph((b, x) => {
        const inputs = form === 'input' ? [x, b.int64s([2, 6])] : [x];
        const attributes: Record<string, Attribute> = { axis: attr.int(-1) };
        if (form === 'attribute') attributes.split = attr.ints([2, 6]);
        outputs = b.op('Split', inputs, attributes, { outputs: 2 });
      }, opset);
      const facts = inferFacts(g, opset);
      return outputs.map((o) => facts.facts(o).dims);
    };
    expect(pieces(17, 'input')).toEqual([
      ['batch', 'seq', 2],
      ['batch', 'seq', 6],
    ]);
    expect(pieces(11, 'attribute')).toEqual(pieces(17, 'input'));
    expect(pieces(17, 'equal')).toEqual([
      ['batch', 'seq', 4],
      ['batch', 'seq', 4],
    ]);
  });

  it('Gather and GatherElements; Reshape with 0 and −1; Concat; Squeeze/Unsqueeze in both forms', () => {
    const table = (b: GraphBuilder) => b.initializer('emb', [50, 8], new Float32Array(400));
    expect(factsOf((b, _x, ids) => op(b, 'Gather', [table(b), ids])).dims).toEqual(['batch', 'seq', 8]);
    expect(factsOf((b, x, ids) => op(b, 'GatherElements', [x, op(b, 'Unsqueeze', [ids, b.int64s([2])])])).dims).toEqual(
      ['batch', 'seq', 1],
    );
    expect(factsOf((b, x) => op(b, 'Reshape', [x, b.int64s([0, 0, 2, -1])])).dims).toEqual(['batch', 'seq', 2, null]);
    expect(factsOf((b, x) => op(b, 'Concat', [x, x], { axis: attr.int(-1) })).dims).toEqual(['batch', 'seq', 16]);
    expect(factsOf((b, x) => op(b, 'Unsqueeze', [x], { axes: attr.ints([1]) }), 11).dims).toEqual([
      'batch',
      1,
      'seq',
      8,
    ]);
    expect(factsOf((b, x) => op(b, 'Squeeze', [op(b, 'Unsqueeze', [x, b.int64s([1])]), b.int64s([1])])).dims).toEqual([
      'batch',
      'seq',
      8,
    ]);
  });

  it('Reduce* with attribute or input axes, Softmax, LayerNormalization, unary functions and Pow', () => {
    expect(factsOf((b, x) => op(b, 'ReduceMean', [x], { axes: attr.ints([-1]) })).dims).toEqual(['batch', 'seq', 1]);
    expect(factsOf((b, x) => op(b, 'ReduceMean', [x, b.int64s([-1])], { keepdims: attr.int(0) }), 18).dims).toEqual([
      'batch',
      'seq',
    ]);
    expect(factsOf((b, x) => op(b, 'ReduceMax', [x])).dims).toEqual([1, 1, 1]);
    for (const type of ['Softmax', 'LogSoftmax', 'Tanh', 'Erf', 'Sigmoid', 'Sqrt', 'Reciprocal'])
      expect(factsOf((b, x) => op(b, type, [x]))).toEqual({ type: DataType.FLOAT, dims: ['batch', 'seq', 8] });
    expect(factsOf((b, x) => op(b, 'Pow', [x, b.scalar(2)])).dims).toEqual(['batch', 'seq', 8]);
    const scale = (b: GraphBuilder) => b.initializer('ln', [8], new Float32Array(8));
    expect(factsOf((b, x) => op(b, 'LayerNormalization', [x, scale(b)])).dims).toEqual(['batch', 'seq', 8]);
  });

  it('Einsum as exporters write it', () => {
    const w = (b: GraphBuilder) => b.initializer('w', [8, 3], new Float32Array(24));
    expect(factsOf((b, x) => op(b, 'Einsum', [x, w(b)], { equation: attr.string('bsd,de->bse') })).dims).toEqual([
      'batch',
      'seq',
      3,
    ]);
    expect(factsOf((b, x) => op(b, 'Einsum', [x], { equation: attr.string('...ij->...ji') })).dims).toEqual([
      'batch',
      8,
      'seq',
    ]);
  });

  it('If: what both branches agree on', () => {
    const branch = (wide: boolean): Graph => {
      const b = new GraphBuilder(wide ? 'wide' : 'same');
      b.input('x', DataType.FLOAT, null); // the outer graph's x, read from the branch (dropped below)
      const y = wide ? b.op1('Concat', ['x', 'x'], { axis: attr.int(-1) }) : b.op1('Identity', ['x']);
      b.output(y, DataType.FLOAT, null);
      return { ...b.build().graph, inputs: [] };
    };
    const result = (thenWide: boolean, elseWide: boolean) =>
      factsOf((b, _x, ids) =>
        op(b, 'If', [op(b, 'Equal', [op(b, 'Size', [ids]), b.int64s([0])])], {
          then_branch: { type: 'graph', value: branch(thenWide) },
          else_branch: { type: 'graph', value: branch(elseWide) },
        }),
      );
    expect(result(false, false)).toEqual({ type: DataType.FLOAT, dims: ['batch', 'seq', 8] });
    expect(result(false, true)).toEqual({ type: DataType.FLOAT, dims: ['batch', 'seq', null] });
  });
});
