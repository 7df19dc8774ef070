/**
 * Models as exporters write them (tests/fixtures/models, exported by scripts/export-test-models.py): the MLP
 * projections are found by the graph's structure as well as by name, external data is read (and a missing or
 * truncated data file is named), float16/bfloat16 weights become float32, and the inputs Optimum's exports ask for
 * are filled.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededDemoModel } from '../../src/app/demo-model';
import { readModel } from '../../src/app/inputs';
import { modelLayers } from '../../src/app/model-layers';
import { sequenceFeeds } from '../../src/onnx/feeds';
import { DEFAULT_TRACKED, listLinearLayers } from '../../src/onnx/gradient-graph';
import { DataType, type Model } from '../../src/onnx/ir';

const DIR = 'tests/fixtures/models';
const fixture = (name: string): Model => readModel(name, readFileSync(`${DIR}/${name}`));
const externalFiles = () => [{ name: 'model.onnx.data', bytes: readFileSync(`${DIR}/gpt2-external/model.onnx.data`) }];
const external = (data: { name: string; bytes: Uint8Array }[] = externalFiles()): Model =>
  readModel('model.onnx', readFileSync(`${DIR}/gpt2-external/model.onnx`), data);

function tracked(model: Model): { node: string; dims: string; role: string | null }[] {
  return listLinearLayers(model.graph)
    .filter((l) => l.tracked)
    .map((l) => ({ node: l.nodeName, dims: `${l.dIn}x${l.dOut}${l.hasBias ? '+b' : ''}`, role: l.mlpRole }));
}

const GPT2_MLP = [0, 1].flatMap((i) => [
  { node: `/h.${i}/mlp/c_fc/Gemm`, dims: '16x64+b', role: 'up' },
  { node: `/h.${i}/mlp/c_proj/Gemm`, dims: '64x16+b', role: 'down' },
]);

describe('default tracking finds the MLP projections', () => {
  it('in the TorchScript, Optimum, half-precision and external-data exports of GPT-2 (Conv1D as Gemm)', () => {
    for (const name of ['gpt2-torchscript.onnx', 'gpt2-optimum.onnx', 'gpt2-fp16.onnx', 'gpt2-bf16.onnx']) {
      expect(tracked(fixture(name)), name).toEqual(GPT2_MLP);
    }
    expect(tracked(external())).toEqual(GPT2_MLP);
  });

  it('by structure alone where names say nothing (dynamo-style node_Gemm_N)', () => {
    const model = fixture('gpt2-dynamo-style.onnx');
    const layers = listLinearLayers(model.graph);
    expect(layers.filter((l) => DEFAULT_TRACKED.test(l.nodeName))).toEqual([]);
    const found = tracked(model);
    expect(found.map((l) => [l.dims, l.role])).toEqual(GPT2_MLP.map((l) => [l.dims, l.role]));
    // They are the same Gemms as in the TorchScript export: the weights they read say so.
    const weights = layers.filter((l) => l.tracked).map((l) => l.weightName);
    expect(weights).toEqual(
      [0, 1].flatMap((i) => [`mlp.c_fc`, `mlp.c_proj`].map((m) => `transformer.h.${i}.${m}.weight`)),
    );
    // The tied lm_head reads the shared embedding through a Transpose: a 16 -> 512 layer on wte, not tracked.
    expect(layers.at(-1)).toMatchObject({ weightName: 'transformer.wte.weight', dIn: 16, dOut: 512, tracked: false });
  });

  it("in a LLaMA-style gated MLP (gate through SiLU's sigmoid, up, down), never q/k/v/o", () => {
    const found = tracked(fixture('llama-style.onnx'));
    expect(found).toEqual(
      [0, 1].flatMap((i) => [
        { node: `/layers.${i}/mlp/gate_proj/MatMul`, dims: '16x64', role: 'gate' },
        { node: `/layers.${i}/mlp/up_proj/MatMul`, dims: '16x64', role: 'up' },
        { node: `/layers.${i}/mlp/down_proj/MatMul`, dims: '64x16', role: 'down' },
      ]),
    );
  });

  it('in the dynamo-style LLaMA (opset 18, anonymous names, nn.Linear weights read through Transpose)', () => {
    const layers = listLinearLayers(fixture('llama-dynamo-style.onnx').graph);
    expect(layers.filter((l) => DEFAULT_TRACKED.test(l.nodeName))).toEqual([]);
    const found = layers.filter((l) => l.tracked).map((l) => [l.weightName, `${l.dIn}x${l.dOut}`, l.mlpRole]);
    expect(found).toEqual(
      [0, 1].flatMap((i) => [
        [`model.layers.${i}.mlp.gate_proj.weight`, '16x64', 'gate'],
        [`model.layers.${i}.mlp.up_proj.weight`, '16x64', 'up'],
        [`model.layers.${i}.mlp.down_proj.weight`, '64x16', 'down'],
      ]),
    );
  });

  it("finds a block's second c_proj named c_proj_1, which the name pattern misses", () => {
    const { model } = seededDemoModel('micro', 32, 16);
    const renamed = model.graph.nodes.map((n) => ({
      ...n,
      name: n.name.replace('/mlp/c_proj/', '/c_proj_1/').replace('/mlp/c_fc/', '/c_fc/'),
    }));
    const edited: Model = { ...model, graph: { ...model.graph, nodes: renamed } };
    expect(DEFAULT_TRACKED.test('/h.0/c_proj_1/MatMul')).toBe(false);
    expect(tracked(edited)).toEqual([
      { node: '/h.0/c_fc/MatMul', dims: '16x32+b', role: 'up' },
      { node: '/h.0/c_proj_1/MatMul', dims: '32x16+b', role: 'down' },
    ]);
  });

  it('lists every linear layer with the one the choice tracks, and says why a choice tracks nothing', () => {
    const summary = modelLayers(fixture('gpt2-optimum.onnx'), '/h\\.1/mlp/c_fc');
    expect(summary.layers).toHaveLength(9);
    expect(summary.layers.filter((l) => l.tracked).map((l) => l.nodeName)).toEqual(['/h.1/mlp/c_fc/Gemm']);
    expect(summary.inputs).toContain('past_key_values.1.value');
    expect([summary.vocabulary, summary.context, summary.problem]).toEqual([512, 512, null]);
    const none = modelLayers(fixture('gpt2-optimum.onnx'), 'nothing-matches');
    expect(none.layers.every((l) => !l.tracked)).toBe(true);
    expect(none.problem).toMatch(/no tracked layer: no MatMul\/Gemm .* matching \/nothing-matches\//);
  });
});

describe('external data', () => {
  it('reads every tensor from model.onnx.data, equal to the inline export', () => {
    const inline = fixture('gpt2-torchscript.onnx').graph.initializers;
    const read = external().graph.initializers;
    expect([...read.keys()]).toEqual([...inline.keys()]);
    for (const [name, tensor] of inline) expect(read.get(name)!.data, name).toEqual(tensor.data);
  });

  it('names the missing file, and the offset a truncated one lacks', () => {
    expect(() => external([])).toThrow(
      /^model\.onnx: model › graph 'torch_jit' › tensor 'transformer\.wte\.weight': data is stored in the external file 'model\.onnx\.data', which was not given/,
    );
    const whole = externalFiles()[0]!.bytes;
    const cut = [{ name: 'model.onnx.data', bytes: whole.subarray(0, whole.length - 100) }];
    expect(() => external(cut)).toThrow(
      new RegExp(
        `needs bytes \\d+–${whole.length} of 'model\\.onnx\\.data', which has only ${whole.length - 100} bytes`,
      ),
    );
  });
});

describe('size', () => {
  it('refuses a model whose data pass 2 GB before reading it (the gradient graph is one protobuf)', () => {
    // Only the length is read before the refusal: a stand-in for 2 GiB of weights.
    const huge = { name: 'model.onnx.data', bytes: { length: 2 ** 31 } as Uint8Array };
    expect(() => external([huge])).toThrow(
      /^model\.onnx: \d+ bytes with its external data, over the 2147483647 bytes one ONNX protobuf can hold/,
    );
  });
});

describe('float16 and bfloat16 weights are cast to float32 on load', () => {
  const reference = fixture('gpt2-torchscript.onnx').graph.initializers;
  it.each([
    ['gpt2-fp16.onnx', 2 ** -11],
    ['gpt2-bf16.onnx', 2 ** -8],
  ])('%s: every tensor and value is float32, each weight within half an ulp of the format', (name, halfUlp) => {
    const model = fixture(name);
    const types = [...model.graph.inputs, ...model.graph.outputs].map((v) => v.elemType);
    expect(types.filter((t) => t !== DataType.INT64)).toEqual([DataType.FLOAT]);
    for (const [key, tensor] of model.graph.initializers) {
      const want = reference.get(key)!;
      if (want.dataType !== DataType.FLOAT) continue;
      expect(tensor.dataType, key).toBe(DataType.FLOAT);
      const got = tensor.data as Float32Array;
      (want.data as Float32Array).forEach((w, i) => {
        expect(Math.abs(got[i]! - w), `${key}[${i}]`).toBeLessThanOrEqual(Math.abs(w) * halfUlp + 2 ** -24);
      });
    }
    expect(modelLayers(model, null).castFrom).toBe(name === 'gpt2-fp16.onnx' ? 'float16' : 'bfloat16');
    expect(modelLayers(fixture('gpt2-torchscript.onnx'), null).castFrom).toBeNull();
    const casts = model.graph.nodes.filter((n) => n.opType === 'Cast').map((n) => n.attributes.to?.value);
    expect(casts.every((to) => to !== DataType.FLOAT16 && to !== DataType.BFLOAT16)).toBe(true);
  });
});

describe('the inputs an Optimum export asks for', () => {
  const inputs = fixture('gpt2-optimum.onnx').graph.inputs;
  it('position_ids count the tokens (0 on padding), past_key_values are empty [B, heads, 0, head_dim]', () => {
    const ids = BigInt64Array.from([5, 6, 7, 0, 8, 9, 0, 0].map(BigInt));
    const mask = BigInt64Array.from([1, 1, 1, 0, 1, 1, 0, 0].map(BigInt));
    const feeds = sequenceFeeds(inputs, ids, mask, [2, 4]);
    expect(Object.keys(feeds)).toEqual(inputs.map((i) => i.name));
    expect([...(feeds.position_ids!.data as BigInt64Array)]).toEqual([0n, 1n, 2n, 0n, 0n, 1n, 0n, 0n]);
    expect(feeds.attention_mask!.data).toBe(mask);
    expect(feeds['past_key_values.0.key']!.dims).toEqual([2, 2, 0, 8]);
    expect(feeds['past_key_values.1.value']!.data).toHaveLength(0);
  });

  it('feeds int32 ids where the graph declares them, and no mask where the graph has none', () => {
    const declared = [{ name: 'input_ids', elemType: DataType.INT32, shape: ['batch', 'sequence'] }];
    const feeds = sequenceFeeds(declared, BigInt64Array.from([3n, 4n]), BigInt64Array.from([1n, 1n]), [1, 2]);
    expect(Object.keys(feeds)).toEqual(['input_ids']);
    expect(feeds.input_ids!.data).toEqual(Int32Array.from([3, 4]));
  });

  it('refuses an input it cannot fill, naming it', () => {
    const merged = [...inputs, { name: 'use_cache_branch', elemType: DataType.BOOL, shape: [1] }];
    expect(() => sequenceFeeds(merged, new BigInt64Array(2), new BigInt64Array(2), [1, 2])).toThrow(
      /graph input 'use_cache_branch' is not one the workbench can fill \(a merged decoder/,
    );
  });
});
