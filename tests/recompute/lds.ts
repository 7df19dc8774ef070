/**
 * An independent recomputation of an evaluation record's figures (docs/experiments/records.md), written apart from
 * src/eval and importing nothing from the project: plain loops over the record's own fields. It re-derives
 *
 * - each strategy's predictions Σ_{n ∈ S_m} I(q, n) from the subset mask and the influence (when recorded);
 * - the seed means of the retrained measurements, each query's Spearman ρ across subsets and the mean LDS, with the
 *   one-way bootstrap interval over queries;
 * - the protocol: the held-out split's disjointness, every candidate's tuning LDS and the choice (best tuning LDS,
 *   first on ties), the held-out per-query ρ and LDS, the two-way (queries × subsets) bootstrap intervals, every
 *   paired difference with its interval and its sign-flip p-value.
 *
 * The bootstraps are reproduced draw for draw: the generator (./rng.ts) is the published mulberry32 (the record names
 * it by its seed), and the resampling order is the one records.md documents. Each check returns recorded and recomputed
 * values; the unit test (tests/unit/records.test.ts) compares them.
 */
import { generator } from './rng';

export interface Check {
  readonly name: string;
  readonly recorded: number | null;
  readonly recomputed: number;
}

type Json = Record<string, unknown>;

/** Average ranks by counting (O(n²): records are small). */
function averageRanks(x: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) {
    let below = 0;
    let equal = 0;
    for (let j = 0; j < x.length; j++) {
      if (x[j]! < x[i]!) below++;
      else if (x[j] === x[i]) equal++;
    }
    out.push(below + (equal + 1) / 2);
  }
  return out;
}

