/**
 * Independent recomputation of a group-evidence record (docs/experiments/records/groups/*.json, written by
 * `iwb evaluate --groups`), importing nothing from src: from the pool's domains and groups it rebuilds every arm's
 * mixture weights; from the per-example influence the predicted changes Σ (w − 1)·I / N; from the raw retrain runs
 * the actual changes (arm − the seed's baseline); then per benchmark the slopes, sign accuracy, Spearman group-LDS,
 * the split-half reliability and the two-way bootstrap intervals (the same mulberry32 stream and draw order the
 * record's seed names: seeds then points per resample; a Fisher–Yates shuffle per split).
 */
import type { Check } from './lds';
import { generator } from './rng';

interface Estimate {
  value: number;
  low: number;
  high: number;
}
interface Evidence {
  points: number;
  seeds: number;
  slopeThroughOrigin: Estimate;
  slope: Estimate;
  intercept: Estimate;
  signAccuracy: Estimate;
  groupLds: Estimate;
  reliability: number;
  normalisedLds: number | null;
}
export interface GroupRecord {
  settings: { factor: number };
  pool: { domains: string[]; groups: string[] };
  influence: Record<string, number[]>;
  benchmarks: string[];
  seeds: number[];
  arms: {
    group: string;
    arm: string;
    size: number;
    predicted: Record<string, number>;
    actual: Record<string, number[]>;
  }[];
  runs: { key: string; seed: number; byBenchmark: Record<string, number> }[];
  evidence: Record<string, Evidence> | null;
}

const SAMPLES = 2000;
const SPLITS = 200;
const SEED = 20261224;

function weightsOf(record: GroupRecord, group: string, arm: string): number[] {
  const { domains, groups } = record.pool;
  const domain = domains[groups.indexOf(group)]!;
  let inDomain = 0;
  let inGroup = 0;
  groups.forEach((g, n) => {
    if (domains[n] === domain) inDomain++;
    if (g === group) inGroup++;
  });
  const own = arm === 'remove' ? 0 : record.settings.factor;
  // The domain's total stays its count: rest·c + own·c·inGroup = inDomain.
  const c = inDomain / (inDomain - inGroup + own * inGroup);
  return groups.map((g, n) => (domains[n] !== domain ? 1 : g === group ? own * c : c));
}

