/**
 * Stage 2: eigendecomposition of the (symmetric) covariance factors, per layer: A = Q_A diag(λ_A) Q_Aᵀ, S likewise.
 * On the host when the backend offers it (Backend.eighHost: WebGPU splits a factor over one binding into blocks
 * without holding it whole), else through the backend's tensors.
 * With `refine`, each backend eigenbasis is refined in float64 on the host (a float32 GPU basis then has float64
 * residuals, as kronfluence's float64 eigh).
 */
import type { Backend } from '../linalg/backend';
import { refineEigenCpu } from '../linalg/cpu/refine';
import { ProgressMeter } from './chunks';
import { assertFinite, throwIfAborted } from './errors';
import { hostMatrix, toBackend, toHost } from './host';
import type { CovarianceFactors, EigenFactors, LayerInfo, RunOptions } from './types';
import type { HostMatrix } from '../core/schema';

export async function eigendecomposeFactors(
  backend: Backend,
  layers: readonly LayerInfo[],
  factors: CovarianceFactors,
  options: RunOptions & { readonly refine?: boolean },
): Promise<EigenFactors> {
  const out = {
    activationValues: [] as HostMatrix[],
    activationVectors: [] as HostMatrix[],
    gradientValues: [] as HostMatrix[],
    gradientVectors: [] as HostMatrix[],
  };
  const meter = new ProgressMeter('eigen', 'layers', layers.length, 0, options.onProgress);
  meter.report(0);
  for (let l = 0; l < layers.length; l++) {
    throwIfAborted(options.signal);
    for (const [matrix, values, vectors, what] of [
      [factors.activation[l], out.activationValues, out.activationVectors, 'A'],
      [factors.gradient[l], out.gradientValues, out.gradientVectors, 'S'],
    ] as const) {
      let hostValues: HostMatrix;
      let hostVectors: HostMatrix;
      const d = matrix.shape[0];
      try {
        if (backend.eighHost) {
          // WebGPU: a factor over one storage binding is split into blocks and never held whole on the GPU.
          const eigen = await backend.eighHost(matrix.data, d);
          hostValues = hostMatrix([d], eigen.values);
          hostVectors = hostMatrix([d, d], eigen.vectors);
        } else {
          ({ hostValues, hostVectors } = await decompose(backend, matrix));
        }
      } catch (error) {
        // A lost device stays itself: the worker resumes the run on a new one.
        if ((error as Error).name === 'DeviceLostError') throw error;
        throw new Error(
          `eigen: eigendecomposition of ${what} [${matrix.shape.join(' × ')}] of layer "${layers[l].name}" failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      if (options.refine) {
        const refined = refineEigenCpu(matrix.data, d, hostVectors.data, {
          caller: `eigen: layer "${layers[l].name}" ${what}`,
        });
        hostValues = hostMatrix([d], refined.values);
        hostVectors = hostMatrix([d, d], refined.vectors);
      }
      assertFinite(
        hostValues.data,
        'eigen',
        layers[l].name,
        `the eigenvalues of ${what}`,
        `${matrix.shape[0]} × ${matrix.shape[1]}`,
      );
      assertFinite(
        hostVectors.data,
        'eigen',
        layers[l].name,
        `the eigenvectors of ${what}`,
        `${matrix.shape[0]} × ${matrix.shape[1]}`,
      );
      values.push(hostValues);
      vectors.push(hostVectors);
    }
    meter.report(l + 1);
  }
  return out;
}

async function decompose(
  backend: Backend,
  matrix: HostMatrix,
): Promise<{ hostValues: HostMatrix; hostVectors: HostMatrix }> {
  const tensor = toBackend(backend, matrix);
  try {
    const eigen = await backend.eigh(tensor);
    const hostValues = await toHost(backend, eigen.values);
    const hostVectors = await toHost(backend, eigen.vectors);
    backend.release(eigen.values, eigen.vectors);
    return { hostValues, hostVectors };
  } finally {
    backend.release(tensor);
  }
}
