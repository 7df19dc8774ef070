/**
 * The two kronfluence reference models (tests/fixtures/kronfluence/README.md), built from given weights with
 * their PyTorch parameter names. The fixtures are float64, and so are the graphs: onnxruntime's wasm EP runs float64
 * Gather, MatMul, Add, Gemm, Relu and Tanh, so the fixtures' weights are used as they are, without rounding.
 */
import { GraphBuilder } from '../onnx/builder';
import { DataType, type Model } from '../onnx/ir';
import { linear } from './layers';
import { buildMlpForward, type MlpConfig } from './mlp';
import { requireWeight, weightsDataType, type Weights } from './weights';

/** mlp_classifier: fc1 Linear(6, 16) → ReLU → fc2 Linear(16, 16) → ReLU → fc3 Linear(16, 3). */
export const KRONFLUENCE_MLP_CLASSIFIER: MlpConfig = {
  inputDim: 6,
  hiddenDims: [16, 16],
  outputDim: 3,
  activation: 'relu',
  linearForm: 'gemm',
  task: 'classification',
  layerNames: ['fc1', 'fc2', 'fc3'],
};

export function buildKronfluenceMlpClassifier(weights: Weights): Model {
  return buildMlpForward(KRONFLUENCE_MLP_CLASSIFIER, weights);
}

export interface TokenLmConfig {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly dHidden: number;
}

/**
 * token_lm: vocabulary 12 (token 0 = padding), emb 12×8, up Linear(8, 16), down Linear(16, 8), unembed Linear(8, 12,
 * bias=False).
 */
export const KRONFLUENCE_TOKEN_LM: TokenLmConfig = { vocabSize: 12, dModel: 8, dHidden: 16 };

/**
 * h = emb[ids]; h2 = h + down(tanh(up(h))); logits = unembed(h2). No attention: each position sees only its own
 * token, so attention_mask is an input (the common LM interface) that the graph does not read.
 */
export function buildKronfluenceTokenLm(weights: Weights, config: TokenLmConfig = KRONFLUENCE_TOKEN_LM): Model {
  const floatType = weightsDataType(weights);
  const { vocabSize: V, dModel: D, dHidden: F } = config;
  const b = new GraphBuilder('main_graph');
  const ids = b.input('input_ids', DataType.INT64, ['batch', 'sequence']);
  b.input('attention_mask', DataType.INT64, ['batch', 'sequence']);
  const table = b.initializer('emb.weight', [V, D], requireWeight(weights, 'emb.weight', [V, D]).data);
  const hidden = b.scope('emb', () => b.op1('Gather', [table, ids]));
  const up = linear(b, weights, hidden, { module: 'up', dIn: D, dOut: F, bias: true, layout: 'out-in' }, 'matmul');
  const activated = b.op1('Tanh', [up]);
  const down = linear(
    b,
    weights,
    activated,
    { module: 'down', dIn: F, dOut: D, bias: true, layout: 'out-in' },
    'matmul',
  );
  const residual = b.op1('Add', [hidden, down]);
  const head = { module: 'unembed', dIn: D, dOut: V, bias: false, layout: 'out-in', outputName: 'logits' } as const;
  linear(b, weights, residual, head, 'matmul');
  b.output('logits', floatType, ['batch', 'sequence', V]);
  return b.build({ metadata: { 'iwb.architecture': 'kronfluence-token-lm', 'iwb.config': JSON.stringify(config) } });
}
