/**
 * The worker's picked model (src/worker/picked-model.ts), in Node with File objects as the page sends them: parsed
 * once and reused — the layer list equals the one of the model parsed directly; a request naming it becomes the
 * 'files' request the page used to send (same bytes, same names) with the parsed model beside it, not parsed again;
 * a later pick, or a failed one, retires the token with one clear message.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';
import { readModel } from '../../src/app/inputs';
import { modelLayers } from '../../src/app/model-layers';
import { PickedModels } from '../../src/worker/picked-model';
import type { PageRequest } from '../../src/worker/protocol';
import { fixturePath } from '../helpers/fixtures';

const graph = readFileSync(fixturePath('models/gpt2-external/model.onnx'));
const data = readFileSync(fixturePath('models/gpt2-external/model.onnx.data'));
const files = () => [new File([graph], 'model.onnx'), new File([data], 'model.onnx.data')];
const request = (token: string): PageRequest => ({
  source: {
    kind: 'picked',
    model: token,
    tokenizer: null,
    train: '{"prompt":"1+1=","response":"2"}\n',
    queries: '{"prompt":"2+2=","response":"4"}\n',
    names: { tokenizer: null, train: 'train.jsonl', queries: 'queries.jsonl' },
  },
  config: DEFAULT_RUN_CONFIG,
});

describe('the picked model in the worker', () => {
  it('is parsed once: its layers, and requests that name it, use the kept model and bytes', async () => {
    const picked = new PickedModels();
    const info = await picked.pick(files());
    expect(info).toEqual({
      token: info.token,
      name: 'model.onnx',
      dataNames: ['model.onnx.data'],
      bytes: graph.length + data.length,
    });
    const direct = readModel('model.onnx', new Uint8Array(graph), [{ name: 'model.onnx.data', bytes: data }]);
    expect(picked.layers(info.token, null)).toEqual(modelLayers(direct, null));
    expect(picked.layers(info.token, '/h\\.1/mlp').layers.filter((l) => l.tracked)).toHaveLength(2);

    const first = picked.resolve(request(info.token));
    const second = picked.resolve(request(info.token));
    expect(first.parsed).not.toBeNull();
    expect(second.parsed).toBe(first.parsed);
    const source = first.request.source;
    if (source.kind !== 'files') throw new Error('expected a files source');
    expect(Buffer.from(source.model).equals(graph)).toBe(true);
    expect(source.modelData!.map((f) => [f.name, Buffer.from(f.bytes).equals(data)])).toEqual([
      ['model.onnx.data', true],
    ]);
    expect(source.names).toEqual({
      model: 'model.onnx',
      tokenizer: null,
      train: 'train.jsonl',
      queries: 'queries.jsonl',
    });
    // Requests on the demo or on files pass through untouched.
    const demo: PageRequest = { source: { kind: 'demo', variant: 'micro' }, config: DEFAULT_RUN_CONFIG };
    expect(picked.resolve(demo)).toEqual({ request: demo, parsed: null });
  });

  it('a later pick retires the earlier token; a failed pick leaves no model', async () => {
    const picked = new PickedModels();
    const a = await picked.pick(files());
    const b = await picked.pick(files());
    expect(b.token).not.toBe(a.token);
    const stale = /^the model picked for this request is no longer loaded in the page: pick the model again$/;
    expect(() => picked.resolve(request(a.token))).toThrow(stale);
    expect(() => picked.layers(a.token, null)).toThrow(stale);
    await expect(picked.pick([new File([graph], 'model.onnx')])).rejects.toThrow(/model\.onnx\.data/);
    expect(() => picked.layers(b.token, null)).toThrow(stale);
  });
});
