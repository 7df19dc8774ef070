/** The random training subsets of the LDS protocol. */
import { seededUniform } from '../core/random';

/** The size of every subset: round(α·N), at least 1 and at most N − 1 so that subsets differ from the full set. */
export function subsetSize(trainSize: number, fraction: number): number {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`evaluation: fraction α must be in (0, 1), got ${fraction}`);
  if (!(Number.isInteger(trainSize) && trainSize >= 2))
    throw new Error(`evaluation: needs at least 2 training examples, got ${trainSize}`);
  return Math.min(trainSize - 1, Math.max(1, Math.round(fraction * trainSize)));
}

/**
 * `count` subsets of round(α·N) distinct training indices each (ascending), drawn uniformly without replacement by a
 * partial Fisher–Yates shuffle from a generator seeded by `seed`: the same seed gives the same subsets everywhere.
 */
export function drawSubsets(trainSize: number, fraction: number, count: number, seed: number): Int32Array[] {
  if (!(Number.isInteger(count) && count >= 2))
    throw new Error(`evaluation: needs at least 2 subsets to rank, got ${count}`);
  const size = subsetSize(trainSize, fraction);
  const uniform = seededUniform(seed);
  return Array.from({ length: count }, () => {
    const pool = Int32Array.from({ length: trainSize }, (_, i) => i);
    for (let i = 0; i < size; i++) {
      const j = i + Math.floor(uniform() * (trainSize - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, size).sort();
  });
}
