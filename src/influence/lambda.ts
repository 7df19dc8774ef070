/**
 * Stage 3: eigenvalue correction Λ = mean over sequences of (Q_Sᵀ G(n) Q_A)∘², G(n) = Σ_t g ãᵀ from per-sequence
 * gradients (second pass, labels sampled again unless empirical). Without bases this is the 'diagonal'
 * strategy's Λ_diag = mean_n G(n)∘² in the parameter basis.
 */
import type { Backend, Tensor } from '../linalg/backend';
import { fetchBatch } from './batches';
import { runPass, trainingPass } from './chunks';
import { assertFinite } from './errors';
import { hostMatrix, inputWidth, toBackend, toHost } from './host';
import type { KeptLambdaBatches } from './lambda-batches';
import type { AttributionConfig, GradientSource, LambdaState, LayerInfo, RunOptions } from './types';
import type { HostMatrix } from '../core/schema';

export interface LambdaInputs {
  readonly backend: Backend;
  readonly source: GradientSource;
  readonly layerIndices: readonly number[];
  readonly trainSize: number;
  readonly config: AttributionConfig;
  /** Per layer, the bases Q_S [dOut, dOut] and Q_A [dIn', dIn']; null: Λ in the parameter basis (diagonal). */
  readonly bases: readonly { readonly qS: HostMatrix; readonly qA: HostMatrix }[] | null;
  /** Where to keep the pass's batches for the first score pass (lambda-batches.ts); absent: each is released. */
  readonly keep?: KeptLambdaBatches | null;
}

/**
 * The Λ pass samples its labels afresh ("sampled labels again"): its seed differs from the covariance pass's, so the
 * two passes draw independent labels (still a pure function of the run's seed).
 */
export function lambdaSeed(seed: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2f) + 0x165667b1) >>> 0;
}

export function emptyLambdaState(layers: readonly LayerInfo[]): LambdaState {
  return {
    nextIndex: 0,
    sums: layers.map((l) => hostMatrix([l.dOut, inputWidth(l)], new Float64Array(l.dOut * inputWidth(l)))),
    sequenceCount: 0,
  };
}

export async function accumulateLambda(
  inputs: LambdaInputs,
  state: LambdaState,
  options: RunOptions & { saveState?: (state: LambdaState) => Promise<void> },
): Promise<LambdaState> {
  const { backend, source, layerIndices, config } = inputs;
  const layers = layerIndices.map((i) => source.layers[i]);
  const sums: Tensor[] = state.sums.map((m) => toBackend(backend, m));
  const qS = inputs.bases?.map((b) => toBackend(backend, b.qS)) ?? null;
  const qA = inputs.bases?.map((b) => toBackend(backend, b.qA)) ?? null;
  let sequenceCount = state.sequenceCount;
  let current = state;
  try {
    await runPass(
      trainingPass('lambda', inputs.trainSize, state.nextIndex, 'fit', config, options),
      async (indices) => {
        const labels = config.fisher === 'sampled' ? 'sampled' : 'given';
        const batch = await fetchBatch(
          source,
          { role: 'train', indices, labels, seed: lambdaSeed(config.seed) },
          backend,
        );
        let kept = false;
        try {
          layerIndices.forEach((sourceIndex, l) =>
            backend.accumulateLambda(sums[l], batch.layers[sourceIndex], qS?.[l] ?? null, qA?.[l] ?? null),
          );
          sequenceCount += indices.length;
          kept = inputs.keep?.offer(indices, batch) ?? false;
        } finally {
          if (!kept) batch.release();
        }
      },
      async (nextIndex) => {
        const where = `training examples ${current.nextIndex}–${nextIndex - 1}`;
        const host: HostMatrix[] = [];
        for (let l = 0; l < layers.length; l++) {
          host.push(await toHost(backend, sums[l]));
          assertFinite(host[l].data, 'lambda', layers[l].name, 'the eigenvalue-correction sum Λ', where);
        }
        current = { nextIndex, sums: host, sequenceCount };
        await options.saveState?.(current);
      },
    );
    return current;
  } finally {
    backend.release(...sums, ...(qS ?? []), ...(qA ?? []));
  }
}

/** Λ averaged over sequences. */
export function averageLambda(state: LambdaState): HostMatrix[] {
  if (state.sequenceCount <= 0) throw new Error('lambda: the training set is empty');
  return state.sums.map((m) =>
    hostMatrix(
      m.shape,
      m.data.map((v) => v / state.sequenceCount),
    ),
  );
}
