/**
 * The model-agnostic training loop (src/train/core.ts) and its Newton rule (src/train/newton.ts): the loop applies a
 * rule exactly as calling the optimiser by hand does, stops where its rules say, names bad losses, cancels; Newton
 * reaches a convex optimum to float64 precision and a non-convex local minimum through its Levenberg shift.
 */
import { describe, expect, it } from 'vitest';
import { adamWRule, runLoop, runLoopAsync, TrainingLoop, type Evaluation } from '../../src/train/core';
import { newtonMinimise, type SecondOrderObjective } from '../../src/train/newton';
import { adamWStep, clipScale, createAdamWState, globalNorm, warmupCosine } from '../../src/train/optimizer';

/** f(θ) = ½ Σ_i c_i (θ_i − t_i)², a separable quadratic. */
const c = [1, 4, 0.25];
const t = [0.5, -1, 2];
function quadratic(theta: Float64Array): Evaluation {
  let loss = 0;
  const g = theta.map((v, i) => c[i] * (v - t[i]));
  theta.forEach((v, i) => (loss += (c[i] * (v - t[i]) ** 2) / 2));
  return { loss, gradients: new Map([['w', g]]) };
}

describe('TrainingLoop', () => {
  it('with the AdamW rule, moves the parameters exactly as adamWStep by hand (same schedule, scale, clipping)', () => {
    const schedule = (s: number) => warmupCosine(s, 0.1, 3, 20);
    const theta = new Float64Array(3);
    const loop = new TrainingLoop(new Map([['w', theta]]), {
      rule: adamWRule({ weightDecay: 0.01, clipNorm: 0.5 }),
      maxSteps: 20,
      schedule,
    });
    const history = runLoop(loop, () => ({ ...quadratic(theta), gradientScale: 0.5 }));

    const manual = new Float64Array(3);
    const state = createAdamWState();
    for (let s = 0; s < 20; s++) {
      const g = quadratic(manual).gradients.get('w')!;
      const clip = clipScale(globalNorm(new Map([['w', g]])) * 0.5, 0.5);
      adamWStep(
        new Map([['w', manual]]),
        new Map([['w', g]]),
        state,
        { learningRate: 0, weightDecay: 0.01 },
        schedule(s),
        clip * 0.5,
      );
    }
    expect(Array.from(theta)).toEqual(Array.from(manual));
    expect(history.map((r) => r.step)).toEqual(Array.from({ length: 20 }, (_, s) => s));
    expect(history[5].learningRate).toBe(schedule(5));
    expect(history[19].loss).toBeLessThan(history[0].loss);
  });

  it('stops when the stopping rule says so, and names a non-finite loss with its step', () => {
    const theta = new Float64Array(3);
    const loop = new TrainingLoop(new Map([['w', theta]]), {
      rule: adamWRule(),
      maxSteps: 1000,
      schedule: () => 0.05,
      stop: (r) => r.loss < 1,
    });
    const history = runLoop(loop, () => quadratic(theta));
    expect(history.length).toBeLessThan(1000);
    expect(history[history.length - 1].loss).toBeLessThan(1);
    expect(history[history.length - 2].loss).toBeGreaterThanOrEqual(1);

    const bad = new TrainingLoop(new Map([['w', new Float64Array(1)]]), {
      name: 'toy',
      rule: adamWRule(),
      maxSteps: 5,
    });
    let calls = 0;
    expect(() => runLoop(bad, () => ({ loss: calls++ === 2 ? NaN : 1, gradients: new Map([['w', [1]]]) }))).toThrow(
      'toy: loss is NaN at step 2',
    );
  });

  it('the async driver reports every step and stops at an aborted signal', async () => {
    const theta = new Float64Array(3);
    const controller = new AbortController();
    const seen: number[] = [];
    const loop = new TrainingLoop(new Map([['w', theta]]), { rule: adamWRule(), maxSteps: 10, schedule: () => 0.1 });
    const run = runLoopAsync(loop, async () => quadratic(theta), {
      signal: controller.signal,
      onStep: (r) => {
        seen.push(r.step);
        if (r.step === 3) controller.abort(new Error('stop here'));
      },
    });
    await expect(run).rejects.toThrow('stop here');
    expect(seen).toEqual([0, 1, 2, 3]);
  });
});

/** f(θ) = Σ_i log(1 + e^{−y_i xᵢᵀθ}) + (r/2)‖θ‖²: logistic regression, strictly convex. */
function logistic(): SecondOrderObjective {
  const xs = [
    [1, 0.3],
    [-0.5, 1],
    [0.2, -0.8],
    [1.5, 0.4],
    [-1, -1],
  ];
  const ys = [1, -1, 1, 1, -1];
  const r = 0.1;
  const margin = (theta: Float64Array, i: number) => ys[i] * (xs[i][0] * theta[0] + xs[i][1] * theta[1]);
  const value = (theta: Float64Array) =>
    xs.reduce((s, _, i) => s + Math.log1p(Math.exp(-margin(theta, i))), (r / 2) * (theta[0] ** 2 + theta[1] ** 2));
  return {
    value,
    gradient: (theta) => {
      const gradient = theta.map((v) => r * v);
      xs.forEach((x, i) => {
        const s = -ys[i] / (1 + Math.exp(margin(theta, i)));
        gradient[0] += s * x[0];
        gradient[1] += s * x[1];
      });
      return { value: value(theta), gradient };
    },
    hessian: (theta) => {
      const h = Float64Array.of(r, 0, 0, r);
      xs.forEach((x, i) => {
        const p = 1 / (1 + Math.exp(-margin(theta, i)));
        const w = p * (1 - p);
        h[0] += w * x[0] * x[0];
        h[1] += w * x[0] * x[1];
        h[2] += w * x[1] * x[0];
        h[3] += w * x[1] * x[1];
      });
      return h;
    },
  };
}

describe('Newton through the training loop', () => {
  it('reaches the convex optimum to float64 precision (‖∇J‖ < 1e-13) in a handful of steps', () => {
    const objective = logistic();
    const { theta, iterations } = newtonMinimise(objective, new Float64Array(2));
    expect(iterations).toBeLessThan(12);
    expect(Math.hypot(...objective.gradient(theta).gradient)).toBeLessThan(1e-13);
  });

  it('finds a local minimum of a non-convex function from a point of negative curvature (Levenberg shift)', () => {
    // f(x) = x⁴/4 − x²/2: f''(0.1) < 0; minima at ±1.
    const objective: SecondOrderObjective = {
      value: (x) => x[0] ** 4 / 4 - x[0] ** 2 / 2,
      gradient: (x) => ({ value: x[0] ** 4 / 4 - x[0] ** 2 / 2, gradient: Float64Array.of(x[0] ** 3 - x[0]) }),
      hessian: (x) => Float64Array.of(3 * x[0] ** 2 - 1),
    };
    const { theta } = newtonMinimise(objective, Float64Array.of(0.1));
    expect(theta[0]).toBeCloseTo(1, 12);
  });
});
