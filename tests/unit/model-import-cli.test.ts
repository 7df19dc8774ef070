/**
 * `iwb attribute` end to end (CPU backend, float64 factors and scores; EK-FAC with the empirical Fisher, so no label
 * is sampled from logits that differ in the last float32 bit) on each exported model of tests/fixtures/models,
 * against the same weights in a reference form:
 * - the GPT-2 exports (TorchScript, Optimum with position_ids and past key values, dynamo-style names, external
 *   data) against our own builder's MatMul + Add GPT-2 (src/models/gpt.ts) holding their weights;
 * - the float16 and bfloat16 exports against the float32 export with every weight and constant rounded to the
 *   format here (not by the code under test): cast to float32 on load, they must run the same float32 graph;
 * - the LLaMA-style export (MatMul linears) against the same graph with every linear rewritten as
 *   Reshape → Gemm(transB = 1, nn.Linear layout) → Reshape.
 * Tolerance: the exports and references compute the same float32 forward pass in a different order, so scores agree
 * to 1e-5 of the largest |score| (measured: 2.7e-7 TorchScript, 1.5e-6 Optimum; the float16/bfloat16 and Gemm-form
 * comparisons are bit-identical).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readModel } from '../../src/app/inputs';
import { buildGptForward, type GptConfig } from '../../src/models/gpt';
import type { Weights } from '../../src/models/weights';
import { attr, GraphBuilder } from '../../src/onnx/builder';
import type { Model, TensorInit } from '../../src/onnx/ir';
import { serializeModel } from '../../src/onnx/protobuf';
import { tensorValues } from '../helpers/bundle-file';
import { attributeArgs, cli, MICRO_DATA } from '../helpers/cli';

const DIR = 'tests/fixtures/models';
const work = mkdtempSync(path.join(tmpdir(), 'iwb-import-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CONFIG: GptConfig = {
  vocabSize: 512,
  maxPositions: 512,
  dModel: 16,
  nLayer: 2,
  nHead: 2,
  dMlp: 64,
  layerNormEpsilon: 1e-5,
  gelu: 'tanh',
};

let runs = 0;
/** Scores [queries × train] of one CLI run on the micro data. */
async function scores(model: string, ...flags: string[]): Promise<Float64Array> {
  const out = path.join(work, `run-${runs++}.iwb`);
  const files = { model, ...MICRO_DATA };
  const args = attributeArgs(files, '--strategy', 'ekfac', '--fisher', 'empirical', '--quiet');
  const result = await cli([...args, '--limit-train', '4', '--limit-queries', '2', '--out', out, ...flags]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return tensorValues(readFileSync(out), 'scores.influence');
}

function expectClose(got: Float64Array, want: Float64Array, tolerance = 1e-5): void {
  expect(got.length).toBe(want.length);
  const scale = Math.max(...want.map(Math.abs));
  expect(scale).toBeGreaterThan(0);
  const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
  expect(worst / scale).toBeLessThanOrEqual(tolerance);
}

function write(name: string, model: Model): string {
  const file = path.join(work, name);
  writeFileSync(file, serializeModel(model));
  return file;
}

/**
 * x rounded to a binary float with `mantissaBits` stored bits (float16: 10, bfloat16: 7), to nearest, ties to even,
 * clipped to ±largest as a half-precision export clips finfo(float32).min; float16's subnormals below 2^-14.
 */
function round(x: number, mantissaBits: number, largest: number): number {
  const clipped = Math.max(-largest, Math.min(largest, x));
  if (clipped === 0) return 0;
  const exponent = Math.max(Math.floor(Math.log2(Math.abs(clipped))), mantissaBits === 10 ? -14 : -126);
  const quantum = 2 ** (exponent - mantissaBits);
  const scaled = clipped / quantum;
  let whole = Math.round(scaled);
  if (Math.abs(scaled % 1) === 0.5 && whole % 2 !== 0) whole -= Math.sign(scaled);
  return Math.max(-largest, Math.min(largest, whole * quantum));
}

/** The model with every float32 initializer and Constant value mapped by `f` (stored back as float32). */
function mapFloats(model: Model, f: (x: number) => number): Model {
  const map = <T extends TensorInit>(t: T): T =>
    t.data instanceof Float32Array ? { ...t, data: Float32Array.from(t.data, f) } : t;
  const nodes = model.graph.nodes.map((node) => ({
    ...node,
    attributes: Object.fromEntries(
      Object.entries(node.attributes).map(([k, a]) => [k, a.type === 'tensor' ? { ...a, value: map(a.value) } : a]),
    ),
  }));
  const initializers = new Map([...model.graph.initializers].map(([k, t]) => [k, map(t)]));
  return { ...model, graph: { ...model.graph, nodes, initializers } };
}

/** Our builder's GPT-2 with an export's weights (HF names: `transformer.h.0.…`; lm_head tied to wte). */
function builderReference(exported: Model): string {
  const weights: Record<string, { dims: number[]; data: Float32Array }> = {};
  for (const [name, tensor] of exported.graph.initializers) {
    const key = name.replace(/^.*?transformer\./, '');
    if (tensor.data instanceof Float32Array) weights[key] = { dims: [...tensor.dims], data: tensor.data };
  }
  weights['lm_head.weight'] = weights['wte.weight']!;
  return write(`reference-${runs}.onnx`, buildGptForward(CONFIG, weights as Weights));
}

/** Every linear MatMul on a weight initializer as Reshape → Gemm(transB = 1) → Reshape, same node names. */
function gemmForm(model: Model): Model {
  const b = GraphBuilder.fromGraph({ ...model.graph, nodes: [] });
  for (const node of model.graph.nodes) {
    const weight = model.graph.initializers.get(node.inputs[1] ?? '');
    if (node.opType !== 'MatMul' || !weight) {
      b.op(
        node.opType,
        node.inputs,
        { ...node.attributes },
        { name: node.name, outputs: node.outputs, domain: node.domain },
      );
      continue;
    }
    const [dIn, dOut] = weight.dims as [number, number];
    const data = weight.data as Float32Array;
    const outIn = Float32Array.from({ length: dIn * dOut }, (_, k) => data[(k % dIn) * dOut + Math.floor(k / dIn)]!);
    const stored = b.initializer(`${weight.name}.out_in`, [dOut, dIn], outIn);
    const rows = b.op1('Reshape', [node.inputs[0]!, b.int64s([-1, dIn])]);
    const gemm = { name: node.name, outputs: [`${node.outputs[0]}/gemm`] };
    const product = b.op1('Gemm', [rows, stored], { transB: attr.int(1) }, gemm);
    const leading = b.op1('Slice', [b.op1('Shape', [node.inputs[0]!]), b.int64s([0]), b.int64s([-1])]);
    const shape = b.op1('Concat', [leading, b.int64s([dOut])], { axis: attr.int(0) });
    b.op('Reshape', [product, shape], {}, { outputs: node.outputs });
  }
  return { ...model, graph: { ...b.build().graph, name: model.graph.name } };
}

describe('exported models attribute end to end like their reference form', () => {
  const torchscript = `${DIR}/gpt2-torchscript.onnx`;
  let reference: Float64Array;

  it('TorchScript GPT-2 (Conv1D as Gemm) = our builder with its weights', async () => {
    reference = await scores(builderReference(readModel('gpt2', readFileSync(torchscript))));
    expectClose(await scores(torchscript), reference);
  }, 300_000);

  it.each(['gpt2-optimum.onnx', 'gpt2-dynamo-style.onnx', 'gpt2-external/model.onnx'])(
    '%s: the same scores',
    async (name) => expectClose(await scores(`${DIR}/${name}`), reference),
    300_000,
  );

  it('external data given explicitly with --model-data', async () => {
    const moved = path.join(work, 'elsewhere.onnx');
    writeFileSync(moved, readFileSync(`${DIR}/gpt2-external/model.onnx`));
    const missing = await cli(attributeArgs({ model: moved, ...MICRO_DATA }, '--quiet'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/its weights are stored in the external file 'model\.onnx\.data', not found at .*/);
    expectClose(await scores(moved, '--model-data', `${DIR}/gpt2-external/model.onnx.data`), reference);
  }, 300_000);

  it.each([
    ['gpt2-fp16.onnx', 10, 65504],
    ['gpt2-bf16.onnx', 7, 3.3895313892515355e38],
  ])(
    '%s = the float32 export with every weight and constant rounded to the format',
    async (name, mantissaBits, largest) => {
      const rounded = mapFloats(readModel('gpt2', readFileSync(torchscript)), (x) => round(x, mantissaBits, largest));
      const want = await scores(write(`rounded-${mantissaBits}.onnx`, rounded));
      expectClose(await scores(`${DIR}/${name}`), want, 1e-9);
    },
    300_000,
  );

  it('LLaMA-style MatMul linears = the same graph with Gemm(transB = 1) linears = the dynamo-style rewrite', async () => {
    const file = `${DIR}/llama-style.onnx`;
    const want = await scores(write('llama-gemm.onnx', gemmForm(readModel('llama', readFileSync(file)))));
    expectClose(await scores(file), want);
    expectClose(await scores(`${DIR}/llama-dynamo-style.onnx`), want);
  }, 300_000);
});

describe('iwb layers', () => {
  it('lists the linear layers and marks the tracked MLP projections, found by structure', async () => {
    const result = await cli(['layers', `${DIR}/gpt2-dynamo-style.onnx`]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/gpt2-dynamo-style\.onnx: 9 linear layers, 4 tracked \(\*\), 4256 tracked parameters$/);
    expect(lines[1]).toBe('inputs fed: input_ids, attention_mask; vocabulary 512, context 512');
    expect(lines.filter((l) => l.startsWith('*')).map((l) => l.split(/\s{2,}/).slice(1, 5))).toEqual([
      ['node_Gemm_193', 'Gemm', '16 -> 64 +bias', 'MLP 0 up'],
      ['node_Gemm_232', 'Gemm', '64 -> 16 +bias', 'MLP 0 down'],
      ['node_Gemm_411', 'Gemm', '16 -> 64 +bias', 'MLP 1 up'],
      ['node_Gemm_450', 'Gemm', '64 -> 16 +bias', 'MLP 1 down'],
    ]);
    const json = await cli(['layers', `${DIR}/llama-style.onnx`, '--json', '--track', 'down_proj']);
    const parsed = JSON.parse(json.stdout) as { layers: { nodeName: string; tracked: boolean }[] };
    expect(parsed.layers.filter((l) => l.tracked).map((l) => l.nodeName)).toEqual([
      '/layers.0/mlp/down_proj/MatMul',
      '/layers.1/mlp/down_proj/MatMul',
    ]);
  });

  it('exits 1 naming the problem: a pattern that tracks nothing, external data missing or outside the folder', async () => {
    const none = await cli(['layers', `${DIR}/gpt2-torchscript.onnx`, '--track', 'nothing-matches']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /^iwb: no tracked layer: no MatMul\/Gemm with an initializer weight has a name matching/,
    );
    const moved = path.join(work, 'alone.onnx');
    const bytes = readFileSync(`${DIR}/gpt2-external/model.onnx`);
    writeFileSync(moved, bytes);
    const missing = await cli(['layers', moved]);
    expect([missing.code, missing.stderr]).toEqual([
      1,
      `iwb: --model ${moved}: its weights are stored in the external file 'model.onnx.data', not found at ` +
        `${path.join(work, 'model.onnx.data')}; put it beside the model or pass --model-data FILE\n`,
    ]);
    // Same-length rewrite of every location string: the protobuf stays valid.
    const escaping = Buffer.from(bytes.toString('latin1').replaceAll('model.onnx.data', '../x.onnx.data1'), 'latin1');
    writeFileSync(moved, escaping);
    const outside = await cli(['layers', moved]);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/external data location '\.\.\/x\.onnx\.data1' points outside the model's folder/);
  });
});
