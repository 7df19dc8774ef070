/**
 * A GPT-2-small-sized run, generated at run time and seeded (nothing of its 650 MB is committed): the project's graph
 * builder in torch.onnx's layout (src/models/gpt.ts) with GPT-2 small's shapes (V 50,257, d 768, 12 blocks of 12 heads,
 * MLP 3,072, untied head, 1,024 positions, random GPT-2 initialisation) and sequences of random token ids with a
 * prompt/response split. For benchmarks of the engine at that scale, not for meaningful influence.
 */
import type { RunInputs } from '../src/app/inputs';
import type { Example } from '../src/data/dataset';
import { buildGptForward, initGptWeights, type GptConfig } from '../src/models/gpt';
import { seededUniform } from '../src/core/random';

export const GPT2_SMALL: GptConfig = {
  vocabSize: 50257,
  maxPositions: 1024,
  dModel: 768,
  nLayer: 12,
  nHead: 12,
  dMlp: 3072,
  layerNormEpsilon: 1e-5,
  gelu: 'tanh',
};

/** `train` and `queries` sequences of 64–95 tokens (the first 16 the prompt), domains alternating math and code. */
export function gpt2SmallInputs(train: number, queries: number, seed = 0): RunInputs {
  const model = buildGptForward(GPT2_SMALL, initGptWeights(GPT2_SMALL, seed, 'float32'));
  const uniform = seededUniform(seed + 1);
  const examples = (count: number, role: string): Example[] =>
    Array.from({ length: count }, (_, i) => {
      const length = 64 + Math.floor(uniform() * 32);
      return {
        id: `${role}-${i}`,
        domain: i % 2 === 0 ? 'math' : 'code',
        inputIds: Int32Array.from({ length }, () => Math.floor(uniform() * GPT2_SMALL.vocabSize)),
        promptLen: 16,
        segments: [],
        tokenCategories: new Uint8Array(length),
        extra: {},
      };
    });
  return {
    model,
    modelName: `GPT-2-small-sized GPT (seed ${seed}, V 50257, d 768, 12 blocks, MLP 3072, random weights)`,
    modelBytes: null,
    tokenizer: undefined,
    train: examples(train, 'train'),
    queries: examples(queries, 'query'),
    subsample: null,
    sample: null,
  };
}
