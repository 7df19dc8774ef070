/** The tests' tiny GPT: one block of width 8 (2 heads, MLP 16), tanh GELU; each test states what it changes. */
import type { GptConfig } from '../../src/models/gpt';

export function tinyGpt(changes: Partial<GptConfig> & Pick<GptConfig, 'vocabSize' | 'maxPositions'>): GptConfig {
  return { dModel: 8, nLayer: 1, nHead: 2, dMlp: 16, layerNormEpsilon: 1e-5, gelu: 'tanh', ...changes };
}
