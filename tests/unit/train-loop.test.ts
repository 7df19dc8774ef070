import { describe, expect, test } from 'vitest';
import { buildGptForward, initGptWeights, type GptConfig } from '../../src/models/gpt';
import { mixtureSampler, trainCausalLm, type TrainingSequence } from '../../src/train/loop';
import { parametersAsInputs } from '../../src/train/parameters';

const config: GptConfig = {
  vocabSize: 10,
  maxPositions: 12,
  dModel: 16,
  nLayer: 1,
  nHead: 2,
  dMlp: 32,
  layerNormEpsilon: 1e-5,
  gelu: 'tanh',
};

/** A learnable task: after the prompt [1, k], the response counts up from k (mod 8, shifted past the specials). */
function countingTask(): TrainingSequence[] {
  return Array.from({ length: 8 }, (_, k) => {
    const start = 2 + k;
    const response = Array.from({ length: 6 }, (_, i) => 2 + ((start - 2 + i + 1) % 8));
    return { inputIds: [1, start, ...response], promptLen: 2 };
  });
}

const trainConfig = {
  steps: 60,
  batchSize: 4,
  peakLearningRate: 3e-2,
  warmupSteps: 5,
  weightDecay: 0.01,
  clipNorm: 1,
  seed: 7,
};

describe('trainCausalLm', () => {
  test('an EP that cannot run the gradient graph stops the training with one message naming the EP and the stage', async () => {
    const forward = buildGptForward(config, initGptWeights(config, 3));
    // In Node the WebGPU EP is refused at session creation: the same path an op the EP cannot compile takes.
    const training = trainCausalLm(
      forward,
      countingTask(),
      { ...trainConfig, steps: 2 },
      { session: { backend: 'webgpu' } },
    );
    await expect(training).rejects.toThrow(
      /^trainCausalLm: the gradient graph's session on the webgpu EP: backend 'webgpu': onnxruntime-web's WebGPU EP/,
    );
  });

  test('learns a small sequence task, and the same seed reproduces the run exactly', async () => {
    const forward = buildGptForward(config, initGptWeights(config, 3));
    const before = Array.from(forward.graph.initializers.get('h.0.mlp.c_fc.weight')!.data as Float32Array);
    const a = await trainCausalLm(forward, countingTask(), trainConfig);
    const historyA = a.history;
    const first = historyA.slice(0, 5).reduce((s, h) => s + h.loss, 0) / 5;
    const last = historyA.slice(-5).reduce((s, h) => s + h.loss, 0) / 5;
    expect(first).toBeGreaterThan(1.8); // ≈ ln 10 at initialisation
    expect(last).toBeLessThan(0.5 * first);

    const b = await trainCausalLm(buildGptForward(config, initGptWeights(config, 3)), countingTask(), trainConfig);
    expect(b.history.map((h) => h.loss)).toEqual(historyA.map((h) => h.loss));
    const trained = (m: typeof a.model) =>
      Array.from(m.graph.initializers.get('h.0.mlp.c_fc.weight')!.data as Float32Array);
    expect(trained(b.model)).toEqual(trained(a.model));
    expect(trained(a.model)).not.toEqual(before);
    expect(Array.from(forward.graph.initializers.get('h.0.mlp.c_fc.weight')!.data as Float32Array)).toEqual(before);
  });

  test('a sequence without response tokens is refused with the step named', async () => {
    const bad = [{ inputIds: [1, 2], promptLen: 2 }];
    await expect(
      trainCausalLm(buildGptForward(config, initGptWeights(config, 1)), bad, { ...trainConfig, steps: 1 }),
    ).rejects.toThrow(/step 0/);
  });
});

describe('mixture sampling and parameter inputs', () => {
  test('draws ∝ weight, never a zero-weight sequence, reproducibly', () => {
    const data = [{ weight: 1 }, { weight: 0 }, { weight: 3 }];
    const draw = mixtureSampler(data, 11);
    const counts = [0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[draw()]! += 1;
    expect(counts[1]).toBe(0);
    expect(counts[2]! / counts[0]!).toBeGreaterThan(2.8);
    expect(counts[2]! / counts[0]!).toBeLessThan(3.2);
    const again = mixtureSampler(data, 11);
    const replay = [0, 0, 0];
    for (let i = 0; i < 40_000; i++) replay[again()]! += 1;
    expect(replay).toEqual(counts);
    expect(() => mixtureSampler([{ weight: -1 }], 1)).toThrow(/sequence 0/);
  });

  test('parametersAsInputs moves initializers to inputs with their shapes, and names a missing one', () => {
    const model = buildGptForward(config, initGptWeights(config, 1));
    const moved = parametersAsInputs(model, ['wte.weight']);
    expect(moved.graph.initializers.has('wte.weight')).toBe(false);
    expect(moved.graph.inputs.find((i) => i.name === 'wte.weight')?.shape).toEqual([10, 16]);
    expect(() => parametersAsInputs(model, ['nope'])).toThrow(/"nope"/);
  });
});
