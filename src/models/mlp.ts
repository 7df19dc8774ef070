/**
 * Feature models as plain forward ONNX graphs: an MLP classifier/regressor, and its one-layer special cases, linear
 * regression and multiclass logistic regression (for teaching). PyTorch nn.Linear parameters ('fc1.weight'
 * [out, in], 'fc1.bias' [out]).
 *
 * Input: features [batch, inputDim]. Output: 'logits' [batch, outputDim] (classification: softmax in the loss) or
 * 'outputs' [batch, outputDim] (regression). The task is also recorded in the model metadata ('iwb.task').
 */
import { GraphBuilder } from '../onnx/builder';
import type { Model } from '../onnx/ir';
import { linear, type LinearForm } from './layers';
import { sampledTensor, weightsDataType, type FloatDtype, type WeightTensor, type Weights } from './weights';
import { seededUniform } from '../core/random';

/** 'linear' puts no activation between layers: a deep linear network (an exact test case for EK-FAC). */
export type MlpActivation = 'relu' | 'tanh' | 'linear';
export type MlpTask = 'classification' | 'regression';

export interface MlpConfig {
  readonly inputDim: number;
  /** Widths of the hidden layers; [] gives a single linear layer. */
  readonly hiddenDims: readonly number[];
  readonly outputDim: number;
  readonly activation: MlpActivation;
  /** 'gemm' (torch.onnx on 2-D inputs) or 'matmul' (MatMul + Add, as for 3-D inputs). */
  readonly linearForm: LinearForm;
  readonly task: MlpTask;
  /** Module name of each linear layer; default fc1, fc2, ... */
  readonly layerNames?: readonly string[];
}

export function mlpLayerNames(config: MlpConfig): string[] {
  const count = config.hiddenDims.length + 1;
  const names = config.layerNames ? [...config.layerNames] : Array.from({ length: count }, (_, i) => `fc${i + 1}`);
  if (names.length !== count)
    throw new Error(`MlpConfig.layerNames has ${names.length} names for ${count} linear layers`);
  return names;
}

/** Linear layer dims [dIn, dOut] in order. */
export function mlpLayerDims(config: MlpConfig): [number, number][] {
  const widths = [config.inputDim, ...config.hiddenDims, config.outputDim];
  for (const width of widths)
    if (!Number.isInteger(width) || width < 1)
      throw new Error(`MlpConfig: layer width ${width} is not a positive integer`);
  return widths.slice(1).map((dOut, i) => [widths[i]!, dOut]);
}

export function linearRegressionConfig(inputDim: number, outputDim = 1): MlpConfig {
  return {
    inputDim,
    hiddenDims: [],
    outputDim,
    activation: 'linear',
    linearForm: 'gemm',
    task: 'regression',
    layerNames: ['linear'],
  };
}

export function logisticRegressionConfig(inputDim: number, classes: number): MlpConfig {
  return {
    inputDim,
    hiddenDims: [],
    outputDim: classes,
    activation: 'linear',
    linearForm: 'gemm',
    task: 'classification',
    layerNames: ['linear'],
  };
}

/** PyTorch's nn.Linear default: weight and bias uniform in ±1/√d_in. */
export function initMlpWeights(config: MlpConfig, seed: number, dtype: FloatDtype = 'float32'): Weights {
  const uniform = seededUniform(seed);
  const names = mlpLayerNames(config);
  const weights: Record<string, WeightTensor> = {};
  mlpLayerDims(config).forEach(([dIn, dOut], i) => {
    const bound = 1 / Math.sqrt(dIn);
    const sample = () => (2 * uniform() - 1) * bound;
    weights[`${names[i]}.weight`] = sampledTensor(dtype, [dOut, dIn], sample);
    weights[`${names[i]}.bias`] = sampledTensor(dtype, [dOut], sample);
  });
  return weights;
}

export function buildMlpForward(config: MlpConfig, weights: Weights): Model {
  const floatType = weightsDataType(weights);
  const names = mlpLayerNames(config);
  const b = new GraphBuilder('main_graph');
  const outputName = config.task === 'classification' ? 'logits' : 'outputs';
  let hidden = b.input('features', floatType, ['batch', config.inputDim]);
  const layers = mlpLayerDims(config);
  layers.forEach(([dIn, dOut], i) => {
    const isLast = i === layers.length - 1;
    const spec = {
      module: names[i]!,
      dIn,
      dOut,
      bias: true,
      layout: 'out-in' as const,
      outputName: isLast ? outputName : undefined,
    };
    hidden = linear(b, weights, hidden, spec, config.linearForm);
    if (!isLast && config.activation !== 'linear')
      hidden = b.op1(config.activation === 'relu' ? 'Relu' : 'Tanh', [hidden]);
  });
  b.output(outputName, floatType, ['batch', config.outputDim]);
  return b.build({
    metadata: { 'iwb.architecture': 'mlp', 'iwb.task': config.task, 'iwb.config': JSON.stringify(config) },
  });
}
