/**
 * Per-token loss weights in the training loop (TrainingSequence.tokenWeights, the segment arms of the group-level
 * evidence): weight 1 everywhere is bit for bit the unweighted run; a constant weight leaves the weighted mean loss
 * unchanged; weights that drop a token change the run; all-zero weights take no gradient step.
 */
import { describe, expect, test } from 'vitest';
import { buildGptForward, initGptWeights, type GptConfig } from '../../src/models/gpt';
import { trainCausalLm, type TrainingSequence } from '../../src/train/loop';

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
const task: TrainingSequence[] = Array.from({ length: 6 }, (_, k) => ({
  inputIds: [1, 2 + k, ...Array.from({ length: 5 }, (_, i) => 2 + ((k + i + 1) % 8))],
  promptLen: 2,
}));
const training = {
  steps: 6,
  batchSize: 3,
  peakLearningRate: 3e-2,
  warmupSteps: 1,
  weightDecay: 0,
  clipNorm: 1,
  seed: 5,
};
const weighted = (w: (t: number) => number) =>
  task.map((s) => ({ ...s, tokenWeights: Array.from(s.inputIds, (_, t) => w(t)) }));
const parameter = (m: Awaited<ReturnType<typeof trainCausalLm>>) =>
  Array.from(m.model.graph.initializers.get('h.0.mlp.c_fc.weight')!.data as Float32Array);

describe('trainCausalLm token weights', () => {
  test('weight 1 everywhere is the unweighted run, bit for bit; weight 2 everywhere keeps the mean loss', async () => {
    const forward = buildGptForward(config, initGptWeights(config, 3));
    const plain = await trainCausalLm(forward, task, training);
    const ones = await trainCausalLm(
      forward,
      weighted(() => 1),
      training,
    );
    expect(parameter(ones)).toEqual(parameter(plain));
    const twos = await trainCausalLm(
      forward,
      weighted(() => 2),
      training,
    );
    twos.history.forEach((h, i) => expect(h.loss).toBeCloseTo(plain.history[i]!.loss, 5));
    expect(twos.history[0]!.tokens).toBe(2 * plain.history[0]!.tokens);
  });

  test('dropping the last response tokens changes the objective; dropping every token takes no step', async () => {
    const forward = buildGptForward(config, initGptWeights(config, 3));
    const plain = await trainCausalLm(forward, task, training);
    const firstOnly = await trainCausalLm(
      forward,
      weighted((t) => (t < 4 ? 1 : 0)),
      training,
    );
    // Two predicted tokens per example (positions 2 and 3) instead of five.
    expect(firstOnly.history[0]!.tokens).toBe((2 / 5) * plain.history[0]!.tokens);
    expect(firstOnly.history[0]!.loss).not.toBeCloseTo(plain.history[0]!.loss, 3);
    const none = await trainCausalLm(
      forward,
      weighted(() => 0),
      training,
    );
    expect(none.history.every((h) => h.loss === 0 && h.tokens === 0)).toBe(true);
    const initial = Array.from(forward.graph.initializers.get('h.0.mlp.c_fc.weight')!.data as Float32Array);
    expect(parameter(none)).toEqual(initial);
  });
});
