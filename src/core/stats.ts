/** Rank statistics and the seeded bootstrap used by the evaluation, in float64. */
import { seededUniform } from './random';

/** A mean with its 95 % interval, and how many finite values it is over. */
export interface MeanInterval {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  /** Queries with a finite value (a query whose measurement never changes has no rank correlation). */
  readonly count: number;
}

/** Ranks 1 … n, ties sharing their average rank (as scipy.stats.rankdata). */
export function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(values.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    const rank = (start + end + 1) / 2;
    for (let k = start; k < end; k++) out[order[k]!] = rank;
    start = end;
  }
  return out;
}

/** Pearson correlation; NaN when either side is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`pearson: lengths ${a.length} and ${b.length} differ`);
  const n = a.length;
  // Checked exactly: the float mean of a constant series can differ from its value by rounding, and the tiny
  // deviations would then correlate as if they were data.
  const constant = (x: ArrayLike<number>) => Array.prototype.every.call(x, (v: number) => v === x[0]);
  if (n === 0 || constant(a) || constant(b)) return NaN;
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a[i]! / n;
    meanB += b[i]! / n;
  }
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - meanA;
    const db = b[i]! - meanB;
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : NaN;
}

/** Spearman's rank correlation (Pearson of average ranks); NaN when either side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

/**
 * Mean of the finite values with a percentile bootstrap 95 % interval: `samples` resamples (with replacement) of the
 * finite values, drawn from a generator seeded by `seed`, so the interval is the same for the same seed.
 */
export function bootstrapMean(values: ArrayLike<number>, samples: number, seed: number): MeanInterval {
  const finite = Array.from(values).filter(Number.isFinite);
  const count = finite.length;
  if (count === 0) return { mean: NaN, low: NaN, high: NaN, count };
  const mean = finite.reduce((s, v) => s + v, 0) / count;
  if (!(Number.isInteger(samples) && samples >= 1))
    throw new Error(`bootstrap: samples must be a positive integer, got ${samples}`);
  const uniform = seededUniform(seed);
  const means = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += finite[Math.floor(uniform() * count)]!;
    means[s] = sum / count;
  }
  means.sort();
  return { mean, low: quantile(means, 0.025), high: quantile(means, 0.975), count };
}

/**
 * Difference of the means of two independent samples (mean(a) − mean(b)) with a percentile bootstrap 95 % interval:
 * each resample draws a and b with replacement, each from its own finite values, from one generator seeded by `seed`.
 * `count` is a's; NaN throughout when either side has no finite value.
 */
export function bootstrapMeanDifference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  samples: number,
  seed: number,
): MeanInterval {
  const left = Array.from(a).filter(Number.isFinite);
  const right = Array.from(b).filter(Number.isFinite);
  if (left.length === 0 || right.length === 0) return { mean: NaN, low: NaN, high: NaN, count: left.length };
  if (!(Number.isInteger(samples) && samples >= 1))
    throw new Error(`bootstrap: samples must be a positive integer, got ${samples}`);
  const meanOf = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const uniform = seededUniform(seed);
  const draw = (xs: number[]) => {
    let sum = 0;
    for (let i = 0; i < xs.length; i++) sum += xs[Math.floor(uniform() * xs.length)]!;
    return sum / xs.length;
  };
  const differences = new Float64Array(samples);
  for (let s = 0; s < samples; s++) differences[s] = draw(left) - draw(right);
  differences.sort();
  return {
    mean: meanOf(left) - meanOf(right),
    low: quantile(differences, 0.025),
    high: quantile(differences, 0.975),
    count: left.length,
  };
}

/** Linear interpolation between order statistics (numpy's default) of sorted values. */
function quantile(sorted: Float64Array, p: number): number {
  const position = p * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (position - below) * (sorted[above]! - sorted[below]!);
}
