/**
 * One lab update: train the model on the current points, score every test point against every training point with
 * each method, and retrain once per left-out point for the ground truth.
 *  - identity, diagonal, kfac, ekfac: the engine's own pipeline (src/influence runAttribution) on the CPU float64
 *    backend, fed by the float64 chain (./source.ts), absolute damping δ;
 *  - exact: ∇L_qᵀ (C/N + δI)⁻¹ ∇L_n with the dense curvature C (Gauss–Newton Σ v vᵀ for the true Fisher, Σ ∇L ∇Lᵀ for
 *    the empirical one), float64 Cholesky — the matrix every other method approximates;
 *  - loo: f_q(θ₋ₙ) − f_q(θ*) after retraining without point n (f = the query's log-likelihood).
 * Every method's τ predicts the leave-one-out change Δf ≈ −τ/N (removing n is down-weighting it by 1 in Σ_n L_n,
 * and H = C/N + δI is the curvature of J/N); `predictedChange` gives that.
 */
import { runAttribution } from '../influence/pipeline';
import { DEFAULT_CONFIG, type AttributionResult, type GradientSource } from '../influence/types';
import { STRATEGY_NAMES, type Strategy } from '../core/strategy';
import { CpuBackend } from '../linalg/cpu/backend';
import { addOuter, cholesky, choleskySolveFactor, dot } from './dense';
import { exampleHessians, newton, objectiveHessian, train, type Objective } from './fit';
import { MODELS, type TeachModel } from './models';
import { exampleTerms, flatGradient, layerShapes, parameterCount, type Example } from './network';
import type { Fisher, LabInputs, LabResult, MethodScores } from './results';
import { ChainSource } from './source';

export function objectiveOf(inputs: Pick<LabInputs, 'model' | 'train'>, weights?: ArrayLike<number>): Objective {
  const definition = MODELS[inputs.model];
  return { spec: definition.spec, examples: inputs.train, ridge: inputs.train.length * definition.l2, weights };
}

export function logLikelihood(model: TeachModel, theta: Float64Array, example: Example): number {
  return exampleTerms(MODELS[model].spec, theta, example, 'given').logLikelihood;
}

const ENGINE_METHODS: readonly Strategy[] = STRATEGY_NAMES;

export interface EngineRequest {
  readonly source: GradientSource;
  readonly trainCount: number;
  readonly queryCount: number;
  readonly damping: number;
  readonly fisher: Fisher;
  readonly strategies?: readonly Strategy[];
  /** Keep the per-token scores (the tiny LM). */
  readonly perToken?: boolean;
}

/** The engine's runs (CPU float64, absolute δ) for the given strategies (default all four), keyed by strategy. */
export async function runEngine(request: EngineRequest): Promise<Map<Strategy, AttributionResult>> {
  const backend = new CpuBackend();
  const set = (role: 'train' | 'query', count: number) => ({
    role,
    examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })),
  });
  const runs = new Map<Strategy, AttributionResult>();
  for (const strategy of request.strategies ?? ENGINE_METHODS) {
    const config = {
      ...DEFAULT_CONFIG,
      strategy,
      damping: { kind: 'absolute', value: request.damping } as const,
      fisher: request.fisher === 'true' ? ('sampled' as const) : ('empirical' as const),
      perToken: request.perToken ?? false,
      batchSizes: { fit: 64, train: 64, query: 64, batchesPerChunk: 64 },
    };
    const result = await runAttribution(config, {
      backend,
      source: request.source,
      trainSet: set('train', request.trainCount),
      querySet: set('query', request.queryCount),
    });
    runs.set(strategy, result);
  }
  return runs;
}

/** The engine's runs on a 2-D model at θ. */
export function engineScores(inputs: LabInputs, theta: Float64Array, strategies?: readonly Strategy[]) {
  const source = new ChainSource(MODELS[inputs.model].spec, theta, { train: inputs.train, query: inputs.test });
  return runEngine({
    source,
    trainCount: inputs.train.length,
    queryCount: inputs.test.length,
    damping: inputs.damping,
    fisher: inputs.fisher,
    strategies,
  });
}

/** Per query, per layer, G_q = g ã ᵀ of the query's own loss. */
function chainQueryGradients(inputs: LabInputs, theta: Float64Array): Float64Array[][] {
  const spec = MODELS[inputs.model].spec;
  return inputs.test.map((q) => {
    const terms = exampleTerms(spec, theta, q, 'given');
    return layerShapes(spec).map(({ dIn, dOut }, l) => {
      const a = terms.pass.inputs[l];
      const g = terms.g[l];
      return Float64Array.from({ length: dOut * (dIn + 1) }, (_, k) => g[Math.floor(k / (dIn + 1))] * a[k % (dIn + 1)]);
    });
  });
}

