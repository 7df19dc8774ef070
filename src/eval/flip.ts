/**
 * The difficulty-flip experiment on the synthetic reasoning task (docs/experiments/reweighting.md): the arms' mixture
 * weights and the paired statistics over seeds.
 *
 * Arms (every one keeps the pool, the number of steps and the batch size, so the total amount of training is equal):
 * - original: every pool example weight 1;
 * - flip: the paper's flip — hard math and easy code get `boost` × the per-example weight of their domain's other
 *   cells, each domain keeping its sampling mass (src/eval/reweight.ts flipWeights);
 * - random: the flip's weights permuted at random among each domain's examples, redrawn per seed: the same multiset
 *   of weights, hence exactly the same Kish effective sample size (Σw)²/Σw², but no preference for any cell;
 * - influence: the same rule with the boosted cell of each domain chosen by EK-FAC influence (the cell whose examples
 *   help the benchmarks most, src/eval/reweight.ts cellInfluences) of a model of the same family and recipe.
 *
 * Statistics: per seed, arm − arm on the same pool, initialisation and batch seed (paired); mean with a Student-t 95 %
 * interval and a two-sided sign-flip permutation p-value.
 */
import { flipWeights, randomControlWeights, type CellInfluence, type PoolExample } from './reweight';
import { meanInterval, type SeedInterval } from './seed-stats';
import { signFlipPValue } from './two-way';

export type FlipArm = 'original' | 'flip' | 'random' | 'influence';
export const FLIP_ARMS: readonly FlipArm[] = ['original', 'flip', 'random', 'influence'];

/** The paper's flip: the cell boosted in each training domain. */
export const PAPER_FLIP: Readonly<Record<string, string>> = { math: 'hard', code: 'easy' };

/** Cells scored 1 where boosted, 0 elsewhere: flipWeights then boosts exactly the named cell of each domain. */
export function namedCells(pool: readonly PoolExample[], boosted: Readonly<Record<string, string>>): CellInfluence[] {
  const keys = [...new Set(pool.map((e) => `${e.domain}\u0000${e.difficulty}`))].sort();
  return keys.map((key) => {
    const [domain, difficulty] = key.split('\u0000') as [string, string];
    const trainCount = pool.filter((e) => e.domain === domain && e.difficulty === difficulty).length;
    return { domain, difficulty, byBenchmark: {}, score: boosted[domain] === difficulty ? 1 : 0, trainCount };
  });
}

/** The mixture weight of every pool example in an arm (mean 1). `seed` draws the random arm's permutation. */
export function flipArmWeights(
  arm: FlipArm,
  pool: readonly PoolExample[],
  influenceCells: readonly CellInfluence[],
  boost: number,
  seed: number,
): Float64Array {
  const paper = () => flipWeights(pool, namedCells(pool, PAPER_FLIP), { boost }).weights;
  switch (arm) {
    case 'original':
      return new Float64Array(pool.length).fill(1);
    case 'flip':
      return paper();
    case 'random':
      return randomControlWeights(pool, paper(), 0x5eed + seed);
    case 'influence':
      return flipWeights(pool, influenceCells, { boost }).weights;
  }
}

/** The cell each domain boosts under influence (null: no cell of the domain had a positive score). */
export function influenceChoice(cells: readonly CellInfluence[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const domain of [...new Set(cells.map((c) => c.domain))].sort()) {
    const top = cells.filter((c) => c.domain === domain).reduce((a, b) => (b.score > a.score ? b : a));
    out[domain] = top.score > 0 ? top.difficulty : null;
  }
  return out;
}

/** One measurement of one trained model on the held-out set, per group ('math', 'code', 'all', 'math/hard', …). */
export interface FlipScore {
  readonly accuracy: number;
  readonly logLikelihood: number;
  readonly queries: number;
}

export interface FlipRun {
  readonly arm: FlipArm;
  readonly seed: number;
  readonly finalLoss: number;
  readonly scores: Readonly<Record<string, FlipScore>>;
}

export interface PairedComparison {
  readonly a: FlipArm;
  readonly b: FlipArm;
  readonly group: string;
  readonly metric: 'accuracy' | 'logLikelihood';
  /** a − b per seed, over the seeds both arms have, ascending seed. */
  readonly seeds: readonly number[];
  readonly interval: SeedInterval;
  readonly p: number;
  readonly exact: boolean;
}

/** a − b seed by seed on one group and metric, with its t interval and sign-flip p-value. */
export function pairedComparison(
  runs: readonly FlipRun[],
  a: FlipArm,
  b: FlipArm,
  group: string,
  metric: 'accuracy' | 'logLikelihood',
): PairedComparison | null {
  const seeds = [...new Set(runs.filter((r) => r.arm === a).map((r) => r.seed))]
    .filter((s) => runs.some((r) => r.arm === b && r.seed === s))
    .sort((x, y) => x - y);
  if (seeds.length < 2) return null;
  const value = (arm: FlipArm, seed: number) => {
    const score = runs.find((r) => r.arm === arm && r.seed === seed)!.scores[group];
    if (!score) throw new Error(`flip experiment: run ${arm}/${seed} has no score for group "${group}"`);
    return score[metric];
  };
  const d = seeds.map((s) => value(a, s) - value(b, s));
  const test = signFlipPValue(d, 100_000, 0xf11b);
  return { a, b, group, metric, seeds, interval: meanInterval(d), p: test.p, exact: test.exact };
}

/** Mean over seeds with a t interval, per arm, group and metric. */
export function armSummary(
  runs: readonly FlipRun[],
  arm: FlipArm,
  group: string,
): { accuracy: SeedInterval; logLikelihood: SeedInterval; seeds: number } | null {
  const mine = runs.filter((r) => r.arm === arm && r.scores[group]);
  if (mine.length === 0) return null;
  return {
    accuracy: meanInterval(mine.map((r) => r.scores[group]!.accuracy)),
    logLikelihood: meanInterval(mine.map((r) => r.scores[group]!.logLikelihood)),
    seeds: mine.length,
  };
}
