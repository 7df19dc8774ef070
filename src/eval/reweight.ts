/**
 * The paper's reweighting rule (issue 14 §3, Infra arXiv 2505.19949 §5): from the cross-domain × difficulty influence
 * table, mixture weights that favour the (domain, difficulty) cells whose training examples help the benchmarks most
 * ("difficulty flipping": more hard math, more easy code in the paper), and the two controls the experiment needs:
 * a random reweighting of exactly the same magnitude and the top-influence subset of the same effective size.
 *
 * Rule (stated once, here): a cell's score is the mean over benchmarks of the mean influence of the cell's training
 * examples on that benchmark's queries — in-domain plus cross-domain — each benchmark's values divided by their
 * count-weighted mean absolute value so that both benchmarks weigh the same. Within each
 * training domain the highest-scoring cell, if its score is positive, gets `boost` times the per-example weight of
 * the domain's other cells; weights are then scaled so that each domain keeps its original sampling mass (only the
 * difficulty mix inside a domain changes, as in the paper) and the mean weight is 1.
 */
import { seededUniform } from '../core/random';
import { crossDomainTable, type CrossDomainCell } from '../influence/aggregate';
import type { ExampleMeta } from '../influence/types';

export interface PoolExample {
  readonly id: string;
  readonly domain: string;
  readonly difficulty: string;
}

export interface FlipRule {
  /** Per-example weight of a domain's top cell relative to the domain's other cells (> 1). */
  readonly boost: number;
}

export const DEFAULT_FLIP_RULE: FlipRule = { boost: 3 };

export const FLIP_RULE_TEXT =
  "A cell's score is its mean influence averaged over the benchmarks (in-domain plus cross-domain), each benchmark " +
  'scaled by its mean |influence| so both weigh the same. In each training ' +
  'domain the highest-scoring cell, if positive, gets boost × the per-example weight of the other cells; each ' +
  'domain keeps its sampling mass, so only the difficulty mix inside a domain changes.';

export interface CellInfluence {
  readonly domain: string;
  readonly difficulty: string;
  /** Mean influence of the cell's training examples on each benchmark's queries. */
  readonly byBenchmark: Readonly<Record<string, number>>;
  /** Mean over benchmarks of byBenchmark ÷ the benchmark's mean |cell influence|. */
  readonly score: number;
  readonly trainCount: number;
}

export interface CellWeight {
  readonly domain: string;
  readonly difficulty: string;
  readonly boosted: boolean;
  /** The per-example mixture weight of the cell's examples (the original mixture is 1 for every example). */
  readonly weight: number;
  /** The cell's share of the sampling mass, before and after. */
  readonly originalShare: number;
  readonly share: number;
}

export type ArmName = 'original' | 'flipped' | 'random' | 'top-subset';
export const ARM_NAMES: readonly ArmName[] = ['original', 'flipped', 'random', 'top-subset'];

export interface ReweightPlan {
  readonly rule: FlipRule;
  readonly table: readonly CrossDomainCell[];
  readonly cells: readonly CellInfluence[];
  readonly cellWeights: readonly CellWeight[];
  /** Per pool example: the flipped mixture's weight (mean 1). */
  readonly flipped: Float64Array;
  /** Per pool example: mean over benchmarks of its mean influence on the benchmark's queries. */
  readonly exampleScores: Float64Array;
  /** Kish effective sample size of the flipped weights, (Σw)²/Σw², rounded: the top subset's size. */
  readonly subsetSize: number;
  /** The subsetSize pool examples with the largest exampleScores, ascending indices. */
  readonly topSubset: Int32Array;
  /** How many of the top subset's examples each cell holds ('domain/difficulty'). */
  readonly subsetCells: Readonly<Record<string, number>>;
}

