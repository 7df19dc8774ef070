import { afterAll, describe, expect, it } from 'vitest';
import { buildKronfluenceTokenLm, KRONFLUENCE_TOKEN_LM } from '../../src/models/kronfluence';
import { buildMlpForward, initMlpWeights, logisticRegressionConfig } from '../../src/models/mlp';
import { sampledTensor } from '../../src/models/weights';
import { seededNormal, seededUniform } from '../../src/core/random';
import { serializeModel } from '../../src/onnx/protobuf';
import { ModelSession, padBatch, SessionCache } from '../../src/onnx/runtime';
import { loadOrt } from '../../src/platform/ort';

const classifier = logisticRegressionConfig(3, 2);
const classifierModel = buildMlpForward(classifier, initMlpWeights(classifier, 5));
const cache = new SessionCache();
afterAll(() => cache.releaseAll());

describe('padBatch', () => {
  it('right-pads to the longest sequence (or a given length) with a 0/1 mask', () => {
    const batch = padBatch([[5, 6, 7], [8]], 0);
    expect(batch.inputIds.dims).toEqual([2, 3]);
    expect(batch.inputIds.data).toEqual(new BigInt64Array([5n, 6n, 7n, 8n, 0n, 0n]));
    expect(batch.attentionMask.data).toEqual(new BigInt64Array([1n, 1n, 1n, 1n, 0n, 0n]));
    expect(batch.lengths).toEqual([3, 1]);
    expect(padBatch([[1]], 9, 3).inputIds.data).toEqual(new BigInt64Array([1n, 9n, 9n]));
    expect(() => padBatch([[1, 2, 3]], 0, 2)).toThrow(/sequence 0 has 3 tokens, more than the length 2/);
    expect(() => padBatch([[1, -2]])).toThrow(/sequence 0, position 1: token -2/);
  });
});

describe('ModelSession', () => {
  it('runs a model from IR or bytes, once per cache key', async () => {
    let builds = 0;
    const load = () => {
      builds++;
      return serializeModel(classifierModel);
    };
    const [first, second] = await Promise.all([cache.get('logreg', load), cache.get('logreg', load)]);
    expect(first).toBe(second);
    expect(builds).toBe(1);
    const { logits } = await first!.run({ features: { data: new Float32Array([1, 2, 3, 0, 0, 0]), dims: [2, 3] } });
    expect(logits!.dims).toEqual([2, 2]);
    // Zero features give the bias exactly.
    expect(Array.from((logits!.data as Float32Array).subarray(2))).toEqual(
      Array.from(classifierModel.graph.initializers.get('linear.bias')!.data as Float32Array),
    );
  });

  it('refuses missing, unknown, mistyped and misshapen inputs with the input named', async () => {
    const session = await cache.get('logreg', () => classifierModel);
    const ok = new Float32Array(6);
    await expect(session.run({})).rejects.toThrow(/input 'features' \(FLOAT \[batch, 3\]\) is missing/);
    await expect(
      session.run({ features: { data: ok, dims: [2, 3] }, labels: { data: ok, dims: [6] } }),
    ).rejects.toThrow(/unknown input 'labels'; the model's inputs are features/);
    await expect(session.run({ features: { data: new Float64Array(6), dims: [2, 3] } })).rejects.toThrow(
      /input 'features' \(declared float32 \[batch, 3\]\): fed a Float64Array, float32 needs a Float32Array/,
    );
    await expect(session.run({ features: { data: ok, dims: [3, 2] } })).rejects.toThrow(
      /axis 1 is 2, the model fixes it to 3/,
    );
    await expect(session.run({ features: { data: ok, dims: [6] } })).rejects.toThrow(/fed a tensor of rank 1/);
    await expect(session.run({ features: { data: ok, dims: [3, 3] } })).rejects.toThrow(/6 values for dims \[3,3\]/);
    const ort = await loadOrt();
    await expect(session.run({ features: new ort.Tensor('int32', new Int32Array(6), [2, 3]) })).rejects.toThrow(
      /fed a int32 tensor/,
    );
  });

  it('feeds an LM its padded batch', async () => {
    const normal = seededNormal(seededUniform(3));
    const { vocabSize: V, dModel: D, dHidden: F } = KRONFLUENCE_TOKEN_LM;
    const weights = {
      'emb.weight': sampledTensor('float32', [V, D], normal),
      'up.weight': sampledTensor('float32', [F, D], normal),
      'up.bias': sampledTensor('float32', [F], normal),
      'down.weight': sampledTensor('float32', [D, F], normal),
      'down.bias': sampledTensor('float32', [D], normal),
      'unembed.weight': sampledTensor('float32', [V, D], normal),
    };
    const session = await cache.get('token-lm-f32', () => buildKronfluenceTokenLm(weights));
    const batch = padBatch([[1, 2, 3], [4]]);
    const { logits } = await session.run({ input_ids: batch.inputIds, attention_mask: batch.attentionMask });
    expect(logits!.dims).toEqual([2, 3, V]);
    expect(logits!.type).toBe('float32');
    await expect(session.run({ input_ids: batch.inputIds })).rejects.toThrow(
      /input 'attention_mask' \(INT64 \[batch, sequence\]\) is missing/,
    );
  });

  it('says why WebGPU options cannot apply', async () => {
    await expect(ModelSession.create(classifierModel, { gpuOutputs: ['logits'] })).rejects.toThrow(
      /gpuOutputs needs backend 'webgpu'/,
    );
    await expect(ModelSession.create(classifierModel, { backend: 'webgpu' })).rejects.toThrow(
      /does not run on Dawn in Node/,
    );
  });
});
