/**
 * Training the lab's models to the optimum of the L2-regularised objective
 *   J(θ; w) = Σ_n w_n L_n(θ) + (R/2)‖θ‖²,  R = N · l2 (N the full training-set size, kept when a point is left out),
 * so that the damped Gauss–Newton matrix GGN/N + l2·I is J's Hessian / N for the convex models and influence
 * functions' first-order prediction can be checked against leave-one-out retraining. Every fit runs through the
 * project's training loop (src/train/core.ts) with the chain evaluated batched (./batch.ts):
 *  - convex models (linear / logistic regression): the Newton rule (their Hessian is the Gauss–Newton matrix) from 0;
 *  - the MLP: the AdamW rule on J/N with the warm-up + cosine schedule from a seeded initialisation, then the Newton
 *    rule that polishes θ to a local minimum (‖∇J‖ ~ 1e-14), since influence functions assume one.
 */
import { gemm } from '../linalg/cpu/gemm';
import { adamWRule, runLoop, TrainingLoop } from '../train/core';
import { newtonMinimise, type NewtonOptions, type SecondOrderObjective } from '../train/newton';
import { warmupCosine } from '../train/optimizer';
import { seededUniform } from '../core/random';
import { BatchChain } from './batch';
import { dot } from './dense';
import { layerShapes, parameterCount, type Example, type NetworkSpec } from './network';

export type { NewtonOptions } from '../train/newton';

export interface Objective {
  readonly spec: NetworkSpec;
  readonly examples: readonly Example[];
  /** Per-example weight w_n (1 = in, 0 = left out); default all 1. */
  readonly weights?: ArrayLike<number>;
  /** R: the L2 coefficient of the summed objective. */
  readonly ridge: number;
}

/** One batched chain per training set (leave-one-out refits share it: they differ only in the weights). */
const chains = new WeakMap<readonly Example[], BatchChain>();

function chainOf(objective: Objective): BatchChain {
  let chain = chains.get(objective.examples);
  if (!chain || chain.spec !== objective.spec) {
    chain = new BatchChain(objective.spec, objective.examples);
    chains.set(objective.examples, chain);
  }
  return chain;
}

export function objectiveValue(objective: Objective, theta: Float64Array): number {
  return chainOf(objective).loss(theta, objective.weights) + (objective.ridge / 2) * dot(theta, theta);
}

/** J and ∇J at θ, the gradient into `out`. */
function valueAndGradient(objective: Objective, theta: Float64Array, out: Float64Array): number {
  const value = chainOf(objective).gradient(theta, out, objective.weights);
  for (let k = 0; k < theta.length; k++) out[k] += objective.ridge * theta[k];
  return value + (objective.ridge / 2) * dot(theta, theta);
}

/** Σ_n w_n v_n v_nᵀ (+ R·I) for per-example vectors V [N × P]: one symmetric GEMM. */
function weightedGram(v: Float64Array, n: number, p: number, weights?: ArrayLike<number>, ridge = 0): Float64Array {
  const weighted = weights ? v.map((x, k) => x * weights[Math.floor(k / p)]) : v;
  const out = new Float64Array(p * p);
  gemm(p, p, n, { data: weighted, ld: p, transposed: true }, { data: v, ld: p }, { data: out, ld: p });
  for (let k = 0; k < p; k++) out[k * p + k] += ridge;
  return out;
}

/** ∇J, and (with curvature) the Gauss–Newton matrix of J: Σ w_n v_n v_nᵀ + R·I. */
export function gradientAndCurvature(objective: Objective, theta: Float64Array, curvature: boolean) {
  const gradient = new Float64Array(theta.length);
  valueAndGradient(objective, theta, gradient);
  if (!curvature) return { gradient, ggn: null };
  const chain = chainOf(objective);
  const v = chain.perExample(theta, 'fisher');
  return { gradient, ggn: weightedGram(v, chain.n, chain.p, objective.weights, objective.ridge) };
}

function isConvex(objective: Objective): boolean {
  return objective.spec.widths.length === 2;
}

/**
 * Forward-difference step for the MLP's Hessians: ~1e-7 relative accuracy, which only sets the linear rate at which
 * Newton's iterations converge (to the exact stationary point, whatever the Hessian's error), at half the passes of
 * central differences.
 */
const FD_STEP = 1e-7;

/** Symmetrises a [p × p] matrix in place. */
function symmetrise(m: Float64Array, p: number, offset = 0): void {
  for (let i = 0; i < p; i++)
    for (let j = 0; j < i; j++) {
      const mean = (m[offset + i * p + j] + m[offset + j * p + i]) / 2;
      m[offset + i * p + j] = m[offset + j * p + i] = mean;
    }
}

/**
 * Every example's loss Hessian ∇²L_n, [N × P × P]. Convex models: the Gauss–Newton term v vᵀ is the whole Hessian.
 * MLP: forward differences of the batched per-example gradients, column by column (P + 1 passes), symmetrised.
 */