/** Collapses the table's (benchmark, domain, difficulty) rows into one score per (domain, difficulty). */
export function cellInfluences(table: readonly CrossDomainCell[]): CellInfluence[] {
  // Each benchmark's influences have their own scale (a benchmark with longer or harder answers has larger
  // gradients): divide by the benchmark's count-weighted mean |cell mean| so that every benchmark weighs the same.
  const scale = new Map<string, { sum: number; count: number }>();
  for (const row of table) {
    const s = scale.get(row.benchmark) ?? { sum: 0, count: 0 };
    s.sum += Math.abs(row.mean) * row.trainCount;
    s.count += row.trainCount;
    scale.set(row.benchmark, s);
  }
  const unit = (benchmark: string) => {
    const s = scale.get(benchmark)!;
    return s.sum > 0 ? s.sum / s.count : 1;
  };
  const cells = new Map<
    string,
    { domain: string; difficulty: string; byBenchmark: Record<string, number>; n: number }
  >();
  for (const row of table) {
    const key = JSON.stringify([row.domain, row.difficulty]);
    const cell = cells.get(key) ?? { domain: row.domain, difficulty: row.difficulty, byBenchmark: {}, n: 0 };
    cell.byBenchmark[row.benchmark] = row.mean;
    cell.n = row.trainCount;
    cells.set(key, cell);
  }
  return [...cells.values()].map((c) => {
    const names = Object.keys(c.byBenchmark);
    const score = names.reduce((a, b) => a + c.byBenchmark[b]! / unit(b), 0) / names.length;
    return { domain: c.domain, difficulty: c.difficulty, byBenchmark: c.byBenchmark, score, trainCount: c.n };
  });
}

const cellKey = (domain: string, difficulty: string) => JSON.stringify([domain, difficulty]);

/** The flipped mixture: per-example weights (mean 1, each domain's total unchanged) and the per-cell summary. */
export function flipWeights(
  pool: readonly PoolExample[],
  cells: readonly CellInfluence[],
  rule: FlipRule = DEFAULT_FLIP_RULE,
): { weights: Float64Array; cellWeights: CellWeight[] } {
  if (!(rule.boost > 1 && Number.isFinite(rule.boost)))
    throw new Error(`reweighting: boost must be a finite number > 1, got ${rule.boost}`);
  const boosted = new Set<string>();
  for (const domain of new Set(cells.map((c) => c.domain))) {
    // Highest score first; ties go to the cell listed first (the table is sorted by domain, difficulty).
    const top = cells.filter((c) => c.domain === domain).reduce((a, b) => (b.score > a.score ? b : a));
    if (top.score > 0) boosted.add(cellKey(top.domain, top.difficulty));
  }
  const multiplier = pool.map((e) => (boosted.has(cellKey(e.domain, e.difficulty)) ? rule.boost : 1));
  const domainCount = new Map<string, number>();
  const domainMass = new Map<string, number>();
  pool.forEach((e, n) => {
    domainCount.set(e.domain, (domainCount.get(e.domain) ?? 0) + 1);
    domainMass.set(e.domain, (domainMass.get(e.domain) ?? 0) + multiplier[n]!);
  });
  const weights = Float64Array.from(
    pool,
    (e, n) => (multiplier[n]! * domainCount.get(e.domain)!) / domainMass.get(e.domain)!,
  );
  const cellWeights = cells.map((c) => {
    const members = pool.flatMap((e, n) => (e.domain === c.domain && e.difficulty === c.difficulty ? [n] : []));
    const weight = members.length ? weights[members[0]!]! : 0;
    return {
      domain: c.domain,
      difficulty: c.difficulty,
      boosted: boosted.has(cellKey(c.domain, c.difficulty)),
      weight,
      originalShare: members.length / pool.length,
      share: (weight * members.length) / pool.length,
    };
  });
  return { weights, cellWeights };
}

/**
 * The control: the flipped weights permuted at random among the examples of each domain (seeded). The multiset of
 * weights is the flip's, so the magnitude of the reweighting (every norm of w − 1, each domain's mass) is identical;
 * only which examples get the extra weight is random.
 */
export function randomControlWeights(pool: readonly PoolExample[], flipped: Float64Array, seed: number): Float64Array {
  if (flipped.length !== pool.length)
    throw new Error(`reweighting: ${flipped.length} weights for a pool of ${pool.length} examples`);
  const out = new Float64Array(flipped.length);
  const uniform = seededUniform(seed);
  for (const domain of new Set(pool.map((e) => e.domain))) {
    const members = pool.flatMap((e, n) => (e.domain === domain ? [n] : []));
    const values = members.map((n) => flipped[n]!);
    for (let i = values.length - 1; i > 0; i--) {
      const j = Math.floor(uniform() * (i + 1));
      [values[i], values[j]] = [values[j]!, values[i]!];
    }
    members.forEach((n, i) => (out[n] = values[i]!));
  }
  return out;
}

