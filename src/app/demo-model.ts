/**
 * Until the trained demo model is in public/, the demo runs a GPT of the same family with GPT-2's seeded
 * initialisation: the whole path (autodiff, sessions, stages, views) is real, only the weights are untrained, so its
 * rankings mean nothing yet. The sizes keep the default demo run within minutes on a 2-core CPU.
 */
import type { DemoVariant } from '../data/dataset';
import type { Model } from '../onnx/ir';
import { buildGptForward, initGptWeights, type GptConfig } from '../models/gpt';

const SHAPES: Readonly<Record<DemoVariant, Pick<GptConfig, 'dModel' | 'nLayer' | 'nHead' | 'dMlp'>>> = {
  demo: { dModel: 64, nLayer: 2, nHead: 4, dMlp: 256 },
  after: { dModel: 64, nLayer: 2, nHead: 4, dMlp: 256 },
  micro: { dModel: 16, nLayer: 1, nHead: 2, dMlp: 32 },
};

export const SEEDED_DEMO_SEED = 0;

/** The seeded demo GPT's configuration (its weights: initGptWeights(config, SEEDED_DEMO_SEED, 'float32')). */
export function seededDemoConfig(variant: DemoVariant, vocabSize: number, maxPositions: number): GptConfig {
  return { ...SHAPES[variant], vocabSize, maxPositions, layerNormEpsilon: 1e-5, gelu: 'tanh' };
}

export function seededDemoModel(
  variant: DemoVariant,
  vocabSize: number,
  maxPositions: number,
  seed = SEEDED_DEMO_SEED,
): { model: Model; description: string } {
  const config = seededDemoConfig(variant, vocabSize, maxPositions);
  const model = buildGptForward(config, initGptWeights(config, seed, 'float32'));
  const description =
    `untrained GPT (seed ${seed}, ${config.nLayer} layers, d_model ${config.dModel}, d_mlp ${config.dMlp}, ` +
    `vocab ${vocabSize}) from src/models/gpt.ts`;
  return { model, description };
}
