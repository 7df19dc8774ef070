/**
 * Training the lab's models to the optimum of the L2-regularised objective
 *   J(θ; w) = Σ_n w_n L_n(θ) + (R/2)‖θ‖²,  R = N · l2 (N the full training-set size, kept when a point is left out),
 * so that the damped Gauss–Newton matrix GGN/N + l2·I is J's Hessian / N for the convex models and influence
 * functions' first-order prediction can be checked against leave-one-out retraining.
 *  - convex models (linear / logistic regression): Newton (their Hessian is the Gauss–Newton matrix) from θ = 0;
 *  - the MLP: full-batch AdamW (the project's optimiser, src/train/optimizer.ts, with its warm-up + cosine schedule)
 *    from a seeded initialisation, then Newton steps that polish θ to a local minimum (‖∇J‖ ~ 1e-12), since
 *    influence functions assume one.
 */
import { adamWStep, createAdamWState, warmupCosine } from '../train/optimizer';
import { seededUniform } from '../models/weights';
import { addOuter, cholesky, choleskySolveFactor, dot } from './dense';
import {
  exampleTerms,
  flatGradient,
  layerShapes,
  parameterCount,
  Workspace,
  type Example,
  type NetworkSpec,
} from './network';

export interface Objective {
  readonly spec: NetworkSpec;
  readonly examples: readonly Example[];
  /** Per-example weight w_n (1 = in, 0 = left out); default all 1. */
  readonly weights?: ArrayLike<number>;
  /** R: the L2 coefficient of the summed objective. */
  readonly ridge: number;
}

const workspaces = new WeakMap<NetworkSpec, Workspace>();

function workspace(spec: NetworkSpec): Workspace {
  let w = workspaces.get(spec);
  if (!w) {
    w = new Workspace(spec);
    workspaces.set(spec, w);
  }
  return w;
}

function weightOf(objective: Objective, n: number): number {
  return objective.weights ? objective.weights[n] : 1;
}

export function objectiveValue(objective: Objective, theta: Float64Array): number {
  let total = (objective.ridge / 2) * dot(theta, theta);
  objective.examples.forEach((e, n) => {
    const w = weightOf(objective, n);
    if (w !== 0) total += w * workspace(objective.spec).loss(theta, e);
  });
  return total;
}

/** ∇J, and (with curvature) the Gauss–Newton matrix of J: Σ w_n v_n v_nᵀ + R·I. */
export function gradientAndCurvature(objective: Objective, theta: Float64Array, curvature: boolean) {
  const p = theta.length;
  const gradient = theta.map((v) => objective.ridge * v);
  const ggn = curvature ? new Float64Array(p * p) : null;
  const ws = workspace(objective.spec);
  const v = ggn ? new Float64Array(p) : null;
  objective.examples.forEach((e, n) => {
    const w = weightOf(objective, n);
    if (w === 0) return;
    ws.accumulate(theta, e, 'given', w, gradient);
    if (ggn && v) {
      v.fill(0);
      ws.accumulate(theta, e, 'fisher', 1, v);
      addOuter(ggn, v, w);
    }
  });
  if (ggn) for (let k = 0; k < p; k++) ggn[k * p + k] += objective.ridge;
  return { gradient, ggn };
}

function isConvex(objective: Objective): boolean {
  return objective.spec.widths.length === 2;
}

/** ∇ of one example's loss (given label), flat. */
export function exampleGradient(
  objective: Objective,
  theta: Float64Array,
  n: number,
  out = new Float64Array(theta.length),
): Float64Array {
  out.fill(0);
  workspace(objective.spec).accumulate(theta, objective.examples[n], 'given', 1, out);
  return out;
}

/**
 * The Hessian of one example's loss. Convex models: the Gauss–Newton term v vᵀ is the whole Hessian. MLP: central
 * differences of the analytic gradient (symmetrised), accurate to ~1e-8 relative, which only changes how fast the
 * Newton iterations below converge, not where they converge to.
 */
export function exampleHessian(objective: Objective, theta: Float64Array, n: number): Float64Array {
  const p = theta.length;
  const out = new Float64Array(p * p);
  if (isConvex(objective)) {
    addOuter(
      out,
      flatGradient(objective.spec, exampleTerms(objective.spec, theta, objective.examples[n], 'fisher')),
      1,
    );
    return out;
  }
  const h = 1e-5;
  const shifted = theta.slice();
  const gp = new Float64Array(p);
  const gm = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    shifted[k] = theta[k] + h;
    exampleGradient(objective, shifted, n, gp);
    shifted[k] = theta[k] - h;
    exampleGradient(objective, shifted, n, gm);
    shifted[k] = theta[k];
    for (let j = 0; j < p; j++) out[k * p + j] = (gp[j] - gm[j]) / (2 * h);
  }
  for (let i = 0; i < p; i++)
    for (let j = 0; j < i; j++) out[i * p + j] = out[j * p + i] = (out[i * p + j] + out[j * p + i]) / 2;
  return out;
}

