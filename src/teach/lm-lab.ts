/**
 * One update of the tiny-LM lab: train the bigram model, score every query sentence against every training sentence
 * with the engine (per-token scores kept) and the dense exact inverse, and retrain once per left-out sentence.
 */
import type { Strategy } from '../core/strategy';
import { cholesky, choleskySolveFactor, dot } from './dense';
import { runEngine } from './lab';
import {
  LM_PARAMETERS,
  LmSource,
  lmCurvature,
  lmNewton,
  sentenceGradient,
  sentenceLogLikelihood,
  type LmObjective,
} from './lm';
import { LM_L2, LM_QUERIES, tokenize } from './lm-data';
import type { LmInputs, LmResult, MethodScores } from './results';

function objective(train: readonly (readonly number[])[], weights?: ArrayLike<number>): LmObjective {
  return { sentences: train, weights, ridge: train.length * LM_L2 };
}

function exactScores(
  inputs: LmInputs,
  theta: Float64Array,
  train: readonly number[][],
  queries: readonly number[][],
): MethodScores {
  const n = train.length;
  const p = LM_PARAMETERS;
  const curvature = lmCurvature(theta, train, inputs.fisher).map((v) => v / n);
  for (let k = 0; k < p; k++) curvature[k * p + k] += inputs.damping;
  const factor = cholesky(curvature, p);
  const gradients = train.map((s) => sentenceGradient(theta, s));
  const tau = new Float64Array(queries.length * n);
  queries.forEach((q, qi) => {
    const solved = choleskySolveFactor(factor, sentenceGradient(theta, q), p);
    gradients.forEach((g, i) => (tau[qi * n + i] = dot(solved, g)));
  });
  return { tau, selfTau: Float64Array.from(gradients, (g) => dot(choleskySolveFactor(factor, g, p), g)) };
}

export async function runLmLab(inputs: LmInputs): Promise<LmResult> {
  const clock = () => performance.now();
  if (inputs.train.length < 2) throw new Error(`the tiny LM needs at least 2 sentences, got ${inputs.train.length}`);
  const train = inputs.train.map((sentence, i) => {
    try {
      return tokenize(sentence);
    } catch (error) {
      throw new Error(`sentence ${i + 1}: ${(error as Error).message}`, { cause: error });
    }
  });
  const queries = LM_QUERIES.map(tokenize);
  let start = clock();
  const full = objective(train);
  const theta = lmNewton(full, new Float64Array(LM_PARAMETERS));
  const trainMs = clock() - start;

  start = clock();
  const runs = await runEngine({
    source: new LmSource(theta, { train, query: queries }),
    trainCount: train.length,
    queryCount: queries.length,
    damping: inputs.damping,
    fisher: inputs.fisher,
    perToken: true,
  });
  const engineMs = clock() - start;
  start = clock();
  const exact = exactScores(inputs, theta, train, queries);
  const exactMs = clock() - start;

  start = clock();
  const n = train.length;
  const baseline = queries.map((q) => sentenceLogLikelihood(theta, q));
  const loo = new Float64Array(queries.length * n);
  train.forEach((_, i) => {
    const weights = new Float64Array(n).fill(1);
    weights[i] = 0;
    // Full Newton from θ*: a sentence out moves θ far enough that a fixed Hessian (chord) converges slowly.
    const retrained = lmNewton(objective(train, weights), theta);
    queries.forEach((q, qi) => (loo[qi * n + i] = sentenceLogLikelihood(retrained, q) - baseline[qi]));
  });
  const looMs = clock() - start;

  const ekfac = runs.get('ekfac')!;
  const fromRun = (s: Strategy): MethodScores => ({ tau: runs.get(s)!.tau, selfTau: runs.get(s)!.selfTau });
  return {
    inputs,
    train,
    queries,
    theta,
    trainCount: n,
    methods: {
      exact,
      ekfac: fromRun('ekfac'),
      kfac: fromRun('kfac'),
      diagonal: fromRun('diagonal'),
      identity: fromRun('identity'),
    },
    ekfacRun: ekfac,
    loo,
    queryGradients: queries.map((q) => [sentenceGradient(theta, q)]),
    perToken: ekfac.tauPerToken!,
    timings: { train: trainMs, engine: engineMs, exact: exactMs, loo: looMs },
  };
}
