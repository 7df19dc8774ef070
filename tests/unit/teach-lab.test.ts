/**
 * The teaching lab's numbers (src/teach): the engine's stages on the lab's float64 models, checked against the lab's
 * dense exact influence and against leave-one-out retraining, on the page's default states.
 */
import { describe, expect, it } from 'vitest';
import { pearson } from '../../src/core/stats';
import { gradientAndCurvature, newton } from '../../src/teach/fit';
import { leverages, objectiveOf, runLab } from '../../src/teach/lab';
import { agreements, snapTies, type LabResult } from '../../src/teach/results';
import { MODELS } from '../../src/teach/models';
import { forward } from '../../src/teach/network';
import { LM_QUERIES, LM_TRAIN } from '../../src/teach/lm-data';
import { runLmLab } from '../../src/teach/lm-lab';
import { PRESETS } from '../../src/teach/presets';
import { defaultState, labInputs, lmInputs, parseState, serializeState } from '../../src/teach/state';

async function lab(model: 'linear' | 'logistic' | 'mlp', patch = {}): Promise<LabResult> {
  return runLab(labInputs({ ...defaultState(model), ...patch }));
}

describe('2-D logistic regression (the lab default)', () => {
  it('exact damped Gauss–Newton influence predicts leave-one-out: Pearson ≥ 0.98 for every test point', async () => {
    const result = await lab('logistic');
    for (let q = 0; q < result.inputs.test.length; q++) {
      // Measured 0.993–0.999 (seed 3, δ = l2 = 0.01).
      expect(agreements(result, q).exact.pearson).toBeGreaterThanOrEqual(0.98);
    }
  });

  it("the engine's EK-FAC agrees with exact influence: Pearson ≥ 0.98 over all (query, point) pairs", async () => {
    const result = await lab('logistic');
    // As in influence-logistic.test.ts this is the method's approximation error and depends on the data:
    // 0.991 here; with other seeds of this generator 0.97–0.99 (per query down to 0.90).
    expect(pearson(result.methods.ekfac.tau, result.methods.exact.tau)).toBeGreaterThanOrEqual(0.98);
  });

  it('sign: removing the point with the largest positive τ lowers the query log-likelihood', async () => {
    const result = await lab('logistic');
    const n = result.inputs.train.length;
    for (let q = 0; q < result.inputs.test.length; q++) {
      const row = result.methods.exact.tau.subarray(q * n, (q + 1) * n);
      const top = row.indexOf(Math.max(...row));
      expect(result.loo[q * n + top]).toBeLessThan(0);
    }
  });
});

describe('1-D linear regression', () => {
  it('with the true Fisher, EK-FAC, K-FAC and the dense exact influence coincide (float64, 1e-9)', async () => {
    const result = await lab('linear');
    const scale = Math.max(...result.methods.exact.tau.map(Math.abs));
    for (const method of ['ekfac', 'kfac'] as const) {
      result.methods[method].tau.forEach((t, k) =>
        expect(Math.abs(t - result.methods.exact.tau[k])).toBeLessThan(1e-9 * scale),
      );
    }
  });

  it('leave-one-out equals the first-order influence times 1/(1 − h_n), exactly (Sherman–Morrison)', async () => {
    const result = await lab('linear');
    const { inputs, theta } = result;
    const n = inputs.train.length;
    const h = leverages(inputs, theta);
    expect(h.every((v) => v > 0 && v < 1)).toBe(true);
    const predictionAt = (t: Float64Array, x: readonly number[]) => forward(MODELS.linear.spec, t, x).output[0];
    let worstCorrected = 0;
    let worstUncorrected = 0;
    for (let i = 0; i < n; i++) {
      const weights = new Float64Array(n).fill(1);
      weights[i] = 0;
      const retrained = newton(objectiveOf(inputs, weights), theta).theta;
      inputs.test.forEach((query, q) => {
        // ∇L_q = 2 r_q x̃_q and ŷ_q is linear in θ, so ∇L_qᵀ(θ₋ₙ − θ*) = 2 r_q Δŷ_q exactly.
        const residual = predictionAt(theta, query.x) - query.y;
        const actual = 2 * residual * (predictionAt(retrained, query.x) - predictionAt(theta, query.x));
        const firstOrder = result.methods.ekfac.tau[q * n + i] / n;
        const scale = Math.abs(actual) + 1e-12;
        worstCorrected = Math.max(worstCorrected, Math.abs(firstOrder / (1 - h[i]) - actual) / scale);
        worstUncorrected = Math.max(worstUncorrected, Math.abs(firstOrder - actual) / scale);
      });
    }
    expect(worstCorrected).toBeLessThan(1e-8);
    // The page plots the uncorrected first-order prediction: it is off by the leverage factor, visibly.
    expect(worstUncorrected).toBeGreaterThan(0.05);
  });
});

