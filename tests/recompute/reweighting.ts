/**
 * Independent recomputation of the reweighting record (public/experiments/reweighting.json, docs/experiments/
 * reweighting.md), importing nothing from the project: from the per-run measurements it re-derives each arm's mean
 * over seeds with its Student-t 95 % interval, and each arm's paired difference from the original mixture seed by
 * seed; and, beside them, issue 24's "flipped − random" difference (paired by seed, t interval), which the record's
 * summary does not hold.
 */
import type { Check } from './lds';

type Json = Record<string, unknown>;

/** t_{0.975, df} for the small df of these records (from tables; df > 10 is not needed here). */
const T975: Record<number, number> = {
  1: 12.706,
  2: 4.303,
  3: 3.182,
  4: 2.776,
  5: 2.571,
  6: 2.447,
  7: 2.365,
  8: 2.306,
  9: 2.262,
  10: 2.228,
};

export function tInterval(values: number[]): { mean: number; low: number; high: number } {
  const n = values.length;
  let mean = 0;
  for (const v of values) mean += v / n;
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  const half = (T975[n - 1]! * Math.sqrt(ss / (n - 1))) / Math.sqrt(n);
  return { mean, low: mean - half, high: mean + half };
}

function measurement(runs: Json[], arm: string, benchmark: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const run of runs) {
    if (run.arm !== arm) continue;
    const b = (run.byBenchmark as Json)[benchmark] as Json;
    out.set(run.seed as number, b.logLikelihood as number);
  }
  return out;
}

function pairedDifference(a: Map<number, number>, b: Map<number, number>): number[] {
  return [...a.keys()].sort((x, y) => x - y).map((seed) => a.get(seed)! - b.get(seed)!);
}

export function recomputeReweightingRecord(record: Json): { checks: Check[]; flippedMinusRandom: Json } {
  const checks: Check[] = [];
  const runs = record.runs as Json[];
  for (const row of record.summary as Json[]) {
    const name = `${row.arm as string} / ${row.benchmark as string}`;
    const values = measurement(runs, row.arm as string, row.benchmark as string);
    const ll = row.logLikelihood as Json;
    const t = tInterval([...values.values()]);
    checks.push({ name: `${name}: seeds`, recorded: row.seeds as number, recomputed: values.size });
    checks.push({ name: `${name}: mean log-likelihood`, recorded: ll.mean as number, recomputed: t.mean });
    checks.push({ name: `${name}: interval low`, recorded: ll.low as number, recomputed: t.low });
    checks.push({ name: `${name}: interval high`, recorded: ll.high as number, recomputed: t.high });
    if (row.vsOriginal) {
      const vs = row.vsOriginal as Json;
      const d = tInterval(pairedDifference(values, measurement(runs, 'original', row.benchmark as string)));
      checks.push({ name: `${name}: − original`, recorded: vs.mean as number, recomputed: d.mean });
      checks.push({ name: `${name}: − original, low`, recorded: vs.low as number, recomputed: d.low });
      checks.push({ name: `${name}: − original, high`, recorded: vs.high as number, recomputed: d.high });
    }
  }
  const flippedMinusRandom: Json = {};
  for (const benchmark of ['GSM8K', 'MBPP']) {
    flippedMinusRandom[benchmark] = tInterval(
      pairedDifference(measurement(runs, 'flipped', benchmark), measurement(runs, 'random', benchmark)),
    );
  }
  return { checks, flippedMinusRandom };
}