/** ∇²J: Σ_n w_n ∇²L_n + R·I. */
export function objectiveHessian(objective: Objective, theta: Float64Array): Float64Array {
  const p = theta.length;
  const out = new Float64Array(p * p);
  objective.examples.forEach((_, n) => {
    const w = weightOf(objective, n);
    if (w === 0) return;
    const hn = exampleHessian(objective, theta, n);
    for (let k = 0; k < p * p; k++) out[k] += w * hn[k];
  });
  for (let k = 0; k < p; k++) out[k * p + k] += objective.ridge;
  return out;
}

/** Cholesky of M + μI with the smallest μ ∈ {0, 1e-8·s, 1e-6·s, …} that is positive definite (Levenberg). */
function factorShifted(m: Float64Array, p: number): Float64Array {
  let scale = 0;
  for (let k = 0; k < p; k++) scale = Math.max(scale, Math.abs(m[k * p + k]));
  for (let shift = 0; ; shift = shift === 0 ? 1e-8 * scale : shift * 100) {
    try {
      const shifted = m.slice();
      for (let k = 0; k < p; k++) shifted[k * p + k] += shift;
      return cholesky(shifted, p);
    } catch (error) {
      if (shift > scale) throw error;
    }
  }
}

export interface NewtonOptions {
  readonly maxIterations?: number;
  /** A fixed Hessian (the chord method): factored once, reused every iteration; default: computed at the iterates. */
  readonly hessian?: Float64Array;
  /** Recompute the Hessian every this many iterations (between: chord steps; each FD Hessian of the MLP is costly). */
  readonly refreshEvery?: number;
}

/**
 * Newton's method with a backtracking line search until the step is negligible (relative 1e-12): converges to the
 * optimum of the convex models and to the local minimum near `start` for the MLP. Returns θ and the iterations used.
 */
export function newton(
  objective: Objective,
  start: Float64Array,
  options: NewtonOptions = {},
): { theta: Float64Array; iterations: number } {
  const maxIterations = options.maxIterations ?? 50;
  const p = start.length;
  let theta = start.slice();
  let value = objectiveValue(objective, theta);
  const refreshEvery = options.refreshEvery ?? 1;
  let factor = options.hessian ? factorShifted(options.hessian, p) : null;
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const { gradient } = gradientAndCurvature(objective, theta, false);
    if (!options.hessian && iteration % refreshEvery === 0)
      factor = factorShifted(objectiveHessian(objective, theta), p);
    if (!factor) throw new Error('newton: no Hessian factor');
    const step = choleskySolveFactor(factor, gradient, p);
    const decrease = dot(step, gradient);
    let scale = 1;
    let candidate = theta;
    let candidateValue = value;
    for (let halvings = 0; halvings < 40; halvings++, scale /= 2) {
      candidate = theta.map((v, k) => v - scale * step[k]);
      candidateValue = objectiveValue(objective, candidate);
      if (candidateValue <= value - 1e-4 * scale * decrease) break;
    }
    const size = Math.sqrt(dot(step, step)) * scale;
    if (candidateValue <= value) {
      theta = candidate;
      value = candidateValue;
    }
    if (!(candidateValue <= value) || size < 1e-12 * (1 + Math.sqrt(dot(theta, theta))))
      return { theta, iterations: iteration + 1 };
  }
  return { theta, iterations: maxIterations };
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

/** Full-batch AdamW on J / N (weight decay 0: the L2 term is part of J, so the optimum is J's). */
export function adamFit(
  objective: Objective,
  start: Float64Array,
  schedule: AdamSchedule = MLP_SCHEDULE,
): Float64Array {
  const theta = start.slice();
  const parameters = new Map([['theta', theta]]);
  const state = createAdamWState();
  const scale = 1 / objective.examples.length;
  for (let step = 0; step < schedule.steps; step++) {
    const { gradient } = gradientAndCurvature(objective, theta, false);
    const learningRate = warmupCosine(step, schedule.peakLearningRate, schedule.warmupSteps, schedule.steps);
    adamWStep(parameters, new Map([['theta', gradient]]), state, { learningRate }, learningRate, scale);
  }
  return theta;
}

/**
 * The lab's training procedure for a model: convex → Gauss–Newton (= Newton) from 0; MLP → AdamW from the seeded
 * initialisation, then Gauss–Newton polish.
 */
export function train(objective: Objective, seed: number): Float64Array {
  if (isConvex(objective)) return newton(objective, new Float64Array(parameterCount(objective.spec))).theta;
  return newton(objective, adamFit(objective, initialParameters(objective.spec, seed)), {
    maxIterations: 40,
    refreshEvery: 4,
  }).theta;
}
