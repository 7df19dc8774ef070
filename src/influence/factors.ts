/**
 * The fitted factors in the store's layout (kronfluence's: covariance and Λ as sums with their counts), so a run's
 * factors can be saved, exported to kronfluence, or imported from it and scored here.
 */
import type { LayerFactors, ModelFactors } from '../store/types';
import { hostMatrix } from './host';
import type { CovarianceState, EigenFactors, LambdaState, LayerInfo, Strategy } from './types';

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
        activationCovarianceSum: hostMatrix(covariance.activationSums[l].shape, symmetricFromUpper(covariance.activationSums[l])),
        activationCount: covariance.tokenCount,
        gradientCovarianceSum: hostMatrix(covariance.gradientSums[l].shape, symmetricFromUpper(covariance.gradientSums[l])),
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
