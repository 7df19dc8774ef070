/**
 * The fitted factors in the store's layout (kronfluence's: covariance and Λ as sums with their counts), so a run's
 * factors can be saved, exported to kronfluence, or imported from it and scored here.
 */
import type { LayerFactors, ModelFactors } from '../core/schema';
import { hostMatrix } from './host';
import type { StrategyDefinition } from './strategies';
import type { CovarianceState, EigenFactors, LambdaState, LayerInfo } from './types';
import type { Strategy } from '../core/strategy';

/** Mirror the upper triangle: the covariance accumulators keep only it valid until finalisation. */
function symmetricFromUpper(m: { shape: readonly number[]; data: Float64Array }): Float64Array {
  const d = m.shape[0];
  const out = m.data.slice();
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) out[i * d + j] = out[j * d + i];
  return out;
}

export function toModelFactors(
  strategy: Strategy,
  layers: readonly LayerInfo[],
  covariance: CovarianceState | undefined,
  eigen: EigenFactors | undefined,
  lambda: LambdaState | undefined,
): ModelFactors {
  return {
    strategy,
    layers: layers.map((layer, l): LayerFactors => ({
      name: layer.name,
      ...(covariance && {
        activationCovarianceSum: hostMatrix(
          covariance.activationSums[l].shape,
          symmetricFromUpper(covariance.activationSums[l]),
        ),
        activationCount: covariance.tokenCount,
        gradientCovarianceSum: hostMatrix(
          covariance.gradientSums[l].shape,
          symmetricFromUpper(covariance.gradientSums[l]),
        ),
        gradientCount: covariance.tokenCount,
      }),
      ...(eigen && {
        activationEigenvectors: eigen.activationVectors[l],
        activationEigenvalues: eigen.activationValues[l],
        gradientEigenvectors: eigen.gradientVectors[l],
        gradientEigenvalues: eigen.gradientValues[l],
      }),
      ...(lambda && { lambdaSum: lambda.sums[l], lambdaCount: lambda.sequenceCount }),
    })),
  };
}

/** Stage outputs from factors fitted elsewhere (kronfluence, an earlier run): matched to the tracked layers by name. */
export function fromModelFactors(
  factors: ModelFactors,
  definition: StrategyDefinition,
  layers: readonly LayerInfo[],
  trainSize: number,
): { covariance?: CovarianceState; eigen?: EigenFactors; lambda?: LambdaState } {
  const strategy = definition.name;
  if (!definition.needsEigenbasis && !definition.needsLambda) return {};
  if (factors.strategy !== strategy)
    throw new Error(`imported factors are for strategy '${factors.strategy}', the run asks for '${strategy}'`);
  const matched = layers.map((layer) => {
    const found = factors.layers.find((f) => f.name === layer.name);
    if (!found)
      throw new Error(
        `imported factors have no layer "${layer.name}" (they have ${factors.layers.map((f) => f.name).join(', ')})`,
      );
    return found;
  });
  const need = <T>(layer: LayerFactors, part: keyof LayerFactors, value: T | undefined): T => {
    if (value === undefined)
      throw new Error(`imported factors of layer "${layer.name}" lack ${part}, which strategy '${strategy}' needs`);
    return value;
  };
  const out: { covariance?: CovarianceState; eigen?: EigenFactors; lambda?: LambdaState } = {};
  if (definition.needsEigenbasis) {
    out.eigen = {
      activationValues: matched.map((f) => need(f, 'activationEigenvalues', f.activationEigenvalues)),
      activationVectors: matched.map((f) => need(f, 'activationEigenvectors', f.activationEigenvectors)),
      gradientValues: matched.map((f) => need(f, 'gradientEigenvalues', f.gradientEigenvalues)),
      gradientVectors: matched.map((f) => need(f, 'gradientEigenvectors', f.gradientEigenvectors)),
    };
    if (matched.every((f) => f.activationCovarianceSum && f.gradientCovarianceSum && f.activationCount !== undefined)) {
      out.covariance = {
        nextIndex: trainSize,
        activationSums: matched.map((f) => f.activationCovarianceSum!),
        gradientSums: matched.map((f) => f.gradientCovarianceSum!),
        tokenCount: matched[0].activationCount!,
      };
    }
  }
  if (definition.needsLambda) {
    const counts = new Set(matched.map((f) => need(f, 'lambdaCount', f.lambdaCount)));
    if (counts.size !== 1)
      throw new Error(`imported factors: lambdaCount differs between layers (${[...counts].join(', ')})`);
    out.lambda = {
      nextIndex: trainSize,
      sums: matched.map((f) => need(f, 'lambdaSum', f.lambdaSum)),
      sequenceCount: [...counts][0],
    };
  }
  return out;
}
