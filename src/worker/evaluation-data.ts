/**
 * What the workspace's Evaluation view draws of a stored run's evaluation: the bundle's tensors as stored, with each
 * subset's measurement averaged over the R seeds (what the LDS ranks). Nothing is recomputed: the LDS, intervals
 * and predictions are the evaluation's own numbers.
 */
import type { BundleEvaluation } from '../store/bundle-eval';
import type { EvaluationData } from './evaluation-protocol';

export function evaluationData(
  evaluation: BundleEvaluation | null,
  queryIds: readonly string[],
  trainIds: readonly string[],
): EvaluationData {
  if (!evaluation) throw new Error('this run has no evaluation: run one with iwb evaluate --out FILE.iwb or below');
  const { subsets: m, seedsPerSubset: r } = evaluation.info.config;
  const q = queryIds.length;
  const measured = new Float64Array(m * q);
  for (let row = 0; row < m; row++)
    for (let seed = 0; seed < r; seed++)
      for (let i = 0; i < q; i++)
        measured[row * q + i]! += evaluation.subsetMeasurements[(row * r + seed) * q + i]! / r;
  const loo = evaluation.loo;
  return {
    info: evaluation.info,
    queryIds,
    measured,
    strategies: evaluation.strategies,
    loo: loo && {
      trainIds: Array.from(loo.examples, (n) => trainIds[n] ?? `train-${n}`),
      chosen: loo.chosen,
      actual: loo.actual,
    },
  };
}
