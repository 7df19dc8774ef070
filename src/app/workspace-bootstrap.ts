/**
 * The cross-domain table's bootstrap 95 % intervals. The resampled training indices of each (domain, difficulty)
 * column are drawn once per run (seeded) and reused for every benchmark and normalisation: one draw instead of one
 * per cell and per request (the draws were most of the overview's time at the full demo's size), and every interval
 * of a run comes from the same resamples, so intervals of different benchmarks are comparable.
 */
import { seededUniform } from '../core/random';
import type { ExampleMeta } from '../influence/types';

export const BOOTSTRAP_RESAMPLES = 1000;

/** Per column key JSON [domain, difficulty]: R × size training indices, resample-major. */
export type BootstrapDraws = ReadonlyMap<string, Int32Array>;

export function columnKey(domain: string | undefined, difficulty: string | undefined): string {
  return JSON.stringify([domain ?? 'unknown', difficulty ?? 'unknown']);
}

export function bootstrapDraws(train: readonly ExampleMeta[], seed: number): BootstrapDraws {
  const members = new Map<string, number[]>();
  train.forEach((example, n) => {
    const key = columnKey(example.domain, example.difficulty);
    const list = members.get(key);
    if (list) list.push(n);
    else members.set(key, [n]);
  });
  const uniform = seededUniform(seed);
  const draws = new Map<string, Int32Array>();
  // Columns in sorted order, so the draws depend on the seed and the data only, not on the rows' order of appearance.
  for (const key of [...members.keys()].sort()) {
    const group = members.get(key)!;
    const picked = new Int32Array(BOOTSTRAP_RESAMPLES * group.length);
    for (let i = 0; i < picked.length; i++) picked[i] = group[Math.floor(uniform() * group.length)]!;
    draws.set(key, picked);
  }
  return draws;
}

/** Percentile by linear interpolation of a sorted array. */
function percentile(sorted: Float64Array, p: number): number {
  const at = p * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (at - below);
}

/** The 2.5 % and 97.5 % percentiles of the column's resampled means of `scores` (one per training example). */
export function bootstrapInterval(scores: ArrayLike<number>, picked: Int32Array): { low: number; high: number } {
  const size = picked.length / BOOTSTRAP_RESAMPLES;
  const means = new Float64Array(BOOTSTRAP_RESAMPLES);
  for (let b = 0, at = 0; b < BOOTSTRAP_RESAMPLES; b++) {
    let sum = 0;
    for (let i = 0; i < size; i++) sum += scores[picked[at++]!]!;
    means[b] = sum / size;
  }
  means.sort();
  return { low: percentile(means, 0.025), high: percentile(means, 0.975) };
}
