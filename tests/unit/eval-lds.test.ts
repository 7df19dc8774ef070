/**
 * The evaluation engine (src/eval) on float64 models whose retraining is exact (closed form or Newton to optimum):
 *  - linear regression (ridge, summed squared error): the refit on a subset S is θ_S = (X_SᵀX_S + λI)⁻¹X_Sᵀy. Its
 *    first-order change is Σ_{n∉S} of the per-example influences, scaled by the Hessian ratio H/H_S ≈ 1/α for random
 *    α-subsets (the known correction, one factor for every subset, which a rank correlation ignores). So K-FAC and
 *    EK-FAC (whose Hessian here is the exact one up to a scalar: one output, so S is a number) give an LDS close to 1;
 *  - multiclass logistic regression with anisotropic features: the EK-FAC LDS is above identity's (TracIn-like);
 *  - the statistics: Spearman with ties, a bootstrap interval that is the same for the same seed.
 * The retrains are plain TypeScript here; tests/unit/eval-resume.test.ts retrains with the project's training loop.
 */
import { describe, expect, it } from 'vitest';
import { evaluateInfluence, subsetPredictions } from '../../src/eval/evaluate';
import { bootstrapMean, ranks, spearman } from '../../src/core/stats';
import { drawSubsets } from '../../src/eval/subsets';
import { DEFAULT_EVALUATION, type Retrainer } from '../../src/eval/types';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_CONFIG, type AttributionConfig, type ExampleSet } from '../../src/influence/types';
import { type Strategy } from '../../src/core/strategy';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { choleskySolve, dot } from '../helpers/exact-dense';
import { chainModel, logSoftmax, seededRandom, type ChainData, type LinearParams } from '../helpers/exact-models';
import { ExactGradientSource } from '../helpers/exact-source';

function set(role: 'train' | 'query', count: number): ExampleSet {
  return { role, examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })) };
}

/** θ = [w (d), b] for one output. */
function linearLayer(theta: Float64Array, dIn: number, dOut: number, name = 'linear'): LinearParams {
  const width = dIn + 1;
  return {
    name,
    dIn,
    dOut,
    activation: 'none',
    weight: Float64Array.from({ length: dOut * dIn }, (_, k) => theta[Math.floor(k / dIn) * width + (k % dIn)]!),
    bias: Float64Array.from({ length: dOut }, (_, c) => theta[c * width + dIn]!),
  };
}

async function influences(
  data: ChainData,
  layer: LinearParams,
  loss: 'mse' | 'cross-entropy',
  base: Partial<AttributionConfig>,
  strategies: Strategy[],
) {
  const out = new Map<Strategy, Float64Array>();
  for (const strategy of strategies) {
    const result = await runAttribution(
      { ...DEFAULT_CONFIG, ...base, strategy },
      {
        backend: new CpuBackend(),
        source: new ExactGradientSource(chainModel([layer], { kind: loss }, data)),
        trainSet: set('train', data.x.train.length),
        querySet: set('query', data.x.query.length),
      },
    );
    out.set(strategy, result.influence);
  }
  return out;
}