/** Kish's effective sample size (Σw)²/Σw²: how many equally weighted examples a weighting is worth. */
export function effectiveSize(weights: ArrayLike<number>): number {
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < weights.length; i++) {
    sum += weights[i]!;
    squares += weights[i]! * weights[i]!;
  }
  return squares > 0 ? (sum * sum) / squares : 0;
}

/** The `size` largest scores' indices (ties: lower index first), in ascending index order. */
export function topInfluenceSubset(scores: ArrayLike<number>, size: number): Int32Array {
  if (!(Number.isInteger(size) && size >= 1 && size <= scores.length))
    throw new Error(`reweighting: subset size ${size} is not between 1 and the pool's ${scores.length} examples`);
  const order = Array.from({ length: scores.length }, (_, n) => n).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return Int32Array.from(order.slice(0, size).sort((a, b) => a - b));
}

/**
 * Per training example: mean over benchmarks of its mean influence on the benchmark's queries, each benchmark's row
 * divided by its mean absolute value (as for the cells) so that every benchmark weighs the same.
 */
export function exampleScores(influence: Float64Array, benchmarks: readonly string[], trainSize: number): Float64Array {
  if (influence.length !== benchmarks.length * trainSize)
    throw new Error(`reweighting: influence has ${influence.length} values, not ${benchmarks.length} × ${trainSize}`);
  const names = [...new Set(benchmarks)];
  const out = new Float64Array(trainSize);
  for (const name of names) {
    const rows = benchmarks.flatMap((b, q) => (b === name ? [q] : []));
    const row = new Float64Array(trainSize);
    for (const q of rows) for (let n = 0; n < trainSize; n++) row[n]! += influence[q * trainSize + n]! / rows.length;
    const unit = row.reduce((s, v) => s + Math.abs(v), 0) / trainSize || 1;
    for (let n = 0; n < trainSize; n++) out[n]! += row[n]! / unit / names.length;
  }
  return out;
}

/** Everything the arms need, from the influence [Q × N] of the table's queries on the pool. */
export function reweightPlan(
  pool: readonly PoolExample[],
  queryBenchmarks: readonly string[],
  influence: Float64Array,
  rule: FlipRule = DEFAULT_FLIP_RULE,
): ReweightPlan {
  const train: ExampleMeta[] = pool.map((e) => ({ id: e.id, domain: e.domain, difficulty: e.difficulty }));
  const queries: ExampleMeta[] = queryBenchmarks.map((benchmark, q) => ({ id: `q${q}`, benchmark }));
  const view = {
    values: influence,
    queries: queries.length,
    train: train.length,
    normalization: 'none' as const,
    label: 'influence',
  };
  const table = crossDomainTable(view, queries, train);
  const cells = cellInfluences(table);
  const { weights, cellWeights } = flipWeights(pool, cells, rule);
  const scores = exampleScores(influence, queryBenchmarks, pool.length);
  const subsetSize = Math.max(1, Math.round(effectiveSize(weights)));
  const topSubset = topInfluenceSubset(scores, subsetSize);
  const subsetCells: Record<string, number> = {};
  for (const n of topSubset) {
    const key = `${pool[n]!.domain}/${pool[n]!.difficulty}`;
    subsetCells[key] = (subsetCells[key] ?? 0) + 1;
  }
  return {
    rule,
    table,
    cells,
    cellWeights,
    flipped: weights,
    exampleScores: scores,
    subsetSize,
    topSubset,
    subsetCells,
  };
}

/** The mixture weight of every pool example in an arm; `seed` draws the random control's permutation. */
export function armWeights(arm: ArmName, plan: ReweightPlan, pool: readonly PoolExample[], seed: number): Float64Array {
  switch (arm) {
    case 'original':
      return new Float64Array(pool.length).fill(1);
    case 'flipped':
      return plan.flipped.slice();
    case 'random':
      return randomControlWeights(pool, plan.flipped, 0x5eed + seed);
    case 'top-subset': {
      const out = new Float64Array(pool.length);
      plan.topSubset.forEach((n) => (out[n] = 1));
      return out;
    }
  }
}