function rankCorrelation(a: number[], b: number[]): number {
  const allSame = (x: number[]) => x.every((v) => v === x[0]);
  if (a.length === 0 || allSame(a) || allSame(b)) return NaN;
  const ra = averageRanks(a);
  const rb = averageRanks(b);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < ra.length; i++) {
    ma += ra[i]! / ra.length;
    mb += rb[i]! / rb.length;
  }
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < ra.length; i++) {
    ab += (ra[i]! - ma) * (rb[i]! - mb);
    aa += (ra[i]! - ma) ** 2;
    bb += (rb[i]! - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : NaN;
}

function meanOfFinite(x: number[]): number {
  let sum = 0;
  let n = 0;
  for (const v of x) {
    if (Number.isFinite(v)) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? NaN : sum / n;
}

/** numpy's default percentile (linear between order statistics) of the finite values. */
function percentileOf(values: number[], p: number): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (position - below) * (sorted[above]! - sorted[below]!);
}

const numbers = (value: unknown, what: string): number[] => {
  if (!Array.isArray(value)) throw new Error(`record: ${what} is not a list`);
  return value.map((v) => (v === null ? NaN : (v as number)));
};

export function recomputeLdsRecord(record: Json): Check[] {
  const checks: Check[] = [];
  const add = (name: string, recorded: unknown, recomputed: number) =>
    checks.push({ name, recorded: recorded === null ? null : (recorded as number), recomputed });
  const config = record.config as Json;
  const M = config.subsets as number;
  const R = config.seedsPerSubset as number;
  const N = record.trainSize as number;
  const Q = record.querySize as number;
  const mask = numbers(record.subsetMask, 'subsetMask');
  const raw = numbers(record.subsetMeasurements, 'subsetMeasurements');
  add('subsetMask length', M * N, mask.length);
  add('subsetMeasurements length', M * R * Q, raw.length);

  // measured[m][q]: the mean over seeds of the retrained measurement.
  const measured: number[][] = [];
  for (let m = 0; m < M; m++) {
    const row: number[] = [];
    for (let q = 0; q < Q; q++) {
      let sum = 0;
      for (let r = 0; r < R; r++) sum += raw[(m * R + r) * Q + q]!;
      row.push(sum / R);
    }
    measured.push(row);
  }
  const rho = (pred: number[], q: number, subsets: number[]) =>
    rankCorrelation(
      subsets.map((m) => pred[m * Q + q]!),
      subsets.map((m) => measured[m]![q]!),
    );
  const allSubsets = Array.from({ length: M }, (_, m) => m);
  const allQueries = Array.from({ length: Q }, (_, q) => q);

  const byCandidate = new Map<string, Map<string, number[]>>();
  for (const candidate of record.candidates as Json[]) {
    const label = candidate.label as string;
    const strategies = new Map<string, number[]>();
    byCandidate.set(label, strategies);
    (candidate.strategies as Json[]).forEach((s, k) => {
      const name = `${label} / ${s.strategy as string}`;
      const pred = numbers(s.predictions, `${name} predictions`);
      strategies.set(s.strategy as string, pred);
      if (Array.isArray(s.influence)) {
        const influence = numbers(s.influence, `${name} influence`);
        for (let m = 0; m < M; m++)
          for (let q = 0; q < Q; q++) {
            let sum = 0;
            for (let n = 0; n < N; n++) if (mask[m * N + n] === 1) sum += influence[q * N + n]!;
            add(`${name}: prediction [${m}, ${q}] = Σ influence over the subset`, pred[m * Q + q], sum);
          }
      }
      const perQuery = allQueries.map((q) => rho(pred, q, allSubsets));
      const recordedPerQuery = numbers(s.perQuery, `${name} perQuery`);
      perQuery.forEach((v, q) => add(`${name}: ρ of query ${q}`, nullIfNaN(recordedPerQuery[q]!), v));
      const lds = s.lds as Json;
      add(`${name}: mean LDS`, lds.mean, meanOfFinite(perQuery));
      // The one-way interval (queries resampled): the stream of strategy position k, seed + 7919 (k + 1).
      const finite = perQuery.filter(Number.isFinite);
      const uniform = generator((config.seed as number) + 7919 * (k + 1));
      const means: number[] = [];
      for (let b = 0; b < (config.bootstrapSamples as number); b++) {
        let sum = 0;
        for (let i = 0; i < finite.length; i++) sum += finite[Math.floor(uniform() * finite.length)]!;
        means.push(sum / finite.length);
      }
      add(`${name}: one-way interval low`, lds.low, percentileOf(means, 0.025));
      add(`${name}: one-way interval high`, lds.high, percentileOf(means, 0.975));
    });
  }
  checks.push(...recomputeProtocol(record.protocol as Json, byCandidate, rho, M, Q));
  return checks;
}

function recomputeProtocol(
  protocol: Json,
  byCandidate: Map<string, Map<string, number[]>>,
  rho: (pred: number[], q: number, subsets: number[]) => number,
  M: number,
  Q: number,
): Check[] {
  const checks: Check[] = [];
  const add = (name: string, recorded: unknown, recomputed: number) =>
    checks.push({ name, recorded: recorded === null ? null : (recorded as number), recomputed });
  const split = protocol.split as Json | null;
  const queries = protocol.queries as number[];
  const subsets = protocol.subsets as number[];
  if (split) {
    const tq = split.tuningQueries as number[];
    const ts = split.tuningSubsets as number[];
    const overlapQ = tq.filter((q) => queries.includes(q)).length;
    const overlapS = ts.filter((m) => subsets.includes(m)).length;
    add('tuning and held-out queries overlap', 0, overlapQ);
    add('tuning and held-out subsets overlap', 0, overlapS);
    add('queries split covers every query', Q, tq.length + queries.length);
    add('subsets split covers every subset', M, ts.length + subsets.length);
  } else {
    add('no split: every query reported', Q, queries.length);
    add('no split: every subset reported', M, subsets.length);
  }
  const chosenPredictions: number[][] = [];
  const names: string[] = [];
  for (const s of protocol.strategies as Json[]) {
    const strategy = s.strategy as string;
    names.push(strategy);
    let best = '';
    let bestLds = NaN;
    if (split) {
      const tuning = s.tuning as Json[];
      for (const t of tuning) {
        const pred = byCandidate.get(t.candidate as string)!.get(strategy)!;
        const lds = meanOfFinite(
          (split.tuningQueries as number[]).map((q) => rho(pred, q, split.tuningSubsets as number[])),
        );
        add(`${strategy}: tuning LDS of ${t.candidate as string}`, t.lds, lds);
        if (best === '' || lds > bestLds || (Number.isNaN(bestLds) && !Number.isNaN(lds))) {
          best = t.candidate as string;
          bestLds = lds;
        }
      }
    } else best = [...byCandidate.keys()][0]!;
    add(`${strategy}: the chosen candidate is the best on the tuning block`, 1, s.chosen === best ? 1 : 0);
    const pred = byCandidate.get(s.chosen as string)!.get(strategy)!;
    chosenPredictions.push(pred);
    const perQuery = queries.map((q) => rho(pred, q, subsets));
    const recorded = numbers(s.perQuery, `${strategy} held-out perQuery`);
    perQuery.forEach((v, i) => add(`${strategy}: held-out ρ of query ${queries[i]}`, nullIfNaN(recorded[i]!), v));
    add(`${strategy}: held-out LDS`, (s.lds as Json).mean, meanOfFinite(perQuery));
  }

  // The two-way bootstrap, draw for draw: per resample the query draws, then the subset draws.
  const samples = protocol.bootstrapSamples as number;
  const uniform = generator(protocol.seed as number);
  const paired = protocol.paired as Json[];
  const pairIndex = paired.map((p) => [names.indexOf(p.a as string), names.indexOf(p.b as string)] as const);
  const ldsDraws: number[][] = names.map(() => []);
  const diffDraws: number[][] = paired.map(() => []);
  for (let b = 0; b < samples; b++) {
    const dq = queries.map(() => queries[Math.floor(uniform() * queries.length)]!);
    const dm = subsets.map(() => subsets[Math.floor(uniform() * subsets.length)]!);
    const r = chosenPredictions.map((pred) => dq.map((q) => rho(pred, q, dm)));
    r.forEach((values, k) => ldsDraws[k]!.push(meanOfFinite(values)));
    pairIndex.forEach(([a, c], k) => diffDraws[k]!.push(meanOfFinite(r[a]!.map((v, i) => v - r[c]![i]!))));
  }
  (protocol.strategies as Json[]).forEach((s, k) => {
    add(`${s.strategy as string}: two-way interval low`, (s.lds as Json).low, percentileOf(ldsDraws[k]!, 0.025));
    add(`${s.strategy as string}: two-way interval high`, (s.lds as Json).high, percentileOf(ldsDraws[k]!, 0.975));
  });
  paired.forEach((p, k) => {
    const [a, c] = pairIndex[k]!;
    const name = `${p.a as string} − ${p.b as string}`;
    const ra = queries.map((q) => rho(chosenPredictions[a]!, q, subsets));
    const rc = queries.map((q) => rho(chosenPredictions[c]!, q, subsets));
    const d = ra.map((v, i) => v - rc[i]!);
    const recorded = numbers(p.perQuery, `${name} perQuery`);
    d.forEach((v, i) => add(`${name}: difference of query ${queries[i]}`, nullIfNaN(recorded[i]!), v));
    const diff = p.difference as Json;
    add(`${name}: mean difference`, diff.mean, meanOfFinite(d));
    add(`${name}: two-way interval low`, diff.low, percentileOf(diffDraws[k]!, 0.025));
    add(`${name}: two-way interval high`, diff.high, percentileOf(diffDraws[k]!, 0.975));
    add(
      `${name}: sign-flip p`,
      p.p,
      signFlip(d.filter(Number.isFinite), p.patterns as number, (protocol.seed as number) + 104729 * (k + 1)),
    );
  });
  return checks;
}

/** Exact over every pattern for n ≤ 16 (each pattern: bit i flips d_i); else `patterns` seeded random ones. */
function signFlip(d: number[], patterns: number, seed: number): number {
  const observed = Math.abs(d.reduce((s, v) => s + v, 0));
  const tolerance = 1e-12 * d.reduce((s, v) => s + Math.abs(v), 0);
  if (d.length <= 16) {
    let hits = 0;
    for (let mask = 0; mask < 2 ** d.length; mask++) {
      let sum = 0;
      d.forEach((v, i) => (sum += mask & (1 << i) ? -v : v));
      if (Math.abs(sum) >= observed - tolerance) hits++;
    }
    return hits / 2 ** d.length;
  }
  const uniform = generator(seed);
  let hits = 0;
  for (let s = 0; s < patterns; s++) {
    let sum = 0;
    for (const v of d) sum += uniform() < 0.5 ? -v : v;
    if (Math.abs(sum) >= observed - tolerance) hits++;
  }
  return (1 + hits) / (1 + patterns);
}

function nullIfNaN(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}
