/**
 * The fit-factors stage (docs/method.md §2): what a strategy needs before any query is scored — the covariances A and
 * S (covariance.ts), their eigenbases (eigen.ts), the eigenvalue correction Λ (lambda.ts) — ending in each layer's
 * damped preconditioner (preconditioner.ts). Each step is skipped when the record already has its result (a resumed
 * run, or imported factors), and checkpoints after every chunk.
 */
import { accumulateCovariances, emptyCovarianceState, finalizeCovariances } from './covariance';
import { eigendecomposeFactors } from './eigen';
import { throwIfAborted } from './errors';
import { accumulateLambda, averageLambda, emptyLambdaState } from './lambda';
import type { KeptLambdaBatches } from './lambda-batches';
import { buildPreconditioner } from './preconditioner';
import type { RunRecord, RunStageInputs } from './run-record';
import { strategyOf } from './strategies';
import type { Preconditioner } from './types';

/** `keep`: where the Λ pass leaves its batches for the first score pass (lambda-batches.ts), or null. */
export async function fitFactors(
  run: RunStageInputs,
  record: RunRecord,
  keep: KeptLambdaBatches | null = null,
): Promise<Preconditioner> {
  const { backend, source, layerIndices, layers, trainSize, config, options } = run;
  const progress = { onProgress: options.onProgress, signal: options.signal };
  const strategy = strategyOf(config.strategy);
  const needsEigen = strategy.needsEigenbasis;

  if (needsEigen && record.current.factors === undefined && record.current.eigen === undefined) {
    const factors = await record.timed('covariance', trainSize, async () => {
      const state = await accumulateCovariances(
        { backend, source, layerIndices, trainSize, config },
        record.current.covariance ?? emptyCovarianceState(layers),
        { ...progress, saveState: (covariance) => record.save({ covariance }) },
      );
      record.merge({ covariance: state });
      return finalizeCovariances(backend, layers, state);
    });
    await record.save({ factors });
  }
  if (needsEigen && record.current.eigen === undefined) {
    const factors = record.current.factors!;
    const eigen = await record.timed('eigen', layers.length, () =>
      eigendecomposeFactors(backend, layers, factors, { ...progress, refine: config.refineEigen }),
    );
    await record.save({ eigen });
  }
  const needsLambda = strategy.needsLambda;
  const lambdaState = record.current.lambda;
  if (needsLambda && (lambdaState === undefined || lambdaState.nextIndex < trainSize)) {
    // Λ in the eigenbasis (ekfac) or in the parameter basis (diagonal: no bases, no rotations).
    const eigen = record.current.eigen;
    const bases = needsEigen
      ? layers.map((_, l) => ({ qS: eigen!.gradientVectors[l], qA: eigen!.activationVectors[l] }))
      : null;
    const lambda = await record.timed('lambda', trainSize, () =>
      accumulateLambda(
        { backend, source, layerIndices, trainSize, config, bases, keep },
        lambdaState ?? emptyLambdaState(layers),
        { ...progress, saveState: (state) => record.save({ lambda: state }) },
      ),
    );
    await record.save({ lambda });
  }
  throwIfAborted(options.signal);
  const { eigen, lambda } = record.current;
  return buildPreconditioner(backend, strategy, config.damping, layers, {
    ...(eigen && { eigen }),
    ...(needsLambda && { lambda: averageLambda(lambda!) }),
  });
}
