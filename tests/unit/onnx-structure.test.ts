/** findEmbeddings: the token and position tables are found by where their Gather's indices come from, not by name. */
import { describe, expect, it } from 'vitest';
import { DataType, type Graph, type Node, type TensorInit } from '../../src/onnx/ir';
import { findEmbeddings } from '../../src/onnx/structure';

const table = (name: string, rows: number): TensorInit => ({
  name,
  dataType: DataType.FLOAT,
  dims: [rows, 4],
  data: new Float32Array(rows * 4),
});
const node = (opType: string, inputs: string[], output: string, attributes: Node['attributes'] = {}): Node => ({
  name: `/${output}`,
  opType,
  domain: '',
  inputs,
  outputs: [output],
  attributes,
});
const graph = (nodes: Node[], inits: TensorInit[], inputs = ['input_ids', 'attention_mask']): Graph => ({
  name: 'g',
  nodes,
  inputs: inputs.map((name) => ({ name, elemType: DataType.INT64, shape: ['batch', 'sequence'] })),
  outputs: [],
  initializers: new Map(inits.map((t) => [t.name, t])),
  valueInfo: [],
});

describe('findEmbeddings', () => {
  it('OPT style: positions from CumSum(mask) · mask − 1 + 2, the token table behind an Identity (tied weights)', () => {
    const g = graph(
      [
        node('Identity', ['onnx::W_0'], 'tied'),
        node('Gather', ['tied', 'input_ids'], 'tok'),
        node('CumSum', ['attention_mask', 'axis'], 'cum'),
        node('Mul', ['cum', 'attention_mask'], 'masked'),
        node('Sub', ['masked', 'one'], 'zero_based'),
        node('Add', ['zero_based', 'two'], 'pos'),
        node('Gather', ['onnx::W_1', 'pos'], 'placed'),
      ],
      [table('onnx::W_0', 50272), table('onnx::W_1', 2050)],
    );
    expect(findEmbeddings(g)).toMatchObject({
      token: { weight: 'onnx::W_0', rows: 50272, node: '/tok' },
      position: { weight: 'onnx::W_1', rows: 2050, node: '/placed' },
    });
  });

  it('a position_ids input, ids through Cast and Unsqueeze; a Gather on another axis or of a computed table is no embedding', () => {
    const g = graph(
      [
        node('Cast', ['input_ids'], 'ids64'),
        node('Unsqueeze', ['ids64', 'axes'], 'ids2'),
        node('Gather', ['a', 'input_ids'], 'not_axis0', { axis: { type: 'int', value: 1 } }),
        node('Relu', ['b'], 'computed'),
        node('Gather', ['computed', 'input_ids'], 'not_table'),
        node('Gather', ['vocab', 'ids2'], 'tok'),
        node('Gather', ['rope_cos', 'position_ids'], 'cos'),
      ],
      [table('a', 7), table('b', 7), table('vocab', 300), table('rope_cos', 4096)],
      ['input_ids', 'position_ids'],
    );
    expect(findEmbeddings(g)).toMatchObject({
      token: { weight: 'vocab', rows: 300 },
      position: { weight: 'rope_cos', rows: 4096 },
    });
  });

  it('a cycle of 64 doubly-linked Adds (2^64 paths) is walked once per value', () => {
    const nodes = Array.from({ length: 64 }, (_, i) => node('Add', [`v${(i + 1) % 64}`, `v${(i + 2) % 64}`], `v${i}`));
    const g = graph([...nodes, node('Gather', ['t', 'v0'], 'out')], [table('t', 9)]);
    expect(findEmbeddings(g)).toEqual({ token: null, position: null });
  });

  it('finds nothing in a graph without embeddings, and stops on a cycle a hostile graph may hold', () => {
    const g = graph(
      [
        node('Add', ['loop_b', 'input_ids'], 'loop_a'),
        node('Add', ['loop_a', 'x'], 'loop_b'),
        node('Gather', ['t', 'loop_b'], 'out'),
      ],
      [table('t', 9)],
    );
    expect(findEmbeddings(g).position).toBeNull();
    expect(findEmbeddings(graph([], [])).token).toBeNull();
  });
});
