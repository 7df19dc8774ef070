/**
 * Bootstrap 95 % intervals for the segment and token-category charts (issue: only what the data resolves). A chart's
 * bar is a mean over members (segment occurrences or tokens) of every training example: Σ_n s_n / Σ_n c_n, with s_n
 * the influence summed over example n's members of that label and c_n their count. Training examples are the unit of
 * resampling (their tokens are not independent): each resample draws N training indices with replacement (seeded,
 * drawn once per run and shared by every label and benchmark), and the interval is the 2.5 and 97.5 percentiles of
 * the resampled ratios. A resample in which no drawn example has a member of the label gives no ratio and is left out.
 */
import { seededUniform } from '../core/random';

export const GROUP_RESAMPLES = 1000;

/** R × N training indices, resample-major. */
export function trainingDraws(train: number, seed: number, resamples = GROUP_RESAMPLES): Int32Array {
  const uniform = seededUniform(seed);
  const picked = new Int32Array(resamples * train);
  for (let i = 0; i < picked.length; i++) picked[i] = Math.floor(uniform() * train);
  return picked;
}

/** Per label, per training example: the influence summed over its members and their count. */
export class MemberSums {
  private readonly labels = new Map<string, { sums: Float64Array; counts: Float64Array }>();

  constructor(private readonly train: number) {}

  add(label: string, example: number, value: number): void {
    let entry = this.labels.get(label);
    if (!entry)
      this.labels.set(label, (entry = { sums: new Float64Array(this.train), counts: new Float64Array(this.train) }));
    entry.sums[example]! += value;
    entry.counts[example]!++;
  }

  /** The bootstrap interval of each label's mean per member, over the given draws. */
  intervals(draws: Int32Array): Map<string, { low: number; high: number }> {
    const resamples = draws.length / this.train;
    const out = new Map<string, { low: number; high: number }>();
    for (const [label, { sums, counts }] of this.labels) {
      const ratios: number[] = [];
      for (let r = 0, at = 0; r < resamples; r++) {
        let sum = 0;
        let count = 0;
        for (let i = 0; i < this.train; i++, at++) {
          const n = draws[at]!;
          sum += sums[n]!;
          count += counts[n]!;
        }
        if (count > 0) ratios.push(sum / count);
      }
      const sorted = Float64Array.from(ratios).sort();
      out.set(label, sorted.length === 0 ? { low: 0, high: 0 } : { low: at(sorted, 0.025), high: at(sorted, 0.975) });
    }
    return out;
  }
}

/** Percentile by linear interpolation of a sorted array. */
function at(sorted: Float64Array, p: number): number {
  const position = p * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/** Whether an interval resolves the sign: it excludes 0. */
export function resolved(interval: { readonly low: number; readonly high: number }): boolean {
  return interval.low > 0 || interval.high < 0;
}
