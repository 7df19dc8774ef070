/**
 * Stage 1: covariance factors A = E[ã ãᵀ] and S = E[g gᵀ] per tracked layer, summed over every non-padding token of
 * the training set and divided by the token count (kronfluence's per-token averages). Labels are sampled from the
 * model (true Fisher) unless the configuration asks for the empirical Fisher.
 */
import type { Backend, Tensor } from '../linalg/backend';
import { fetchBatch } from './batches';
import { runPass, trainingPass } from './chunks';
import { assertFinite } from './errors';
import { hostMatrix, inputWidth, toBackend, toHost } from './host';
import { lambdaSeed } from './lambda';
import { strategyOf } from './strategies';
import type {
  AttributionConfig,
  CovarianceFactors,
  CovarianceState,
  GradientSource,
  LayerInfo,
  RunOptions,
} from './types';
import type { HostMatrix } from '../core/schema';

export interface CovarianceInputs {
  readonly backend: Backend;
  readonly source: GradientSource;
  /** Tracked layers, as indices into source.layers. */
  readonly layerIndices: readonly number[];
  readonly trainSize: number;
  readonly config: AttributionConfig;
}

export function emptyCovarianceState(layers: readonly LayerInfo[]): CovarianceState {
  return {
    nextIndex: 0,
    activationSums: layers.map((l) => hostMatrix([inputWidth(l), inputWidth(l)], new Float64Array(inputWidth(l) ** 2))),
    gradientSums: layers.map((l) => hostMatrix([l.dOut, l.dOut], new Float64Array(l.dOut ** 2))),
    tokenCount: 0,
  };
}

/** Accumulates from `state` to the end of the training set; `saveState` runs after every chunk. */
export async function accumulateCovariances(
  inputs: CovarianceInputs,
  state: CovarianceState,
  options: RunOptions & { saveState?: (state: CovarianceState) => Promise<void> },
): Promise<CovarianceState> {
  const { backend, source, layerIndices, config } = inputs;
  const layers = layerIndices.map((i) => source.layers[i]);
  const activationSums: Tensor[] = state.activationSums.map((m) => toBackend(backend, m));
  const gradientSums: Tensor[] = state.gradientSums.map((m) => toBackend(backend, m));
  let tokenCount = state.tokenCount;
  let current = state;
  const snapshot = async (nextIndex: number, firstIndex: number): Promise<CovarianceState> => {
    const where = `training examples ${firstIndex}–${nextIndex - 1}`;
    const activation: HostMatrix[] = [];
    const gradient: HostMatrix[] = [];
    for (let l = 0; l < layers.length; l++) {
      activation.push(await toHost(backend, activationSums[l]));
      gradient.push(await toHost(backend, gradientSums[l]));
      assertFinite(activation[l].data, 'covariance', layers[l].name, 'the activation covariance sum', where);
      assertFinite(gradient[l].data, 'covariance', layers[l].name, 'the gradient covariance sum', where);
    }
    return { nextIndex, activationSums: activation, gradientSums: gradient, tokenCount };
  };
  try {
    await runPass(
      trainingPass('covariance', inputs.trainSize, state.nextIndex, 'fit', config, options),
      async (indices) => {
        const labels = config.fisher === 'sampled' ? 'sampled' : 'given';
        // The Λ pass will sample with its own seed from the same logits: draw its labels now (lambda.ts).
        const sampleAlso =
          labels === 'sampled' && strategyOf(config.strategy).needsLambda ? [lambdaSeed(config.seed)] : [];
        const request = { role: 'train', indices, labels, seed: config.seed, sampleAlso } as const;
        const batch = await fetchBatch(source, request, backend);
        try {
          layerIndices.forEach((sourceIndex, l) => {
            const layer = batch.layers[sourceIndex];
            backend.accumulateCovariance(activationSums[l], layer.activations, layer.mask, layer.appendOnes);
            backend.accumulateCovariance(gradientSums[l], layer.gradients, layer.mask, false);
          });
          for (const count of batch.tokenCounts) tokenCount += count;
        } finally {
          batch.release();
        }
      },
      async (nextIndex) => {
        const firstIndex = current.nextIndex;
        current = await snapshot(nextIndex, firstIndex);
        await options.saveState?.(current);
      },
    );
    return current;
  } finally {
    backend.release(...activationSums, ...gradientSums);
  }
}

/** A and S from the finished sums: mirrored, divided by the token count, checked. */
export async function finalizeCovariances(
  backend: Backend,
  layers: readonly LayerInfo[],
  state: CovarianceState,
): Promise<CovarianceFactors> {
  if (state.tokenCount <= 0) throw new Error('covariance: the training set has no non-padding tokens');
  const activation: HostMatrix[] = [];
  const gradient: HostMatrix[] = [];
  for (let l = 0; l < layers.length; l++) {
    for (const [sums, out, what] of [
      [state.activationSums[l], activation, 'activation covariance A'],
      [state.gradientSums[l], gradient, 'gradient covariance S'],
    ] as const) {
      const acc = toBackend(backend, sums);
      const full = backend.finalizeCovariance(acc, state.tokenCount);
      const host = await toHost(backend, full);
      backend.release(acc, full);
      assertFinite(host.data, 'covariance', layers[l].name, what, `${state.tokenCount} tokens`);
      out.push(host);
    }
  }
  return { activation, gradient, tokenCount: state.tokenCount };
}
