/**
 * A seeded sample of rows stratified by domain × difficulty (or benchmark × difficulty for queries): what `--sample N`
 * and the page's "sample" option take instead of the first N rows (a file sorted by source would otherwise give one
 * domain only). Proportional allocation by Hamilton's largest-remainder rule, with one row for every non-empty stratum
 * first when N allows it, so a small stratum (MBPP beside GSM8K) is never sampled away. Within a stratum the rows are
 * taken in stableHash(id, seed) order, so the sample depends on the seed and the rows, not on the file's order; the
 * chosen rows come back in the file's order.
 */
import { stableHash } from '../core/hash';

export interface SampleStratum {
  /** "math / hard"; a missing field is "(none)". */
  readonly key: string;
  readonly available: number;
  readonly chosen: number;
}

/** What a sample took, for the run's manifest and its message. */
export interface SampleReport {
  readonly seed: number;
  readonly requested: number;
  readonly available: number;
  readonly chosen: number;
  /** The fields the strata are made of, e.g. ['domain', 'difficulty']. */
  readonly by: readonly string[];
  readonly strata: readonly SampleStratum[];
}

export interface SampleRow {
  readonly id: string;
  readonly domain?: string;
  readonly difficulty?: string;
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** The stratum fields of a row set: a query's benchmark (else its domain), and difficulty where any row has one. */
export function strataFields(rows: readonly SampleRow[], role: 'train' | 'query'): string[] {
  const has = (field: string) => rows.some((r) => stratumValue(r, field) !== undefined);
  const first = role === 'query' && has('benchmark') ? 'benchmark' : 'domain';
  return [first, ...(has('difficulty') ? ['difficulty'] : [])];
}

function stratumValue(row: SampleRow, field: string): string | undefined {
  if (field === 'benchmark') {
    const value = row.extra?.benchmark;
    return typeof value === 'string' ? value : undefined;
  }
  return field === 'domain' ? row.domain : field === 'difficulty' ? row.difficulty : undefined;
}

/**
 * `count` rows (all of them when count ≥ rows.length) stratified over `by`, seeded. Deterministic: the same rows,
 * count and seed give the same sample.
 */
export function stratifiedSample<T extends SampleRow>(
  rows: readonly T[],
  count: number,
  seed: number,
  by: readonly string[],
): { rows: T[]; report: SampleReport } {
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`sample size must be an integer ≥ 0, got ${count}`);
  const groups = new Map<string, number[]>();
  rows.forEach((row, i) => {
    const key = by.map((field) => stratumValue(row, field) ?? '(none)').join(' / ');
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  const keys = [...groups.keys()].sort();
  const sizes = keys.map((k) => groups.get(k)!.length);
  const shares = allocate(sizes, Math.min(count, rows.length));
  const chosen: number[] = [];
  keys.forEach((key, s) => {
    const order = groups
      .get(key)!
      .map((i) => ({ i, h: stableHash(rows[i]!.id, seed) }))
      .sort((a, b) => a.h - b.h || a.i - b.i);
    for (const { i } of order.slice(0, shares[s])) chosen.push(i);
  });
  chosen.sort((a, b) => a - b);
  return {
    rows: chosen.map((i) => rows[i]!),
    report: {
      seed,
      requested: count,
      available: rows.length,
      chosen: chosen.length,
      by: [...by],
      strata: keys.map((key, s) => ({ key, available: sizes[s]!, chosen: shares[s]! })),
    },
  };
}

/**
 * Splits `count` over strata of `sizes` in proportion to size (Hamilton: floors, then the largest remainders, ties to
 * the larger stratum), then moves one row to every empty-handed non-empty stratum from the stratum with the largest
 * share, while one holds more than one. Never more than a stratum holds; the shares add up to min(count, Σ sizes).
 */
export function allocate(sizes: readonly number[], count: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const target = Math.min(count, total);
  if (target === 0) return sizes.map(() => 0);
  const quotas = sizes.map((size) => (size * target) / total);
  const shares = quotas.map(Math.floor);
  let left = target - shares.reduce((a, b) => a + b, 0);
  const byRemainder = quotas
    .map((q, s) => ({ r: q - Math.floor(q), s }))
    .sort((a, b) => b.r - a.r || sizes[b.s]! - sizes[a.s]! || a.s - b.s);
  for (const { s } of byRemainder) {
    if (left === 0) break;
    shares[s]!++;
    left--;
  }
  const missing = sizes
    .map((size, s) => ({ size, s }))
    .filter(({ size, s }) => size > 0 && shares[s] === 0)
    .sort((a, b) => b.size - a.size || a.s - b.s);
  for (const { s } of missing) {
    const donor = shares.reduce((best, share, i) => (share > shares[best]! ? i : best), 0);
    if (shares[donor]! <= 1) break;
    shares[donor]!--;
    shares[s] = 1;
  }
  return shares;
}

/** One line for logs and the run's note: "24 of 2972 (seed 0) by domain × difficulty: code / easy 2, …". */
export function describeSample(what: string, report: SampleReport): string {
  const strata = report.strata
    .filter((s) => s.available > 0)
    .map((s) => `${s.key} ${s.chosen}/${s.available}`)
    .join(', ');
  return `${report.chosen} of ${report.available} ${what} sampled (seed ${report.seed}) by ${report.by.join(' × ')}: ${strata}`;
}
