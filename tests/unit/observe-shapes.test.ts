/**
 * The fallback of shape inference: a graph whose rank static inference cannot decide (a Squeeze whose axes the graph
 * computes from data) is not refused; the forward runs once with the undecided values exposed, their ranks are
 * recorded, and `iwb attribute` gives the same scores as the graph without the detour.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../../src/onnx/builder';
import { buildGradientGraph } from '../../src/onnx/gradient-graph';
import type { Model } from '../../src/onnx/ir';
import { parseModel, serializeModel } from '../../src/onnx/protobuf';
import { observeShapes, undecidedValues } from '../../src/onnx/observe-shapes';
import { tensorValues } from '../helpers/bundle-file';
import { attributeArgs, cli, MICRO_DATA, microModelBytes } from '../helpers/cli';

const work = mkdtempSync(path.join(tmpdir(), 'iwb-observe-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The model with the last MatMul's input x replaced by Squeeze(Unsqueeze(x, [0]), axes), axes = min(shape(x)) −
 * min(shape(x)) = [0]: an identity whose rank only a run can tell (inference does not know the content of ReduceMin).
 */
function withUndecidedRank(model: Model): { model: Model; value: string } {
  const b = GraphBuilder.fromGraph({ ...model.graph, nodes: [] });
  const last = model.graph.nodes.findLastIndex((n) => n.opType === 'MatMul');
  let value = '';
  model.graph.nodes.forEach((node, index) => {
    if (index === last) {
      const x = node.inputs[0]!;
      const low = b.op1('ReduceMin', [b.op1('Shape', [x])], { keepdims: attr.int(1) });
      const axes = b.op1('Sub', [low, low]);
      value = b.op1('Squeeze', [b.op1('Unsqueeze', [x, b.int64s([0])]), axes]);
      node = { ...node, inputs: [value, ...node.inputs.slice(1)] };
    }
    b.op(node.opType, node.inputs, { ...node.attributes }, { name: node.name, outputs: [...node.outputs] });
  });
  return { model: { ...model, graph: { ...b.build().graph, name: model.graph.name } }, value };
}

const original = parseModel(microModelBytes());
const { model: detour, value } = withUndecidedRank(original);

it('static inference leaves the rank undecided, and the gradient graph alone names the node, op and value', () => {
  expect(undecidedValues(original)).toEqual([]);
  expect(undecidedValues(detour)).toContain(value);
  expect(() => buildGradientGraph(detour, { loss: { kind: 'token-cross-entropy' }, tracked: /./ })).toThrow(
    `cannot differentiate MatMul at node "${original.graph.nodes.findLast((n) => n.opType === 'MatMul')!.name}": the rank of "${value}" is unknown`,
  );
});

it('one forward run records the rank (and only the rank)', async () => {
  const ids = { data: BigInt64Array.from([1n, 5n, 9n, 2n]), dims: [1, 4] };
  const feeds = Object.fromEntries(
    detour.graph.inputs.map((i) => [
      i.name,
      i.name === 'input_ids' ? ids : { ...ids, data: BigInt64Array.from([1n, 1n, 1n, 1n]) },
    ]),
  );
  const observed = await observeShapes(detour, feeds);
  expect(observed.get(value)?.dims).toEqual([null, null, null]);
});

it('iwb attribute on the model as it is: the same scores as without the detour', async () => {
  const run = async (model: Model, name: string) => {
    const file = path.join(work, `${name}.onnx`);
    writeFileSync(file, serializeModel(model));
    const out = path.join(work, `${name}.iwb`);
    const result = await cli([
      ...attributeArgs({ model: file, ...MICRO_DATA }, '--limit-train', '3', '--limit-queries', '2', '--quiet'),
      ...['--fisher', 'empirical', '--out', out],
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return tensorValues(readFileSync(out), 'scores.influence');
  };
  const want = await run(original, 'original');
  const got = await run(detour, 'detour');
  const scale = Math.max(...want.map(Math.abs));
  expect(scale).toBeGreaterThan(0);
  expect(Math.max(...want.map((w, i) => Math.abs(got[i]! - w)))).toBeLessThanOrEqual(1e-9 * scale);
}, 300_000);
