/**
 * Limits said before a run (`iwb layers`, the page's Layers panel): each linear layer's role, the exporter's style,
 * and what a run would refuse — found by building the gradient graph, before any gradient is computed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readModel } from '../../src/app/inputs';
import { modelLayers } from '../../src/app/model-layers';
import type { Model } from '../../src/onnx/ir';
import { cli } from '../helpers/cli';

const DIR = 'tests/fixtures/models';
const fixture = (name: string): Model => readModel(name, readFileSync(`${DIR}/${name}`));
const roles = (model: Model) => modelLayers(model, null).layers.map((l) => l.role);

describe('roles and exporters', () => {
  it('GPT-2: fused q/k/v, attention o, MLP up/down, the output head; TorchScript and dynamo styles', () => {
    const block = ['attention q/k/v (fused)', 'attention o'];
    const want = [...block, 'MLP 0 up', 'MLP 0 down', ...block, 'MLP 1 up', 'MLP 1 down', 'output head'];
    expect(roles(fixture('gpt2-torchscript.onnx'))).toEqual(want);
    // Dynamo-style names say nothing: the weights' names give attention, the vocabulary width the head.
    expect(roles(fixture('gpt2-dynamo-style.onnx'))).toEqual(want);
    expect(modelLayers(fixture('gpt2-torchscript.onnx'), null).exporter).toBe(
      'torch.onnx (TorchScript: module-path names)',
    );
    expect(modelLayers(fixture('gpt2-dynamo-style.onnx'), null).exporter).toBe(
      'torch.onnx dynamo (node_<Op>_<n> names)',
    );
    expect(modelLayers(fixture('gpt2-optimum.onnx'), null).exporter).toMatch(/^Optimum with past key values; /);
  });

  it('LLaMA: attention q, k, v, o and the gated MLP', () => {
    const block = (i: number) =>
      ['attention q', 'attention k', 'attention v', 'attention o'].concat(
        ['gate', 'up', 'down'].map((r) => `MLP ${i} ${r}`),
      );
    expect(roles(fixture('llama-style.onnx'))).toEqual([...block(0), ...block(1), 'output head']);
  });
});

describe('what a run would refuse is said before it', () => {
  it('an op without a VJP on the loss path, named with its node', () => {
    const model = fixture('llama-style.onnx');
    const sigmoid = model.graph.nodes.find((n) => n.opType === 'Sigmoid')!;
    const nodes = model.graph.nodes.map((n) =>
      n === sigmoid ? { ...n, opType: 'Frobnicate', domain: 'example.org' } : n,
    );
    const summary = modelLayers({ ...model, graph: { ...model.graph, nodes } }, null);
    expect(summary.problem).toMatch(/Frobnicate/);
    expect(summary.problem).toContain(sigmoid.name);
    expect(modelLayers(model, null).problem).toBeNull();
  });

  it('iwb layers prints the role column, the exporter and config.json of a folder', async () => {
    const result = await cli(['layers', `${DIR}/folder-llama`]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.split('\n');
    expect(lines[1]).toBe('config.json: model_type llama, vocab_size 512, max_position_embeddings 512');
    expect(lines[4]).toBe('exported by: torch.onnx (TorchScript: module-path names)');
    expect(lines[5]).toMatch(/^ +node +op +d_in -> d_out +role +weight$/);
    expect(lines[6]).toMatch(
      /^ +\/layers\.0\/self_attn\/q_proj\/MatMul +MatMul +16 -> 16 +attention q +onnx::MatMul_250$/,
    );
  });
});
