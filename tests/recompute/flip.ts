/**
 * Independent recomputation of the difficulty-flip record (docs/experiments/records/flip.json), importing nothing
 * from the project: from the per-seed, per-arm measurements it re-derives each arm's mean over seeds with its 95 %
 * Student-t interval, every paired comparison (a − b seed by seed: mean, interval, two-sided sign-flip p-value by
 * exact enumeration of all 2^n sign patterns), and checks that each run's overall and per-domain figures are the
 * means of its equally sized cells.
 *
 * The t quantile is computed here by bisection on the t distribution's CDF, itself a Simpson integral of the density;
 * the record's intervals use a series approximation (error < 1e-3), so interval bounds are compared to within 1e-3 of
 * the half-width, and the record's Monte Carlo p-value (100 000 sign patterns) to within 0.006 (≥ 3 standard errors).
 */
import type { Check } from './lds';

type Json = Record<string, unknown>;

function logGamma(x: number): number {
  // Lanczos (g = 7, n = 9): ample for the half-integers and integers used here.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(0 ≤ T ≤ x) for Student's t with df degrees of freedom, by Simpson's rule on 2000 intervals. */
function tMass(x: number, df: number): number {
  const logC = logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  const density = (t: number) => Math.exp(logC - ((df + 1) / 2) * Math.log(1 + (t * t) / df));
  const n = 2000;
  const h = x / n;
  let sum = density(0) + density(x);
  for (let i = 1; i < n; i++) sum += (i % 2 ? 4 : 2) * density(i * h);
  return (sum * h) / 3;
}

const quantiles = new Map<number, number>();

/** t_{0.975, df}, memoised per df. */
export function tQuantile(df: number): number {
  const known = quantiles.get(df);
  if (known !== undefined) return known;
  let lo = 0;
  let hi = 20;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (tMass(mid, df) < 0.475) lo = mid;
    else hi = mid;
  }
  quantiles.set(df, (lo + hi) / 2);
  return (lo + hi) / 2;
}

function tInterval(values: number[]): { mean: number; half: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { mean, half: (tQuantile(n - 1) * sd) / Math.sqrt(n) };
}

/** Two-sided: the share of the 2^n sign patterns whose |Σ ± d| reaches the observed |Σ d|. */
export function exactSignFlip(d: number[]): number {
  const observed = Math.abs(d.reduce((a, b) => a + b, 0));
  // Rounding: 2^20 updates drift by at most ~1e-10 · Σ|d|; differences of accuracies are multiples of 1/queries, so
  // a sum either ties the observed one or misses it by far more than this tolerance.
  const tolerance = 1e-9 * d.reduce((s, v) => s + Math.abs(v), 0);
  const n = d.length;
  // Patterns in Gray-code order: consecutive patterns differ in one sign (bit i = the lowest set bit of k), so
  // each sum is the previous one ∓ 2·d_i.
  const negated = new Uint8Array(n);
  let sum = d.reduce((a, b) => a + b, 0);
  let hits = Math.abs(sum) >= observed - tolerance ? 1 : 0;
  for (let k = 1; k < 2 ** n; k++) {
    const i = 31 - Math.clz32(k & -k);
    sum += negated[i] ? 2 * d[i]! : -2 * d[i]!;
    negated[i] ^= 1;
    if (Math.abs(sum) >= observed - tolerance) hits++;
  }
  return hits / 2 ** n;
}

function value(runs: Json[], arm: string, seed: number, group: string, metric: string): number | undefined {
  const run = runs.find((r) => r.arm === arm && r.seed === seed);
  const score = run ? ((run.scores as Json)[group] as Json | undefined) : undefined;
  return score ? (score[metric] as number) : undefined;
}

export interface FlipRecompute {
  readonly checks: Check[];
  /** Checks of intervals and p-values: recorded vs recomputed, with the tolerance each allows. */
  readonly approximate: (Check & { tolerance: number })[];
  /** The pre-registered primary comparison as recomputed: flip − random, accuracy, all queries. */
  readonly primary: { mean: number; low: number; high: number; p: number; seeds: number };
}