describe('linear regression: LDS close to 1', () => {
  const FEATURES = 4;
  const WIDTH = FEATURES + 1;
  const TRAIN = 100;
  const QUERIES = 6;
  const RIDGE = 1e-3;
  const random = seededRandom(21);
  const truth = Float64Array.from({ length: FEATURES }, () => random.normal());
  const draw = (count: number, noise: number) => {
    const x = Array.from({ length: count }, () =>
      Float64Array.from({ length: FEATURES }, (_, k) => 0.7 ** k * random.normal()),
    );
    const y = x.map((xi) => Float64Array.of(dot(truth, xi) + 0.5 + noise * random.normal()));
    return { x, y };
  };
  const train = draw(TRAIN, 0.6);
  const queries = draw(QUERIES, 2);
  const extended = (x: Float64Array) => Float64Array.of(...x, 1);

  /** argmin Σ_{n ∈ S} (θᵀx̃_n − y_n)² + λ‖θ‖², in closed form (float64 Cholesky). */
  function fit(members: ArrayLike<number>): Float64Array {
    const gram = new Float64Array(WIDTH * WIDTH);
    const rhs = new Float64Array(WIDTH);
    for (let i = 0; i < WIDTH; i++) gram[i * WIDTH + i] = RIDGE;
    for (const n of Array.from(members)) {
      const xt = extended(train.x[n]!);
      for (let r = 0; r < WIDTH; r++) {
        rhs[r] += xt[r]! * train.y[n]![0]!;
        for (let c = 0; c < WIDTH; c++) gram[r * WIDTH + c] += xt[r]! * xt[c]!;
      }
    }
    return choleskySolve(gram, rhs, WIDTH);
  }
  const measure = (theta: Float64Array) =>
    Float64Array.from(queries.x, (x, q) => -((dot(theta, extended(x)) - queries.y[q]![0]!) ** 2));
  const retrainer: Retrainer = {
    trainSize: TRAIN,
    querySize: QUERIES,
    fingerprint: 'ridge',
    measurement: 'negative squared error',
    measure: async (members) => measure(fit(members)),
  };
  const full = fit(Int32Array.from({ length: TRAIN }, (_, i) => i));

  it('K-FAC, EK-FAC (exact Hessian up to a scalar): LDS ≥ 0.95, ≥ 0.9 per query; identity worse', async () => {
    const influence = await influences(
      { x: { train: train.x, query: queries.x }, y: { train: train.y, query: queries.y } },
      linearLayer(full, FEATURES, 1),
      'mse',
      { fisher: 'empirical', damping: { kind: 'absolute', value: 1e-6 } },
      ['identity', 'kfac', 'ekfac'],
    );
    const result = await evaluateInfluence(
      { ...DEFAULT_EVALUATION, subsets: 30, looPerQuery: 2 },
      retrainer,
      influence,
    );
    const lds = Object.fromEntries(result.strategies.map((s) => [s.strategy, s]));
    const loo = Object.fromEntries(result.loo!.byStrategy.map((s) => [s.strategy, s]));
    // Measured (data seed 21, subset seed 0, 30 subsets): identity 0.765, K-FAC 0.961 (min 0.928), EK-FAC (empirical
    // Fisher, which weights each example by its squared residual) 0.943; LOO Pearson 0.982 / 0.9997 / 0.999.
    expect(lds.kfac!.lds.mean).toBeGreaterThanOrEqual(0.95);
    expect(Math.min(...lds.kfac!.perQuery)).toBeGreaterThanOrEqual(0.9);
    expect(lds.ekfac!.lds.mean).toBeGreaterThanOrEqual(0.93);
    expect(lds.identity!.lds.mean).toBeLessThan(lds.ekfac!.lds.mean - 0.1);
    expect(lds.kfac!.lds.low).toBeLessThanOrEqual(lds.kfac!.lds.mean);
    expect(lds.kfac!.lds.high).toBeGreaterThanOrEqual(lds.kfac!.lds.mean);
    expect(loo.kfac!.pearson).toBeGreaterThanOrEqual(0.999);
    expect(loo.ekfac!.pearson).toBeGreaterThanOrEqual(0.99);
    // LOO is a real refit: the actual changes are those of θ without the example, not a copy of the prediction.
    const n = result.loo!.examples[0]!;
    const without = measure(fit(Int32Array.from({ length: TRAIN }, (_, i) => i).filter((i) => i !== n)));
    const baseline = measure(full);
    for (let q = 0; q < QUERIES; q++) expect(result.loo!.actual[q]).toBeCloseTo(without[q]! - baseline[q]!, 12);
    expect(result.retrains).toEqual({ done: 30 + 1 + result.loo!.examples.length, resumed: 0 });
  });
});

