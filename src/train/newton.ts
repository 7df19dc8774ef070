/**
 * Newton's method as a step rule of the training loop (./core.ts), for small models whose dense Hessian fits in
 * memory: the teaching lab's convex models (trained by it alone, because leave-one-out retraining must reach the
 * optimum to 1e-12, which no first-order schedule does in a few hundred steps) and its MLP (polished by it after AdamW,
 * since influence functions assume a local minimum). Float64 throughout.
 *
 * Each step solves (∇²J + μI) s = ∇J by Cholesky with the smallest Levenberg shift μ ∈ {0, 1e-8·s, 1e-7·s, …} that
 * is positive definite (non-convex objectives), then backtracks along −s until the Armijo condition holds.
 * `newtonConverged` stops once the step is negligible (relative 1e-12); the rule reports `stalled` when no step
 * length decreases J, i.e. θ is a minimum to machine precision.
 */
import { cholesky, choleskySolveFactor } from '../linalg/cpu/cholesky';
import { runLoop, TrainingLoop, type StepRecord, type StepRule } from './core';

/** What Newton needs beyond the gradient: J itself (line search) and its Hessian, at any θ. */
export interface SecondOrderObjective {
  value(theta: Float64Array): number;
  /** Loss (J) and ∇J at θ. */
  gradient(theta: Float64Array): { value: number; gradient: Float64Array };
  hessian(theta: Float64Array): Float64Array;
}

export interface NewtonOptions {
  readonly maxIterations?: number;
  /** A fixed Hessian (the chord method): factored once, reused every iteration; default: computed at the iterates. */
  readonly hessian?: Float64Array;
  /** Recompute the Hessian every this many iterations (between: chord steps). */
  readonly refreshEvery?: number;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Cholesky of M + μI with the smallest shift on the ladder that is safely positive definite (Levenberg): every pivot
 * at least 1e-10 of M's largest diagonal, so that a barely-definite shift cannot produce a huge step.
 */
function factorShifted(m: Float64Array, p: number): Float64Array {
  let scale = 0;
  for (let k = 0; k < p; k++) scale = Math.max(scale, Math.abs(m[k * p + k]));
  for (let shift = 0; ; shift = shift === 0 ? 1e-8 * scale : shift * 10) {
    try {
      const shifted = m.slice();
      for (let k = 0; k < p; k++) shifted[k * p + k] += shift;
      const factor = cholesky(shifted, p);
      for (let k = 0; k < p; k++)
        if (factor[k * p + k] ** 2 < 1e-10 * scale) throw new Error(`newton: Hessian is singular at pivot ${k}`);
      return factor;
    } catch (error) {
      if (shift > 10 * scale) throw error;
    }
  }
}

/** Newton steps on the single flat parameter vector of the loop. */
export function newtonRule(objective: SecondOrderObjective, options: NewtonOptions = {}): StepRule {
  const refreshEvery = options.refreshEvery ?? 1;
  let factor: Float64Array | null = null;
  let iteration = 0;
  return {
    apply(parameters, evaluation) {
      if (parameters.size !== 1) throw new Error(`newtonRule: needs one flat parameter vector, got ${parameters.size}`);
      const [[name, theta]] = [...parameters];
      if (!(theta instanceof Float64Array)) throw new Error(`newtonRule: parameter "${name}" must be float64`);
      const gradient = evaluation.gradients.get(name)!;
      const p = theta.length;
      if (options.hessian) factor ??= factorShifted(options.hessian, p);
      else if (iteration % refreshEvery === 0) factor = factorShifted(objective.hessian(theta), p);
      iteration++;
      const step = choleskySolveFactor(factor!, gradient, p);
      const decrease = dot(step, gradient);
      const value = evaluation.loss;
      const candidate = new Float64Array(p);
      let scale = 1;
      let candidateValue = value;
      // Once the predicted decrease is below J's rounding error, J cannot judge a step: take the full one (the
      // quadratic model is exact there) and let the step-size rule stop the loop.
      const resolvable = decrease > 1e-13 * (1 + Math.abs(value));
      for (let halvings = 0; halvings < 40; halvings++, scale /= 2) {
        for (let k = 0; k < p; k++) candidate[k] = theta[k] - scale * step[k];
        if (!resolvable) break;
        candidateValue = objective.value(candidate);
        if (candidateValue <= value - 1e-4 * scale * decrease) break;
      }
      const improved = !resolvable || candidateValue <= value;
      if (improved) theta.set(candidate);
      return {
        gradientNorm: Math.sqrt(dot(gradient, gradient)),
        stepSize: Math.sqrt(dot(step, step)) * scale,
        stalled: !improved,
      };
    },
  };
}

/** Stop once a step moved θ by less than 1e-12 relative to ‖θ‖. */
export function newtonConverged(theta: Float64Array): (record: StepRecord) => boolean {
  return (record) => (record.stepSize ?? Infinity) < 1e-12 * (1 + Math.sqrt(dot(theta, theta)));
}

/** Minimises J from `start` by Newton through the training loop; returns θ and the iterations taken. */
export function newtonMinimise(
  objective: SecondOrderObjective,
  start: Float64Array,
  options: NewtonOptions = {},
): { theta: Float64Array; iterations: number } {
  const theta = start.slice();
  const loop = new TrainingLoop(new Map([['theta', theta]]), {
    name: 'newton',
    rule: newtonRule(objective, options),
    maxSteps: options.maxIterations ?? 50,
    stop: newtonConverged(theta),
  });
  runLoop(loop, () => {
    const { value, gradient } = objective.gradient(theta);
    return { loss: value, gradients: new Map([['theta', gradient]]) };
  });
  return { theta, iterations: loop.steps };
}
