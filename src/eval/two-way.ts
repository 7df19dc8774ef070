/**
 * The statistics of the evaluation protocol (issue 24 §2), in float64:
 *
 * - LDS on a block of the design: per query, Spearman's ρ between predicted and measured values across the chosen
 *   subsets; the block's LDS is the mean over its queries (queries whose ρ is undefined are left out).
 * - Two-way bootstrap: the LDS varies with the queries AND with the subsets drawn, so each resample draws the queries
 *   with replacement and, independently, the subsets with replacement, and recomputes every per-query ρ on the drawn
 *   subsets (a subset drawn twice counts twice; average ranks resolve the ties). The 95 % interval is the 2.5 / 97.5 %
 *   percentiles of the resampled means (numpy's linear interpolation). A one-way bootstrap over queries alone treats
 *   the subsets as fixed and gives intervals that are too narrow.
 * - Paired comparison of two strategies on the same retrains: per query d_q = ρ_A(q) − ρ_B(q); the mean of d with
 *   a two-way bootstrap interval (both strategies see the SAME resampled queries and subsets), and a sign-flip
 *   permutation p-value (H0: d_q symmetric about 0): p = share of sign patterns whose |mean| reaches the observed
 *   |mean|, over all 2^n patterns when n ≤ 16 (exact), else over `samples` seeded random patterns, counted as
 *   (1 + hits) / (1 + samples) so that p is never 0.
 */
import { seededUniform } from '../core/random';
import { spearman } from '../core/stats';

/** Per query of `queries`, ρ across `subsets` (rows of [M × Q] arrays; `measured` is the seed mean). */
export function blockSpearman(
  predicted: Float64Array,
  measured: Float64Array,
  querySize: number,
  queries: ArrayLike<number>,
  subsets: ArrayLike<number>,
): Float64Array {
  return Float64Array.from(queries, (q) => {
    const p = Array.from(subsets, (m) => predicted[m * querySize + q]!);
    const f = Array.from(subsets, (m) => measured[m * querySize + q]!);
    return spearman(p, f);
  });
}

/** Mean of the finite values; NaN when there is none. */
export function finiteMean(values: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      sum += values[i]!;
      count++;
    }
  }
  return count === 0 ? NaN : sum / count;
}

export interface Interval {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  /** Queries with a finite value (for a difference: finite for both strategies). */
  readonly count: number;
}

export interface TwoWayResult {
  /** Per strategy (in the order given): mean LDS over the block with its two-way interval. */
  readonly lds: readonly Interval[];
  /** Per pair [a, b] asked for: mean of ρ_a − ρ_b over the block's queries with its two-way interval. */
  readonly differences: readonly Interval[];
}

/**
 * Two-way (queries × subsets) percentile bootstrap of each strategy's LDS and of the paired differences, over the
 * block (queries, subsets) of the design. Takes the arguments of {@link twoWayDraws}, which draws the resamples.
 */
export function twoWayBootstrap(...args: Parameters<typeof twoWayDraws>): TwoWayResult {
  const [predictions, measured, querySize, queries, subsets, pairs] = args;
  const observed = predictions.map((p) => blockSpearman(p, measured, querySize, queries, subsets));
  const draws = twoWayDraws(...args);
  return {
    lds: observed.map((r, k) => interval(finiteMean(r), countFinite(r), draws.lds[k]!)),
    differences: pairs.map(([a, b], k) => {
      const d = differences(observed[a]!, observed[b]!);
      return interval(finiteMean(d), countFinite(d), draws.differences[k]!);
    }),
  };
}

/**
 * The bootstrap's resampled statistics: per strategy the mean LDS of each resample [samples], per pair the mean
 * difference (NaN where a resample has no rankable query). One seeded stream: per resample, first the |queries|
 * query draws, then the |subsets| subset draws, each index = floor(u · count).
 */