export function recomputeFlipRecord(record: Json): FlipRecompute {
  const runs = record.runs as Json[];
  const checks: Check[] = [];
  const approximate: (Check & { tolerance: number })[] = [];
  const cells = ['easy', 'medium', 'hard'];
  for (const run of runs) {
    const s = run.scores as Record<string, Json>;
    const name = `${run.arm as string}/${run.seed as number}`;
    for (const metric of ['accuracy', 'logLikelihood']) {
      for (const domain of ['math', 'code']) {
        const mean = cells.reduce((a, c) => a + (s[`${domain}/${c}`]![metric] as number), 0) / 3;
        checks.push({ name: `${name} ${domain} ${metric}`, recorded: s[domain]![metric] as number, recomputed: mean });
      }
      const all = ((s.math![metric] as number) + (s.code![metric] as number)) / 2;
      checks.push({ name: `${name} all ${metric}`, recorded: s.all![metric] as number, recomputed: all });
    }
  }
  for (const row of record.summary as Json[]) {
    for (const metric of ['accuracy', 'logLikelihood']) {
      const values = runs
        .filter((r) => r.arm === row.arm)
        .map((r) => value(runs, row.arm as string, r.seed as number, row.group as string, metric)!);
      const t = tInterval(values);
      const recorded = row[metric] as Json;
      const name = `${row.arm as string} ${row.group as string} ${metric}`;
      checks.push({ name: `${name}: seeds`, recorded: row.seeds as number, recomputed: values.length });
      checks.push({ name: `${name}: mean`, recorded: recorded.mean as number, recomputed: t.mean });
      approximate.push({
        name: `${name}: low`,
        recorded: recorded.low as number,
        recomputed: t.mean - t.half,
        tolerance: 1e-3 * t.half + 1e-12,
      });
      approximate.push({
        name: `${name}: high`,
        recorded: recorded.high as number,
        recomputed: t.mean + t.half,
        tolerance: 1e-3 * t.half + 1e-12,
      });
    }
  }
  let primary: FlipRecompute['primary'] | null = null;
  for (const c of record.comparisons as Json[]) {
    const [a, b, group, metric] = [c.a, c.b, c.group, c.metric] as string[];
    const seeds = (c.seeds as number[]).slice();
    const both = [...new Set(runs.map((r) => r.seed as number))]
      .filter(
        (s) => value(runs, a!, s, group!, metric!) !== undefined && value(runs, b!, s, group!, metric!) !== undefined,
      )
      .sort((x, y) => x - y);
    checks.push({ name: `${a} − ${b} ${group} ${metric}: seeds`, recorded: seeds.length, recomputed: both.length });
    const d = both.map((s) => value(runs, a!, s, group!, metric!)! - value(runs, b!, s, group!, metric!)!);
    const t = tInterval(d);
    const p = exactSignFlip(d);
    const interval = c.interval as Json;
    const name = `${a} − ${b} ${group} ${metric}`;
    checks.push({ name: `${name}: mean`, recorded: interval.mean as number, recomputed: t.mean });
    approximate.push({
      name: `${name}: low`,
      recorded: interval.low as number,
      recomputed: t.mean - t.half,
      tolerance: 1e-3 * t.half + 1e-12,
    });
    approximate.push({
      name: `${name}: high`,
      recorded: interval.high as number,
      recomputed: t.mean + t.half,
      tolerance: 1e-3 * t.half + 1e-12,
    });
    approximate.push({
      name: `${name}: p`,
      recorded: c.p as number,
      recomputed: p,
      tolerance: c.exact ? 1e-12 : 0.006,
    });
    if (a === 'flip' && b === 'random' && group === 'all' && metric === 'accuracy')
      primary = { mean: t.mean, low: t.mean - t.half, high: t.mean + t.half, p, seeds: d.length };
  }
  if (!primary) throw new Error('flip record: no flip − random accuracy comparison over all queries');
  return { checks, approximate, primary };
}