describe('MLP and the lab URL', () => {
  it('the MLP trains to a stationary point and every method gives finite scores', async () => {
    const result = await lab('mlp');
    const { gradient } = gradientAndCurvature(objectiveOf(result.inputs), result.theta, false);
    expect(Math.hypot(...gradient)).toBeLessThan(1e-8);
    for (const scores of Object.values(result.methods)) expect(scores.tau.every(Number.isFinite)).toBe(true);
    expect(result.loo.every(Number.isFinite)).toBe(true);
  });

  it('Spearman treats float-noise differences as ties (symmetric examples), real differences as ranks', () => {
    expect(Array.from(snapTies([1, 2 + 1e-13, 2, 0.5, 2 - 1e-13]))).toEqual([1, 2 - 1e-13, 2 - 1e-13, 0.5, 2 - 1e-13]);
    expect(Array.from(snapTies([1, 1 + 1e-6, 3]))).toEqual([1, 1 + 1e-6, 3]);
  });

  it('a state survives the URL, and a bad parameter is named', () => {
    const state = {
      ...defaultState('logistic'),
      query: 2,
      damping: 0.003,
      fisher: 'empirical' as const,
      points: MODELS.logistic.generate(3).train.slice(0, 5),
    };
    expect(parseState(serializeState(state))).toEqual(state);
    expect(() => parseState('?model=logistic&damping=abc')).toThrow(/"damping" is "abc"/);
    expect(() => parseState('?model=logistic&pts=1:2:7_0:0:1')).toThrow(/"pts" is "1:2:7"/);
    expect(() => parseState('?model=logistic&q=99')).toThrow(/"q"/);
  });
});

describe('failure-case presets say what the page then shows', () => {
  const preset = (id: string) => PRESETS.find((p) => p.id === id)!;
  const topSelf = (self: Float64Array, k: number) =>
    Array.from(self, (_, i) => i)
      .sort((a, b) => self[b] - self[a])
      .slice(0, k);

  it('mislabelled: the flipped points are the top of the self-influence ranking (EK-FAC and exact)', async () => {
    const result = await runLab(labInputs(preset('mislabelled').state()));
    const flippedIndices = preset('mislabelled')
      .lesson.match(/points ([\d, ]+) were flipped/)![1]
      .split(', ')
      .map(Number);
    expect(flippedIndices).toHaveLength(4);
    for (const method of ['ekfac', 'exact'] as const)
      expect(topSelf(result.methods[method].selfTau, 4).sort((a, b) => a - b)).toEqual(flippedIndices);
  });

  it('outlier: the added point has by far the largest self-influence', async () => {
    const result = await runLab(labInputs(preset('outlier').state()));
    const self = result.methods.ekfac.selfTau;
    const outlier = self.length - 1;
    expect(topSelf(self, 1)).toEqual([outlier]);
    expect(self[outlier]).toBeGreaterThan(2 * Math.max(...self.subarray(0, outlier)));
  });

  it('non-convex: retraining from scratch breaks the agreement that retraining from θ* shows', async () => {
    const state = preset('nonconvex').state();
    const scratch = agreements(await runLab(labInputs(state)), state.query).exact.pearson;
    const warm = agreements(await runLab(labInputs({ ...state, loo: 'warm' })), state.query).exact.pearson;
    // Measured −0.001 and 0.86.
    expect(scratch).toBeLessThan(0.3);
    expect(warm).toBeGreaterThan(0.7);
  });

  it('too little damping: the exact method stops predicting leave-one-out for the preset query', async () => {
    const state = preset('low-damping').state();
    const low = agreements(await runLab(labInputs(state)), state.query).exact.pearson;
    const usual = agreements(await runLab(labInputs({ ...state, damping: MODELS.mlp.l2 })), state.query).exact.pearson;
    // Measured −0.74 and 0.82.
    expect(low).toBeLessThan(0);
    expect(usual).toBeGreaterThan(0.7);
  });
});

