/**
 * Group-level evidence (issue 24 §3): does removing or up-weighting a group of training examples (a domain ×
 * difficulty cell, a segment type) move a benchmark's measurement the way the group's summed influence predicts?
 * Pure float64 statistics over retrained measurements; the retraining is in ./group-run.ts, the orchestration in
 * src/app/group-evidence-job.ts. The formulas are stated in docs/experiments/groups.md.
 *
 * A *point* is one (group, arm) on one benchmark: its predicted change x (first order, docs/method.md §4: a
 * reweighting w of the N pool examples changes the measurement by Σₙ (wₙ − 1)·I(n) / N; for the group alone that is
 * −Σ_G I / N on removal and (k − 1)·Σ_G I / N on up-weighting by k, plus the compensating weight given to the rest
 * of the domain) and its actual changes yₛ, one per seed s: the arm's measurement minus the same seed's unchanged
 * baseline (same initialisation, same batch seed), i.e. paired. Per benchmark:
 *   - calibration slope through the origin b₀ = Σ x·ȳ / Σ x², and the least-squares line ȳ ≈ a + b·x;
 *   - sign accuracy: the share of points where sign(ȳ) = sign(x);
 *   - group-LDS: Spearman correlation over the points between x and ȳ;
 *   - the noise ceiling: the split-half reliability of ȳ over seeds (Spearman between the means of two random
 *     halves of the seeds, averaged over splits, stepped up to the full set by Spearman–Brown r' = 2r / (1 + r)); its
 *     square root bounds the correlation any predictor can reach with ȳ measured with that noise, and the
 *     reliability-normalised group-LDS is group-LDS / √r'.
 * Every interval is a two-way percentile bootstrap: seeds and points are resampled together (the statistic is
 * recomputed on the resampled points' means over the resampled seeds), so it carries both the retraining noise and
 * which groups happen to be in the set.
 */
import { seededUniform } from '../core/random';
import { spearman } from '../core/stats';
import { percentile } from './two-way';

export interface GroupPoint {
  readonly group: string;
  readonly arm: string;
  /** The first-order predicted change of the measurement. */
  readonly predicted: number;
  /** Per seed (the same seeds, in the same order, for every point): arm − that seed's baseline. */
  readonly actual: readonly number[];
}

export interface Estimate {
  readonly value: number;
  /** Two-way bootstrap 95 % percentile interval (NaN when no resample had a defined value). */
  readonly low: number;
  readonly high: number;
}

export interface GroupEvidence {
  readonly points: number;
  readonly seeds: number;
  readonly slopeThroughOrigin: Estimate;
  readonly slope: Estimate;
  readonly intercept: Estimate;
  readonly signAccuracy: Estimate;
  readonly groupLds: Estimate;
  /** Split-half reliability of the mean actual change over seeds, Spearman–Brown corrected. */
  readonly reliability: number;
  /** group-LDS / √reliability; null when the reliability is not positive (the noise hides any ranking). */
  readonly normalisedLds: number | null;
}

export const GROUP_BOOTSTRAP = { samples: 2000, splits: 200, seed: 20261224 } as const;

/** b₀ = Σxy / Σx²: the slope of y ≈ b·x. NaN when every x is 0. */
export function slopeThroughOrigin(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let xy = 0;
  let xx = 0;
  for (let i = 0; i < x.length; i++) {
    xy += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
  }
  return xx > 0 ? xy / xx : NaN;
}

/** Ordinary least squares y ≈ a + b·x (centred sums, float64). NaN when x is constant. */
export function leastSquares(x: ArrayLike<number>, y: ArrayLike<number>): { slope: number; intercept: number } {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]! / n;
    my += y[i]! / n;
  }
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : NaN;
  return { slope, intercept: my - slope * mx };
}

/** The share of points whose actual change has the predicted sign (a 0 on either side counts as a miss). */
export function signAccuracy(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let hits = 0;
  for (let i = 0; i < x.length; i++) if (Math.sign(x[i]!) !== 0 && Math.sign(x[i]!) === Math.sign(y[i]!)) hits++;
  return x.length ? hits / x.length : NaN;
}

/** Each point's mean actual change over the given seed columns (with repeats, as a bootstrap draws them). */
export function meanActual(points: readonly GroupPoint[], columns: ArrayLike<number>): Float64Array {
  return Float64Array.from(points, (p) => {
    let sum = 0;
    for (let c = 0; c < columns.length; c++) sum += p.actual[columns[c]!]!;
    return sum / columns.length;
  });
}

