/**
 * The reweighting experiment's rule (src/eval/reweight.ts) and its statistics (seed-stats.ts, summariseArms): the
 * flip boosts the cells the rule names, weights keep each domain's mass, the random control has the flip's exact
 * magnitude, the top subset has the flip's effective size — all on hand-made influence, deterministic.
 */
import { describe, expect, it } from 'vitest';
import {
  armWeights,
  cellInfluences,
  effectiveSize,
  exampleScores,
  flipWeights,
  randomControlWeights,
  reweightPlan,
  topInfluenceSubset,
  type PoolExample,
} from '../../src/eval/reweight';
import { summariseArms, type ArmRun } from '../../src/eval/reweight-run';
import { meanInterval, tQuantile975 } from '../../src/eval/seed-stats';

/** 12 math (4 easy, 5 medium, 3 hard) and 6 code (2 per difficulty) training examples. */
const pool: PoolExample[] = [
  ...['easy', 'easy', 'easy', 'easy', 'medium', 'medium', 'medium', 'medium', 'medium', 'hard', 'hard', 'hard'].map(
    (difficulty, i) => ({ id: `m${i}`, domain: 'math', difficulty }),
  ),
  ...['easy', 'easy', 'medium', 'medium', 'hard', 'hard'].map((difficulty, i) => ({
    id: `c${i}`,
    domain: 'code',
    difficulty,
  })),
];
/** Per (domain/difficulty), the influence of its examples on a GSM8K and on an MBPP query. */
const CELL_INFLUENCE: Record<string, [number, number]> = {
  'math/easy': [1, -1],
  'math/medium': [2, 0],
  'math/hard': [3, 2], // the math cell the flip must boost
  'code/easy': [0.5, 4], // the code cell the flip must boost
  'code/medium': [0, 1],
  'code/hard': [-1, 1],
};
const benchmarks = ['GSM8K', 'GSM8K', 'MBPP'];
/** [3 queries × 18]: the two GSM8K queries differ around the cell value by ±0.5 per example, so means are exact. */
const influence = Float64Array.from({ length: 3 * pool.length }, (_, k) => {
  const q = Math.floor(k / pool.length);
  const e = pool[k % pool.length]!;
  const [gsm, mbpp] = CELL_INFLUENCE[`${e.domain}/${e.difficulty}`]!;
  return q === 2 ? mbpp : gsm + (q === 0 ? 0.5 : -0.5);
});

describe('the difficulty flip', () => {
  const plan = reweightPlan(pool, benchmarks, influence, { boost: 3 });

  it('scores each cell by its benchmark means, each benchmark scaled by its mean |cell influence|', () => {
    const gsmUnit = (4 * 1 + 5 * 2 + 3 * 3 + 2 * 0.5 + 2 * 0 + 2 * 1) / 18;
    const mbppUnit = (4 * 1 + 5 * 0 + 3 * 2 + 2 * 4 + 2 * 1 + 2 * 1) / 18;
    for (const cell of plan.cells) {
      const [gsm, mbpp] = CELL_INFLUENCE[`${cell.domain}/${cell.difficulty}`]!;
      expect(cell.byBenchmark.GSM8K).toBeCloseTo(gsm, 12);
      expect(cell.byBenchmark.MBPP).toBeCloseTo(mbpp, 12);
      expect(cell.score).toBeCloseTo((gsm / gsmUnit + mbpp / mbppUnit) / 2, 12);
    }
  });

  it('boosts hard math and easy code here, boost × the weight of the same domain’s other cells', () => {
    const boosted = plan.cellWeights.filter((c) => c.boosted).map((c) => `${c.domain}/${c.difficulty}`);
    expect(boosted.sort()).toEqual(['code/easy', 'math/hard']);
    const weight = (key: string) => plan.cellWeights.find((c) => `${c.domain}/${c.difficulty}` === key)!.weight;
    expect(weight('math/hard') / weight('math/easy')).toBeCloseTo(3, 12);
    expect(weight('math/medium')).toBeCloseTo(weight('math/easy'), 12);
    expect(weight('code/easy') / weight('code/hard')).toBeCloseTo(3, 12);
    // math: 12 examples, mass 4 + 5 + 3·3 = 18 → the unboosted weight is 12/18.
    expect(weight('math/easy')).toBeCloseTo(12 / 18, 12);
  });

  it('keeps every domain’s mass and a mean weight of 1; the shares sum to 1', () => {
    for (const domain of ['math', 'code']) {
      const members = pool.flatMap((e, n) => (e.domain === domain ? [n] : []));
      expect(members.reduce((s, n) => s + plan.flipped[n]!, 0)).toBeCloseTo(members.length, 12);
    }
    expect(plan.flipped.reduce((a, b) => a + b, 0) / pool.length).toBeCloseTo(1, 12);
    expect(plan.cellWeights.reduce((s, c) => s + c.share, 0)).toBeCloseTo(1, 12);
    expect(plan.cellWeights.reduce((s, c) => s + c.originalShare, 0)).toBeCloseTo(1, 12);
  });

  it('boosts nothing in a domain whose best cell has no positive score, and refuses a boost ≤ 1', () => {
    const negative = cellInfluences([
      { benchmark: 'B', domain: 'code', difficulty: 'easy', mean: -1, trainCount: 2, queryCount: 1 },
      { benchmark: 'B', domain: 'code', difficulty: 'hard', mean: -2, trainCount: 2, queryCount: 1 },
    ]);
    const codePool = pool.filter((e) => e.domain === 'code' && e.difficulty !== 'medium');
    const { weights, cellWeights } = flipWeights(codePool, negative, { boost: 3 });
    expect(Array.from(weights)).toEqual([1, 1, 1, 1]);
    expect(cellWeights.every((c) => !c.boosted)).toBe(true);
    expect(() => flipWeights(codePool, negative, { boost: 1 })).toThrow(/boost must be a finite number > 1/);
  });
});