describe('multiclass logistic regression: EK-FAC LDS above identity', () => {
  const FEATURES = 5;
  const CLASSES = 4;
  const WIDTH = FEATURES + 1;
  const PARAMS = CLASSES * WIDTH;
  const TRAIN = 100;
  const QUERIES = 8;
  const DAMPING = 0.005;
  const random = seededRandom(5);
  const truth = Float64Array.from({ length: CLASSES * FEATURES }, () => random.normal());
  /** Correlated features of very different scales: where the Hessian, not the raw gradient, decides the influence. */
  const mixing = Float64Array.from({ length: FEATURES * FEATURES }, () => random.normal());
  const draw = (count: number) => {
    const x = Array.from({ length: count }, () => {
      const z = Float64Array.from({ length: FEATURES }, (_, k) => 0.4 ** k * random.normal());
      return Float64Array.from({ length: FEATURES }, (_, k) =>
        dot(mixing.subarray(k * FEATURES, (k + 1) * FEATURES), z),
      );
    });
    const y = x.map((xi) => {
      const logits = Array.from(
        { length: CLASSES },
        (_, c) => dot(truth.subarray(c * FEATURES, (c + 1) * FEATURES), xi) + random.normal(),
      );
      return logits.indexOf(Math.max(...logits));
    });
    return { x, y };
  };
  const train = draw(TRAIN);
  const queries = draw(QUERIES);
  const logProbabilities = (theta: Float64Array, x: Float64Array) =>
    logSoftmax(
      Float64Array.from(
        { length: CLASSES },
        (_, c) => dot(theta.subarray(c * WIDTH, c * WIDTH + FEATURES), x) + theta[c * WIDTH + FEATURES]!,
      ),
    );

  /** argmin Σ_{n ∈ S} L_n + (Nδ/2)‖θ‖² by Newton's method (strictly convex), from θ = 0. */
  function fit(members: ArrayLike<number>): Float64Array {
    let theta = new Float64Array(PARAMS);
    for (let iteration = 0; iteration < 50; iteration++) {
      const gradient = theta.map((v) => TRAIN * DAMPING * v);
      const hessian = new Float64Array(PARAMS * PARAMS);
      for (let i = 0; i < PARAMS; i++) hessian[i * PARAMS + i] = TRAIN * DAMPING;
      for (const n of Array.from(members)) {
        const p = logProbabilities(theta, train.x[n]!).map(Math.exp);
        const xt = Float64Array.of(...train.x[n]!, 1);
        for (let r = 0; r < PARAMS; r++) {
          const [i, a] = [Math.floor(r / WIDTH), r % WIDTH];
          gradient[r] += (p[i]! - (i === train.y[n] ? 1 : 0)) * xt[a]!;
          for (let c = 0; c < PARAMS; c++) {
            const [j, b] = [Math.floor(c / WIDTH), c % WIDTH];
            hessian[r * PARAMS + c] += ((i === j ? p[i]! : 0) - p[i]! * p[j]!) * xt[a]! * xt[b]!;
          }
        }
      }
      const step = choleskySolve(hessian, gradient, PARAMS);
      theta = theta.map((v, k) => v - step[k]!);
      if (Math.sqrt(dot(step, step)) < 1e-13) break;
    }
    return theta;
  }
  const retrainer: Retrainer = {
    trainSize: TRAIN,
    querySize: QUERIES,
    fingerprint: 'logistic',
    measurement: 'log-probability of the label',
    measure: async (members) => {
      const theta = fit(members);
      return Float64Array.from(queries.x, (x, q) => logProbabilities(theta, x)[queries.y[q]!]!);
    },
  };

  it('over 24 subsets of 50 %: EK-FAC LDS > identity LDS, with disjoint bootstrap intervals', async () => {
    const full = fit(Int32Array.from({ length: TRAIN }, (_, i) => i));
    const influence = await influences(
      { x: { train: train.x, query: queries.x }, y: { train: train.y, query: queries.y } },
      linearLayer(full, FEATURES, CLASSES, 'classifier'),
      'cross-entropy',
      { damping: { kind: 'absolute', value: DAMPING } },
      ['identity', 'diagonal', 'kfac', 'ekfac'],
    );
    const result = await evaluateInfluence({ ...DEFAULT_EVALUATION, subsets: 24, seed: 3 }, retrainer, influence);
    const lds = Object.fromEntries(result.strategies.map((s) => [s.strategy, s.lds]));
    // Measured (data seed 5, subset seed 3): identity 0.785 [0.714, 0.855], diagonal 0.862, K-FAC 0.922,
    // EK-FAC 0.918 [0.898, 0.939]. With axis-aligned features (no mixing) identity came out level with EK-FAC.
    expect(result.strategies.map((s) => s.strategy)).toEqual(['identity', 'diagonal', 'kfac', 'ekfac']);
    expect(lds.ekfac!.mean).toBeGreaterThan(lds.identity!.mean);
    expect(lds.ekfac!.low).toBeGreaterThan(lds.identity!.high);
  });
});