describe('the tiny LM', () => {
  it('per-token EK-FAC scores sum to the sentence scores; exact influence predicts leaving one out', async () => {
    const result = await runLmLab(lmInputs(defaultState('lm')));
    const { offsets, values } = result.perToken;
    const n = result.trainCount;
    const perRow = offsets[n];
    expect(perRow).toBe(result.train.reduce((s, ids) => s + ids.length - 1, 0));
    for (let q = 0; q < result.queries.length; q++) {
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let t = offsets[i]; t < offsets[i + 1]; t++) sum += values[q * perRow + t];
        expect(Math.abs(sum - result.methods.ekfac.tau[q * n + i])).toBeLessThan(1e-12 * (1 + Math.abs(sum)));
      }
      // Measured 0.964, 0.980, 0.990 (convex bigram model, δ = l2, ten sentences).
      expect(agreements(result, q).exact.pearson).toBeGreaterThan(0.95);
    }
  });

  it('the training sentence sharing most transitions with the query helps it most', async () => {
    const result = await runLmLab(lmInputs(defaultState('lm')));
    const n = result.trainCount;
    expect(LM_QUERIES[0]).toBe('the dog sat on the mat');
    for (const method of ['ekfac', 'exact'] as const) {
      const row = result.methods[method].tau.subarray(0, n);
      expect(LM_TRAIN[row.indexOf(Math.max(...row))]).toBe('the dog sat on the rug');
    }
  });

  it('edited sentences retrain: an added copy of the query helps it most, a deleted sentence is gone', async () => {
    const base = lmInputs(defaultState('lm'));
    const added = await runLmLab({ ...base, train: [...LM_TRAIN, 'The  dog sat on the MAT '] });
    expect(added.trainCount).toBe(11);
    expect(added.loo).toHaveLength(LM_QUERIES.length * 11);
    for (const method of ['ekfac', 'exact'] as const) {
      const row = added.methods[method].tau.subarray(0, 11);
      expect(row.indexOf(Math.max(...row))).toBe(10);
    }
    const deleted = await runLmLab({ ...base, train: LM_TRAIN.filter((s) => s !== 'the dog sat on the rug') });
    expect(deleted.train.map((ids) => ids.length)).toEqual(
      LM_TRAIN.slice(0, 1)
        .concat(LM_TRAIN.slice(2))
        .map((s) => s.split(' ').length + 2),
    );
    await expect(runLmLab({ ...base, train: ['the cat', 'the zebra sat'] })).rejects.toThrow(
      'sentence 2: tiny LM: "zebra" is not in the vocabulary',
    );
  });

  it('the sentences travel in the URL, normalised; a bad one is named', () => {
    const state = { ...defaultState('lm'), sentences: ['the cat sat on the mat', 'a dog ate a fish', 'the bird sat'] };
    expect(parseState(serializeState(state))).toEqual(state);
    expect(parseState('?model=lm&sents=The+CAT.a++dog').sentences).toEqual(['the cat', 'a dog']);
    expect(() => parseState('?model=lm&sents=the+cat.the+zebra')).toThrow(/"zebra" is not in the vocabulary/);
    expect(() => parseState('?model=lm&sents=the+cat.')).toThrow(/sentence 2/);
    expect(() => parseState('?model=lm&sents=the+cat')).toThrow(/2 to 40 sentences/);
    expect(() => parseState('?model=logistic&sents=the+cat.a+dog')).toThrow(/"sents"/);
  });
});
