/** The tests' tiny GPT: one block of width 8 (2 heads, MLP 16), tanh GELU; each test states what it changes. */
import type { GptConfig } from '../../src/models/gpt';

export function tinyGpt(changes: Partial<GptConfig> & Pick<GptConfig, 'vocabSize' | 'maxPositions'>): GptConfig {
  return { dModel: 8, nLayer: 1, nHead: 2, dMlp: 16, layerNormEpsilon: 1e-5, gelu: 'tanh', ...changes };
}

export interface CountingSequence {
  readonly inputIds: number[];
  readonly promptLen: number;
}

/**
 * A task the tiny GPT learns within a few steps (vocabulary 10): after the prompt [1, 2 + k] the response counts up
 * from there mod 8. Eight sequences: the first six to train on, the last two as queries.
 */
export function countingTask(): { train: CountingSequence[]; queries: CountingSequence[] } {
  const sequences = Array.from({ length: 8 }, (_, k) => ({
    inputIds: [1, 2 + k, ...Array.from({ length: 4 }, (_, i) => 2 + ((k + i + 1) % 8))],
    promptLen: 2,
  }));
  return { train: sequences.slice(0, 6), queries: sequences.slice(6) };
}

/** AdamW settings the counting task trains well with, for the given number of steps. */
export function countingTraining(steps: number) {
  return { steps, batchSize: 3, peakLearningRate: 3e-2, warmupSteps: 2, weightDecay: 0.01, clipNorm: 1, seed: 4 };
}