describe('the engine and its statistics', () => {
  it('a measurement increasing in the subset sum gives LDS exactly 1, a decreasing one −1', async () => {
    const influence = Float64Array.from({ length: 3 * 10 }, (_, k) => Math.sin(1.3 * k + 0.2));
    const retrainer = (sign: number): Retrainer => ({
      trainSize: 10,
      querySize: 3,
      fingerprint: 'sum',
      measurement: 'sum',
      measure: async (members) =>
        Float64Array.from(
          { length: 3 },
          (_, q) => sign * Math.exp(Array.from(members).reduce((s, n) => s + influence[q * 10 + n]!, 0)),
        ),
    });
    const config = { ...DEFAULT_EVALUATION, subsets: 12, bootstrapSamples: 50 };
    const up = await evaluateInfluence(config, retrainer(1), new Map([['identity', influence]]));
    expect(Array.from(up.strategies[0]!.perQuery)).toEqual([1, 1, 1]);
    expect(up.strategies[0]!.lds).toEqual({ mean: 1, low: 1, high: 1, count: 3 });
    const down = await evaluateInfluence(config, retrainer(-1), new Map([['identity', influence]]));
    expect(Array.from(down.strategies[0]!.perQuery)).toEqual([-1, -1, -1]);
    const subsets = drawSubsets(10, 0.5, 12, 0);
    expect(Array.from(up.strategies[0]!.predictions)).toEqual(Array.from(subsetPredictions(influence, subsets, 3, 10)));
    for (let m = 0; m < subsets.length; m++)
      expect(up.subsetMask.subarray(m * 10, m * 10 + 10).reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('subsets: round(α·N) distinct sorted indices, the same for the same seed, different for another', () => {
    const a = drawSubsets(20, 0.3, 5, 4);
    for (const s of a) {
      expect(s).toHaveLength(6);
      expect(new Set(s).size).toBe(6);
      expect(Array.from(s)).toEqual(Array.from(s).sort((x, y) => x - y));
    }
    expect(drawSubsets(20, 0.3, 5, 4)).toEqual(a);
    expect(drawSubsets(20, 0.3, 5, 5)).not.toEqual(a);
    expect(() => drawSubsets(20, 1, 5, 4)).toThrow(/fraction/);
  });

  it('Spearman averages tied ranks; the bootstrap interval is the same for the same seed', () => {
    expect(Array.from(ranks([3, 1, 3, 2]))).toEqual([3.5, 1, 3.5, 2]);
    expect(spearman([1, 2, 3, 4], [10, 20, 20, 40])).toBeCloseTo(0.9486832980505138, 14);
    expect(Number.isNaN(spearman([1, 2, 3], [5, 5, 5]))).toBe(true);
    // Six tied ranks of 3.5: their float mean is not exactly 3.5, yet the series is constant (undefined, not 0).
    expect(Number.isNaN(spearman([1, 2, 3, 4, 5, 6], [-2, -2, -2, -2, -2, -2]))).toBe(true);
    const values = Float64Array.from({ length: 40 }, (_, i) => Math.cos(i * 0.7));
    const first = bootstrapMean(values, 500, 11);
    expect(bootstrapMean(values, 500, 11)).toEqual(first);
    expect(bootstrapMean(values, 500, 12)).not.toEqual(first);
    expect(first.low).toBeLessThan(first.mean);
    expect(first.high).toBeGreaterThan(first.mean);
    expect(bootstrapMean([0.5, NaN, 0.7], 100, 1).count).toBe(2);
  });

  it('refuses influence of the wrong shape and a checkpoint of another evaluation, naming the problem', async () => {
    const retrainer: Retrainer = {
      trainSize: 4,
      querySize: 2,
      fingerprint: 'a',
      measurement: 'm',
      measure: async () => new Float64Array(2),
    };
    await expect(
      evaluateInfluence({ ...DEFAULT_EVALUATION, subsets: 3 }, retrainer, new Map([['ekfac', new Float64Array(7)]])),
    ).rejects.toThrow(/ekfac influence has 7 values.*2 × 4/);
    const store = {
      load: async () => ({ version: 1 as const, fingerprint: 'other', retrains: {} }),
      save: async () => {},
    };
    await expect(
      evaluateInfluence({ ...DEFAULT_EVALUATION, subsets: 3 }, retrainer, new Map([['ekfac', new Float64Array(8)]]), {
        store,
      }),
    ).rejects.toThrow(/another model/);
  });

  it('savedOnly: the saved first K of M subsets score exactly as a complete evaluation with M = K', async () => {
    // Measurements from a fixed function of the members: any deterministic retrainer will do.
    const retrainer: Retrainer = {
      trainSize: 10,
      querySize: 3,
      fingerprint: 'f',
      measurement: 'm',
      measure: async (members) =>
        Float64Array.from({ length: 3 }, (_, q) => members.reduce((s, n) => s + Math.sin(n * (q + 1) + q), 0)),
    };
    const influence = new Map<Strategy, Float64Array>([
      ['ekfac', Float64Array.from({ length: 30 }, (_, k) => Math.cos(k))],
    ]);
    const config = { ...DEFAULT_EVALUATION, subsets: 8, bootstrapSamples: 200, seed: 5 };
    let saved: { version: 1; fingerprint: string; retrains: Record<string, Float64Array> } | null = null;
    const store = { load: async () => saved, save: async (c: typeof saved) => void (saved = c) };
    const complete5 = await evaluateInfluence({ ...config, subsets: 5 }, retrainer, influence);
    // A run of 8 subsets that stopped after 5: only the first 5 retrains are in the store.
    const controller = new AbortController();
    let done = 0;
    await expect(
      evaluateInfluence(config, retrainer, influence, {
        store,
        signal: controller.signal,
        onProgress: () => void (++done === 5 && controller.abort(new Error('stopped'))),
      }),
    ).rejects.toThrow(/stopped/);
    const partial = await evaluateInfluence(config, retrainer, influence, { store, savedOnly: true });
    expect(partial.partialOf).toBe(8);
    expect(partial.config.subsets).toBe(5);
    expect(partial.retrains).toEqual({ done: 0, resumed: 5 });
    expect(partial.strategies[0]!.lds).toEqual(complete5.strategies[0]!.lds);
    expect(Array.from(partial.subsetMask)).toEqual(Array.from(complete5.subsetMask));
  });
});