/** Dense exact influence with the same curvature the engine's methods approximate. */
export function exactScores(inputs: LabInputs, theta: Float64Array): MethodScores {
  const spec = MODELS[inputs.model].spec;
  const p = parameterCount(spec);
  const n = inputs.train.length;
  const gradients = inputs.train.map((e) => flatGradient(spec, exampleTerms(spec, theta, e, 'given')));
  const curvature = new Float64Array(p * p);
  inputs.train.forEach((e, i) => {
    const v = inputs.fisher === 'true' ? flatGradient(spec, exampleTerms(spec, theta, e, 'fisher')) : gradients[i];
    addOuter(curvature, v, 1 / n);
  });
  for (let k = 0; k < p; k++) curvature[k * p + k] += inputs.damping;
  const factor = cholesky(curvature, p);
  const tau = new Float64Array(inputs.test.length * n);
  inputs.test.forEach((q, qi) => {
    const solved = choleskySolveFactor(factor, flatGradient(spec, exampleTerms(spec, theta, q, 'given')), p);
    for (let i = 0; i < n; i++) tau[qi * n + i] = dot(solved, gradients[i]);
  });
  const selfTau = Float64Array.from(gradients, (g) => dot(choleskySolveFactor(factor, g, p), g));
  return { tau, selfTau };
}

/**
 * Leverage h_n = v_nᵀ (C + N·δ·I)⁻¹ v_n with v_n the Fisher pseudo-gradient (./network.ts). For linear regression with
 * δ = l2 this is the hat-matrix diagonal 2 x̃ₙᵀ ∇²J⁻¹ x̃ₙ, and leave-one-out is exactly the first-order influence
 * divided by (1 − h_n) (Sherman–Morrison); the lab plots the first-order prediction, uncorrected.
 */
export function leverages(inputs: LabInputs, theta: Float64Array): Float64Array {
  const spec = MODELS[inputs.model].spec;
  const p = parameterCount(spec);
  const n = inputs.train.length;
  const v = inputs.train.map((e) => flatGradient(spec, exampleTerms(spec, theta, e, 'fisher')));
  const curvature = new Float64Array(p * p);
  v.forEach((vi) => addOuter(curvature, vi, 1));
  for (let k = 0; k < p; k++) curvature[k * p + k] += n * inputs.damping;
  const factor = cholesky(curvature, p);
  return Float64Array.from(v, (vi) => dot(choleskySolveFactor(factor, vi, p), vi));
}

/**
 * Δf [Q × N] from retraining without each point. 'warm': Newton from θ* with the Hessian of J₋ₙ at θ*
 * (∇²J − ∇²Lₙ, factored once per point: the chord method) until the step is below 1e-12 relative — the retrained
 * optimum itself, not a one-step approximation of it. 'scratch': the full training procedure from the seeded start.
 */
export function leaveOneOut(inputs: LabInputs, theta: Float64Array): Float64Array {
  const n = inputs.train.length;
  const baseline = inputs.test.map((q) => logLikelihood(inputs.model, theta, q));
  const out = new Float64Array(inputs.test.length * n);
  const full = objectiveOf(inputs);
  const hessian = inputs.loo === 'warm' ? objectiveHessian(full, theta) : null;
  const pieces = hessian ? exampleHessians(full, theta) : null;
  const pp = theta.length * theta.length;
  for (let i = 0; i < n; i++) {
    const weights = new Float64Array(n).fill(1);
    weights[i] = 0;
    const objective = objectiveOf(inputs, weights);
    let retrained: Float64Array;
    if (hessian && pieces) {
      const without = hessian.map((v, k) => v - pieces[i * pp + k]);
      retrained = newton(objective, theta, { hessian: without, maxIterations: 100 }).theta;
    } else retrained = train(objective, inputs.seed);
    inputs.test.forEach((q, qi) => (out[qi * n + i] = logLikelihood(inputs.model, retrained, q) - baseline[qi]));
  }
  return out;
}

export async function runLab(inputs: LabInputs): Promise<LabResult> {
  if (inputs.train.length < 2) throw new Error(`the lab needs at least 2 training points, got ${inputs.train.length}`);
  if (inputs.test.length < 1) throw new Error('the lab needs at least 1 test point');
  const clock = () => performance.now();
  let start = clock();
  const theta = train(objectiveOf(inputs), inputs.seed);
  const trainMs = clock() - start;
  start = clock();
  const runs = await engineScores(inputs, theta);
  const engineMs = clock() - start;
  start = clock();
  const exact = exactScores(inputs, theta);
  const exactMs = clock() - start;
  start = clock();
  const loo = leaveOneOut(inputs, theta);
  const looMs = clock() - start;
  const fromRun = (s: Strategy): MethodScores => ({ tau: runs.get(s)!.tau, selfTau: runs.get(s)!.selfTau });
  return {
    inputs,
    theta,
    trainCount: inputs.train.length,
    queryGradients: chainQueryGradients(inputs, theta),
    methods: {
      exact,
      ekfac: fromRun('ekfac'),
      kfac: fromRun('kfac'),
      diagonal: fromRun('diagonal'),
      identity: fromRun('identity'),
    },
    ekfacRun: runs.get('ekfac')!,
    loo,
    timings: { train: trainMs, engine: engineMs, exact: exactMs, loo: looMs },
  };
}
