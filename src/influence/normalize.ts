/**
 * What a score table shows, always with a label that says so. Raw scores of 1e4–1e7 confuse users, so two
 * normalisations per training example are offered, both defined on the influence I(q, n) (positive = helps):
 *   'self-influence': I(q, n) / √τ(n, n) — divides out the training example's own gradient size under the same
 *                     preconditioner (RelatIF-style); a training example with τ(n, n) = 0 has zero gradient, so 0;
 *   'token-count':    I(q, n) / T_n with T_n the training example's non-padding token count (its "length").
 * 'none' shows I itself. Per-token views (aggregate.ts) say 'sum' or 'mean' over tokens the same way.
 */
import { measurementScale } from './measurement';
import type { AttributionResult } from './types';

export type Normalization = 'none' | 'self-influence' | 'token-count';

/**
 * What a score view reads of a result: a live run's AttributionResult, or a stored run's scores (which keep no
 * per-layer scores or factors; trainTokenCounts is empty when the run kept no per-token scores).
 */
export type ScoredResult = Pick<
  AttributionResult,
  'queries' | 'train' | 'influence' | 'selfTau' | 'trainTokenCounts'
> & {
  readonly config: Pick<AttributionResult['config'], 'measurement'>;
};

/**
 * What the token-level aggregations read (aggregate.ts, eval/segment-effects.ts): the scored view with the per-token
 * τ and the queries' target counts (which give each query's measurement scale).
 */
export type TokenScoredResult = ScoredResult & Pick<AttributionResult, 'queryTargetCounts' | 'tauPerToken'>;

export interface ScoreView {
  /** [Q × N] row-major. */
  readonly values: Float64Array;
  readonly queries: number;
  readonly train: number;
  readonly normalization: Normalization;
  /**
   * A sentence for the UI and exports, e.g. "influence on the mean log-likelihood (positive = helps), ÷
   * √self-influence".
   */
  readonly label: string;
}

const MEASUREMENT_LABEL = {
  'mean-log-likelihood':
    "influence on the query's mean log-likelihood of its measured response tokens (positive = helps)",
  'summed-loss': "influence on the query's summed loss, as its decrease (positive = helps)",
} as const;

const NORMALIZATION_LABEL: Record<Normalization, string> = {
  none: 'not normalised',
  'self-influence': "each training example's score ÷ √(its self-influence τ(n, n))",
  'token-count': "each training example's score ÷ its token count",
};

export function scoreView(result: ScoredResult, normalization: Normalization = 'none'): ScoreView {
  const queries = result.queries.length;
  const train = result.train.length;
  const values = result.influence.slice();
  if (normalization !== 'none') {
    for (let n = 0; n < train; n++) {
      const divisor =
        normalization === 'self-influence' ? Math.sqrt(Math.max(result.selfTau[n], 0)) : result.trainTokenCounts[n];
      for (let q = 0; q < queries; q++) values[q * train + n] = divisor > 0 ? values[q * train + n] / divisor : 0;
    }
  }
  return {
    values,
    queries,
    train,
    normalization,
    label: `${MEASUREMENT_LABEL[result.config.measurement]}; ${NORMALIZATION_LABEL[normalization]}`,
  };
}

/** s_q with influence = s_q · τ for each query (1/T_q for the mean log-likelihood). */
export function queryScales(
  result: Pick<AttributionResult, 'queryTargetCounts'> & { readonly config: ScoredResult['config'] },
): Float64Array {
  return Float64Array.from(result.queryTargetCounts, (count) => measurementScale(result.config.measurement, count));
}