export function exampleHessians(objective: Objective, theta: Float64Array): Float64Array {
  const chain = chainOf(objective);
  const { n, p } = chain;
  const out = new Float64Array(n * p * p);
  if (isConvex(objective)) {
    const v = chain.perExample(theta, 'fisher');
    for (let i = 0; i < n; i++)
      for (let r = 0; r < p; r++) for (let c = 0; c < p; c++) out[i * p * p + r * p + c] = v[i * p + r] * v[i * p + c];
    return out;
  }
  const shifted = theta.slice();
  const base = chain.perExample(theta, 'given');
  const plus = new Float64Array(n * p);
  for (let k = 0; k < p; k++) {
    shifted[k] = theta[k] + FD_STEP;
    chain.perExample(shifted, 'given', plus);
    shifted[k] = theta[k];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < p; j++) out[i * p * p + k * p + j] = (plus[i * p + j] - base[i * p + j]) / FD_STEP;
  }
  for (let i = 0; i < n; i++) symmetrise(out, p, i * p * p);
  return out;
}

/** ∇²J: Σ_n w_n ∇²L_n + R·I (the MLP's by forward differences of the batched ∇J, P + 1 passes). */
export function objectiveHessian(objective: Objective, theta: Float64Array): Float64Array {
  if (isConvex(objective)) return gradientAndCurvature(objective, theta, true).ggn!;
  const p = theta.length;
  const out = new Float64Array(p * p);
  const shifted = theta.slice();
  const base = new Float64Array(p);
  valueAndGradient(objective, theta, base);
  const plus = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    shifted[k] = theta[k] + FD_STEP;
    valueAndGradient(objective, shifted, plus);
    shifted[k] = theta[k];
    for (let j = 0; j < p; j++) out[k * p + j] = (plus[j] - base[j]) / FD_STEP;
  }
  symmetrise(out, p);
  return out;
}

/** The objective as the training loop's Newton rule sees it. */
function secondOrder(objective: Objective): SecondOrderObjective {
  return {
    value: (theta) => objectiveValue(objective, theta),
    gradient: (theta) => {
      const gradient = new Float64Array(theta.length);
      return { value: valueAndGradient(objective, theta, gradient), gradient };
    },
    hessian: (theta) => objectiveHessian(objective, theta),
  };
}

/**
 * Newton's method (the training loop's Newton rule, src/train/newton.ts) until the step is negligible (relative
 * 1e-12): the optimum of the convex models, the local minimum near `start` for the MLP.
 */
export function newton(
  objective: Objective,
  start: Float64Array,
  options: NewtonOptions = {},
): { theta: Float64Array; iterations: number } {
  return newtonMinimise(secondOrder(objective), start, options);
}

/** PyTorch nn.Linear's default initialisation (uniform ±1/√d_in), seeded, in the flat layout. */
export function initialParameters(spec: NetworkSpec, seed: number): Float64Array {
  const uniform = seededUniform(seed);
  const theta = new Float64Array(parameterCount(spec));
  for (const { dIn, dOut, offset } of layerShapes(spec)) {
    const bound = 1 / Math.sqrt(dIn);
    for (let k = 0; k < dOut * (dIn + 1); k++) theta[offset + k] = (2 * uniform() - 1) * bound;
  }
  return theta;
}

export interface AdamSchedule {
  readonly steps: number;
  readonly peakLearningRate: number;
  readonly warmupSteps: number;
}

export const MLP_SCHEDULE: AdamSchedule = { steps: 300, peakLearningRate: 0.05, warmupSteps: 10 };

/** Full-batch AdamW on J / N through the training loop (weight decay 0: the L2 term is part of J). */
export function adamFit(
  objective: Objective,
  start: Float64Array,
  schedule: AdamSchedule = MLP_SCHEDULE,
): Float64Array {
  const theta = start.slice();
  const gradient = new Float64Array(theta.length);
  const gradients = new Map([['theta', gradient]]);
  const loop = new TrainingLoop(new Map([['theta', theta]]), {
    name: 'lab AdamW',
    rule: adamWRule(),
    maxSteps: schedule.steps,
    schedule: (step) => warmupCosine(step, schedule.peakLearningRate, schedule.warmupSteps, schedule.steps),
  });
  const scale = 1 / objective.examples.length;
  runLoop(loop, () => ({
    loss: valueAndGradient(objective, theta, gradient) * scale,
    gradients,
    gradientScale: scale,
  }));
  return theta;
}

/**
 * The lab's training procedure for a model: convex → Newton from 0; MLP → AdamW from the seeded initialisation, then
 * Newton with the Hessian refreshed every 4 steps (chord steps between: each refresh costs P + 1 batched gradients).
 */
export function train(objective: Objective, seed: number): Float64Array {
  if (isConvex(objective)) return newton(objective, new Float64Array(parameterCount(objective.spec))).theta;
  return newton(objective, adamFit(objective, initialParameters(objective.spec, seed)), {
    maxIterations: 40,
    refreshEvery: 4,
  }).theta;
}