export function twoWayDraws(
  predictions: readonly Float64Array[],
  measured: Float64Array,
  querySize: number,
  queries: ArrayLike<number>,
  subsets: ArrayLike<number>,
  pairs: readonly (readonly [number, number])[],
  samples: number,
  seed: number,
): { lds: Float64Array[]; differences: Float64Array[] } {
  if (!(Number.isInteger(samples) && samples >= 1))
    throw new Error(`bootstrap: samples must be a positive integer, got ${samples}`);
  if (queries.length < 1) throw new Error('two-way bootstrap: no queries in the block');
  if (subsets.length < 3)
    throw new Error(`two-way bootstrap: ${subsets.length} subsets in the block; needs at least 3`);
  const lds = predictions.map(() => new Float64Array(samples));
  const diffs = pairs.map(() => new Float64Array(samples));
  const uniform = seededUniform(seed);
  const drawnQueries = new Int32Array(queries.length);
  const drawnSubsets = new Int32Array(subsets.length);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < queries.length; i++) drawnQueries[i] = queries[Math.floor(uniform() * queries.length)]!;
    for (let i = 0; i < subsets.length; i++) drawnSubsets[i] = subsets[Math.floor(uniform() * subsets.length)]!;
    const rho = predictions.map((p) => blockSpearman(p, measured, querySize, drawnQueries, drawnSubsets));
    rho.forEach((r, k) => (lds[k]![s] = finiteMean(r)));
    pairs.forEach(([a, b], k) => (diffs[k]![s] = finiteMean(differences(rho[a]!, rho[b]!))));
  }
  return { lds, differences: diffs };
}

/** ρ_a − ρ_b per query; NaN where either is undefined. */
export function differences(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!);
}

export interface SignFlip {
  readonly p: number;
  /** Sign patterns counted (2^n when exact). */
  readonly patterns: number;
  readonly exact: boolean;
}

/** Largest n enumerated exactly (2^16 patterns). */
export const EXACT_SIGN_FLIP_LIMIT = 16;

/** Two-sided sign-flip permutation p-value of the mean of the finite values of d (see the file comment). */
export function signFlipPValue(d: ArrayLike<number>, samples: number, seed: number): SignFlip {
  const values = Array.from(d).filter(Number.isFinite);
  const n = values.length;
  if (n === 0) return { p: NaN, patterns: 0, exact: false };
  const observed = Math.abs(values.reduce((s, v) => s + v, 0));
  // Sums equal to the observed one up to rounding must count as reaching it (the identity pattern always does).
  const tolerance = 1e-12 * values.reduce((s, v) => s + Math.abs(v), 0);
  const reaches = (sum: number) => Math.abs(sum) >= observed - tolerance;
  if (n <= EXACT_SIGN_FLIP_LIMIT) {
    const patterns = 2 ** n;
    let hits = 0;
    for (let mask = 0; mask < patterns; mask++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += mask & (1 << i) ? -values[i]! : values[i]!;
      if (reaches(sum)) hits++;
    }
    return { p: hits / patterns, patterns, exact: true };
  }
  if (!(Number.isInteger(samples) && samples >= 1))
    throw new Error(`sign-flip test: samples must be a positive integer, got ${samples}`);
  const uniform = seededUniform(seed);
  let hits = 0;
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += uniform() < 0.5 ? -values[i]! : values[i]!;
    if (reaches(sum)) hits++;
  }
  return { p: (1 + hits) / (1 + samples), patterns: samples, exact: false };
}

function countFinite(values: ArrayLike<number>): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) count++;
  return count;
}

function interval(mean: number, count: number, draws: Float64Array): Interval {
  const finite = Float64Array.from(Array.from(draws).filter(Number.isFinite)).sort();
  if (finite.length === 0) return { mean, low: NaN, high: NaN, count };
  return { mean, low: percentile(finite, 0.025), high: percentile(finite, 0.975), count };
}

/** Linear interpolation between order statistics (numpy's default) of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  const position = p * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (position - below) * (sorted[above]! - sorted[below]!);
}
