/**
 * What the workspace's Evaluation view draws of a stored run's evaluation: the bundle's tensors as stored, with each
 * subset's measurement averaged over the R seeds (what the LDS ranks). The LDS, its stored interval and the
 * predictions are the evaluation's own numbers; the two-way intervals and paired differences are computed here from
 * them (src/app/evaluation-paired.ts, seeded).
 */
import type { BundleEvaluation } from '../store/bundle-eval';
import type { EvaluationData } from './evaluation-types';
import { pairedComparisons } from './evaluation-paired';

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
    paired: pairedComparisons(
      // Stored as 0 where a query is unranked (bundles hold no NaN): NaN again, left out of every mean.
      evaluation.strategies.map((s) => ({
        ...s,
        perQuery: Float64Array.from(s.perQuery, (v, i) => (s.ranked[i] ? v : NaN)),
      })),
      measured,
      q,
      m,
      evaluation.info.config.bootstrapSamples,
      evaluation.info.config.seed,
    ),
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