function rank(values: number[]): number[] {
  const idx = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const r = new Array<number>(values.length);
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && values[idx[j + 1]!] === values[idx[i]!]) j++;
    for (let k = i; k <= j; k++) r[idx[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

function correlation(a: number[], b: number[]): number {
  if (a.every((v) => v === a[0]) || b.every((v) => v === b[0])) return NaN;
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const spearmanOf = (x: number[], y: number[]) => correlation(rank(x), rank(y));
function fit(x: number[], y: number[]): { origin: number; slope: number; intercept: number } {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let xy = 0;
  let xx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    xy += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
  }
  const slope = sxx > 0 ? sxy / sxx : NaN;
  return { origin: xx > 0 ? xy / xx : NaN, slope, intercept: my - slope * mx };
}
const signs = (x: number[], y: number[]) =>
  x.filter((v, i) => v !== 0 && Math.sign(v) === Math.sign(y[i]!)).length / x.length;

const STATISTICS: Record<string, (x: number[], y: number[]) => number> = {
  slopeThroughOrigin: (x, y) => fit(x, y).origin,
  slope: (x, y) => fit(x, y).slope,
  intercept: (x, y) => fit(x, y).intercept,
  signAccuracy: signs,
  groupLds: spearmanOf,
};

function quantile(sorted: number[], p: number): number {
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (at - lo) * (sorted[hi]! - sorted[lo]!);
}

const meanOver = (values: number[], columns: number[]) => columns.reduce((s, c) => s + values[c]!, 0) / columns.length;

/** Every figure of the record against its recomputation; also the recomputed evidence per benchmark. */
export function recomputeGroupRecord(record: GroupRecord): { checks: Check[]; evidence: Record<string, Evidence> } {
  const checks: Check[] = [];
  const evidence: Record<string, Evidence> = {};
  const N = record.pool.groups.length;
  const run = (key: string, seed: number) => record.runs.find((r) => r.key === key && r.seed === seed)!;
  for (const b of record.benchmarks) {
    const x: number[] = [];
    const actual: number[][] = [];
    for (const a of record.arms) {
      const w = weightsOf(record, a.group, a.arm);
      const predicted = w.reduce((s, wn, n) => s + (wn - 1) * record.influence[b]![n]!, 0) / N;
      checks.push({ name: `${b} ${a.group} ${a.arm} predicted`, recorded: a.predicted[b]!, recomputed: predicted });
      const changes = record.seeds.map(
        (s) => run(`${a.group} ${a.arm}`, s).byBenchmark[b]! - run('baseline', s).byBenchmark[b]!,
      );
      changes.forEach((v, i) =>
        checks.push({ name: `${b} ${a.group} ${a.arm} seed ${i}`, recorded: a.actual[b]![i]!, recomputed: v }),
      );
      x.push(predicted);
      actual.push(changes);
    }
    const S = record.seeds.length;
    const all = record.seeds.map((_, i) => i);
    const estimates: Record<string, Estimate> = {};
    const draw = generator(SEED);
    const draws: Record<string, number[]> = Object.fromEntries(Object.keys(STATISTICS).map((k) => [k, []]));
    for (let r = 0; r < SAMPLES; r++) {
      const columns = all.map(() => Math.floor(draw() * S));
      const rows = x.map(() => Math.floor(draw() * x.length));
      const xs = rows.map((i) => x[i]!);
      const ys = rows.map((i) => meanOver(actual[i]!, columns));
      for (const [k, f] of Object.entries(STATISTICS)) {
        const v = f(xs, ys);
        if (Number.isFinite(v)) draws[k]!.push(v);
      }
    }
    const y = actual.map((v) => meanOver(v, all));
    for (const [k, f] of Object.entries(STATISTICS)) {
      const sorted = draws[k]!.sort((p, q) => p - q);
      estimates[k] = { value: f(x, y), low: quantile(sorted, 0.025), high: quantile(sorted, 0.975) };
    }
    const split = generator(SEED + 1);
    const half = Math.floor(S / 2);
    let sum = 0;
    let count = 0;
    for (let s = 0; s < SPLITS; s++) {
      const order = all.slice();
      for (let i = S - 1; i > 0; i--) {
        const j = Math.floor(split() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const r = spearmanOf(
        actual.map((v) => meanOver(v, order.slice(0, half))),
        actual.map((v) => meanOver(v, order.slice(half, 2 * half))),
      );
      if (Number.isFinite(r)) {
        sum += r;
        count++;
      }
    }
    const mean = sum / count;
    const reliability = (2 * mean) / (1 + mean);
    const e: Evidence = {
      points: x.length,
      seeds: S,
      slopeThroughOrigin: estimates.slopeThroughOrigin!,
      slope: estimates.slope!,
      intercept: estimates.intercept!,
      signAccuracy: estimates.signAccuracy!,
      groupLds: estimates.groupLds!,
      reliability,
      normalisedLds: reliability > 0 ? estimates.groupLds!.value / Math.sqrt(reliability) : null,
    };
    evidence[b] = e;
    const recorded = record.evidence?.[b];
    for (const k of Object.keys(STATISTICS))
      for (const part of ['value', 'low', 'high'] as const)
        checks.push({
          name: `${b} ${k} ${part}`,
          recorded: (recorded?.[k as keyof Evidence] as Estimate | undefined)?.[part] ?? null,
          recomputed: estimates[k]![part],
        });
    checks.push({ name: `${b} reliability`, recorded: recorded?.reliability ?? null, recomputed: reliability });
    checks.push({
      name: `${b} normalised group-LDS`,
      recorded: recorded?.normalisedLds ?? null,
      recomputed: e.normalisedLds ?? NaN,
    });
  }
  return { checks, evidence };
}
