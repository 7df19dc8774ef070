/**
 * From kronfluence's raw τ (query loss measurement) to influence on the configured measurement, positive = helps.
 * Derivation (docs/method.md §4): up-weighting n by ε moves θ by −ε(H+δI)⁻¹∇L(n), so the measurement f changes by
 * ε·I(n) with I(n) = −∇fᵀ(H+δI)⁻¹∇L(n).
 *   f = mean log-likelihood of the query's T_q measured tokens = −L_q / T_q  ⇒  I = τ / T_q.
 *   'summed-loss': the loss's decrease, −dL_q/dε = τ                          ⇒  I = τ.
 */
import type { Measurement } from './types';

/** The factor s_q with influence(q, n) = s_q · τ(q, n). */
export function measurementScale(measurement: Measurement, targetCount: number): number {
  if (measurement === 'summed-loss') return 1;
  if (!(targetCount > 0))
    throw new Error(
      `measurement: a query has ${targetCount} measured tokens; the mean log-likelihood needs at least one`,
    );
  return 1 / targetCount;
}

/** influence [Q × N] from τ [Q × N]. */
export function influenceFromTau(
  tau: Float64Array,
  queryTargetCounts: ArrayLike<number>,
  measurement: Measurement,
): Float64Array {
  const queries = queryTargetCounts.length;
  const trainSize = queries === 0 ? 0 : tau.length / queries;
  const out = new Float64Array(tau.length);
  for (let q = 0; q < queries; q++) {
    const scale = measurementScale(measurement, queryTargetCounts[q]);
    for (let n = 0; n < trainSize; n++) out[q * trainSize + n] = scale * tau[q * trainSize + n];
  }
  return out;
}