/**
 * Split-half reliability over seeds: the seeds are split at random into two halves (⌊S/2⌋ each; an odd one out is
 * left out), the Spearman correlation between the points' mean actual change in the two halves is averaged over
 * `splits` splits, and stepped up to the full number of seeds by Spearman–Brown, r' = 2r / (1 + r).
 */
export function splitHalfReliability(points: readonly GroupPoint[], splits: number, seed: number): number {
  const seeds = points[0]?.actual.length ?? 0;
  if (seeds < 2 || points.length < 3) return NaN;
  const uniform = seededUniform(seed);
  const half = Math.floor(seeds / 2);
  let sum = 0;
  let count = 0;
  for (let s = 0; s < splits; s++) {
    const order = Array.from({ length: seeds }, (_, i) => i);
    for (let i = seeds - 1; i > 0; i--) {
      const j = Math.floor(uniform() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const r = spearman(meanActual(points, order.slice(0, half)), meanActual(points, order.slice(half, 2 * half)));
    if (Number.isFinite(r)) {
      sum += r;
      count++;
    }
  }
  if (count === 0) return NaN;
  const r = sum / count;
  return (2 * r) / (1 + r);
}

type Statistic = (x: Float64Array, y: Float64Array) => number;

/** The statistic on the points as given, and its two-way (points × seeds) percentile bootstrap interval. */
export function twoWayEstimate(
  points: readonly GroupPoint[],
  statistic: Statistic,
  samples: number,
  seed: number,
): Estimate {
  const seeds = points[0]?.actual.length ?? 0;
  const all = Float64Array.from({ length: seeds }, (_, i) => i);
  const x = Float64Array.from(points, (p) => p.predicted);
  const value = statistic(x, meanActual(points, all));
  const uniform = seededUniform(seed);
  const draws: number[] = [];
  for (let b = 0; b < samples; b++) {
    const columns = Float64Array.from({ length: seeds }, () => Math.floor(uniform() * seeds));
    const rows = Array.from({ length: points.length }, () => points[Math.floor(uniform() * points.length)]!);
    const v = statistic(
      Float64Array.from(rows, (p) => p.predicted),
      meanActual(rows, columns),
    );
    if (Number.isFinite(v)) draws.push(v);
  }
  const sorted = Float64Array.from(draws).sort();
  return {
    value,
    low: sorted.length ? percentile(sorted, 0.025) : NaN,
    high: sorted.length ? percentile(sorted, 0.975) : NaN,
  };
}

/** Every statistic of one benchmark's points; each point must have the same number of seeds (≥ 2). */
export function groupEvidence(
  points: readonly GroupPoint[],
  options: { samples?: number; splits?: number; seed?: number } = {},
): GroupEvidence {
  if (points.length < 3) throw new Error(`group evidence: ${points.length} points; at least 3 are needed`);
  const seeds = points[0]!.actual.length;
  for (const p of points) {
    if (p.actual.length !== seeds)
      throw new Error(`group evidence: ${p.group} ${p.arm} has ${p.actual.length} seeds, the first point ${seeds}`);
    if (![p.predicted, ...p.actual].every(Number.isFinite))
      throw new Error(`group evidence: ${p.group} ${p.arm} has a value that is not a finite number`);
  }
  if (seeds < 2) throw new Error(`group evidence: ${seeds} seed; at least 2 are needed`);
  const samples = options.samples ?? GROUP_BOOTSTRAP.samples;
  const seed = options.seed ?? GROUP_BOOTSTRAP.seed;
  // The same seed for every statistic: they are computed on the same resamples.
  const estimate = (statistic: Statistic) => twoWayEstimate(points, statistic, samples, seed);
  const groupLds = estimate(spearman);
  const reliability = splitHalfReliability(points, options.splits ?? GROUP_BOOTSTRAP.splits, seed + 1);
  return {
    points: points.length,
    seeds,
    slopeThroughOrigin: estimate(slopeThroughOrigin),
    slope: estimate((x, y) => leastSquares(x, y).slope),
    intercept: estimate((x, y) => leastSquares(x, y).intercept),
    signAccuracy: estimate(signAccuracy),
    groupLds,
    reliability,
    normalisedLds: reliability > 0 ? groupLds.value / Math.sqrt(reliability) : null,
  };
}