describe('the controls', () => {
  const plan = reweightPlan(pool, benchmarks, influence, { boost: 3 });

  it('random control: the flip’s weights permuted within each domain, so the same magnitude', () => {
    const random = randomControlWeights(pool, plan.flipped, 7);
    for (const domain of ['math', 'code']) {
      const of = (w: Float64Array) => pool.flatMap((e, n) => (e.domain === domain ? [w[n]!] : [])).sort();
      expect(of(random)).toEqual(of(plan.flipped));
    }
    const deviation = (w: Float64Array) => Math.hypot(...Array.from(w, (v) => v - 1));
    expect(deviation(random)).toBeCloseTo(deviation(plan.flipped), 12);
    expect(effectiveSize(random)).toBeCloseTo(effectiveSize(plan.flipped), 12);
    expect(Array.from(randomControlWeights(pool, plan.flipped, 7))).toEqual(Array.from(random));
    expect(Array.from(randomControlWeights(pool, plan.flipped, 8))).not.toEqual(Array.from(random));
    expect(Array.from(random)).not.toEqual(Array.from(plan.flipped));
  });

  it('effective size: (Σw)²/Σw² — N for uniform weights, the count for a 0/1 subset', () => {
    expect(effectiveSize([1, 1, 1, 1])).toBe(4);
    expect(effectiveSize([0, 1, 0, 1, 1])).toBe(3);
    expect(effectiveSize([3, 1])).toBeCloseTo(16 / 10, 12);
  });

  it('top subset: as many examples as the flip’s effective size, the largest example scores', () => {
    expect(plan.subsetSize).toBe(Math.round(effectiveSize(plan.flipped)));
    expect(plan.topSubset.length).toBe(plan.subsetSize);
    const scores = exampleScores(influence, benchmarks, pool.length);
    const threshold = Math.min(...Array.from(plan.topSubset, (n) => scores[n]!));
    const outside = pool.map((_, n) => n).filter((n) => !plan.topSubset.includes(n));
    expect(outside.every((n) => scores[n]! <= threshold)).toBe(true);
    const weights = armWeights('top-subset', plan, pool, 0);
    expect(weights.reduce((a, b) => a + b, 0)).toBe(plan.subsetSize);
    expect(Object.values(plan.subsetCells).reduce((a, b) => a + b, 0)).toBe(plan.subsetSize);
    expect(Array.from(armWeights('original', plan, pool, 0))).toEqual(pool.map(() => 1));
  });

  it('top subset: ties go to the lower index; sizes outside 1…N are refused', () => {
    expect(Array.from(topInfluenceSubset([1, 5, 5, 0, 5], 2))).toEqual([1, 2]);
    expect(() => topInfluenceSubset([1, 2], 3)).toThrow(/subset size 3/);
  });
});

describe('statistics over seeds', () => {
  it('t intervals: the table’s quantiles and the textbook interval of 1, 2, 3', () => {
    expect(tQuantile975(2)).toBe(4.303);
    expect(tQuantile975(30)).toBeCloseTo(2.042, 2);
    const i = meanInterval([1, 2, 3]);
    expect(i.mean).toBe(2);
    expect(i.sd).toBeCloseTo(1, 12);
    expect(i.high - i.mean).toBeCloseTo(4.303 / Math.sqrt(3), 12);
    expect(Number.isNaN(meanInterval([5]).low)).toBe(true);
  });

  it('arms are compared with the original seed by seed', () => {
    const run = (arm: ArmRun['arm'], seed: number, ll: number): ArmRun => ({
      arm,
      seed,
      finalLoss: 1,
      byBenchmark: { MBPP: { logLikelihood: ll, exactMatch: 0, queries: 4 } },
    });
    const runs = [run('original', 0, -3), run('original', 1, -2), run('flipped', 0, -2.5), run('flipped', 1, -1)];
    const [original, flipped] = summariseArms(runs, ['original', 'flipped']);
    expect(original!.vsOriginal).toBeNull();
    expect(flipped!.logLikelihood.mean).toBeCloseTo(-1.75, 12);
    expect(flipped!.vsOriginal!.mean).toBeCloseTo(0.75, 12); // differences 0.5 and 1
    expect(flipped!.vsOriginal!.high - 0.75).toBeCloseTo((12.706 * Math.SQRT1_2 * 0.5) / Math.SQRT2, 12);
  });
});
