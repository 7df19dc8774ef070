/**
 * Means over a few seeds with Student-t 95 % intervals (the reweighting experiment's arms have 3–10 seeds, too few
 * for a bootstrap). With one seed the interval is undefined: low = high = NaN.
 */

export interface SeedInterval {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  readonly n: number;
  /** Sample standard deviation (n − 1). */
  readonly sd: number;
}

/** Two-sided 97.5 % quantiles of Student's t for 1…10 degrees of freedom. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

/** t_{0.975, df}; beyond the table, the Cornish–Fisher expansion around z = 1.95996 (error < 1e-3 for df > 10). */
export function tQuantile975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) throw new Error(`t quantile: degrees of freedom ${df} is not an integer ≥ 1`);
  if (df <= T975.length) return T975[df - 1]!;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

export function meanInterval(values: readonly number[]): SeedInterval {
  const n = values.length;
  if (n === 0) throw new Error('mean interval: no values');
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, low: NaN, high: NaN, n, sd: NaN };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const half = (tQuantile975(n - 1) * sd) / Math.sqrt(n);
  return { mean, low: mean - half, high: mean + half, n, sd };
}
