/**
 * AdamW (Loshchilov & Hutter) with decoupled weight decay, global-norm gradient clipping, and a linear warm-up +
 * cosine decay schedule. Plain TypeScript over Float32Array/Float64Array parameters: the update is O(parameters)
 * and cheap next to the gradient graph, so it stays on the CPU where it is exact and reproducible.
 */

export interface AdamWOptions {
  readonly learningRate: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  readonly weightDecay?: number;
  /** Parameters whose name matches are not decayed (biases, LayerNorm gains, embeddings by convention). */
  readonly noDecay?: RegExp;
}

export type ParameterArray = Float32Array | Float64Array;

export interface AdamWState {
  step: number;
  readonly firstMoment: Map<string, Float64Array>;
  readonly secondMoment: Map<string, Float64Array>;
}

export function createAdamWState(): AdamWState {
  return { step: 0, firstMoment: new Map(), secondMoment: new Map() };
}

/** ‖g‖₂ over all gradients together. */
export function globalNorm(gradients: ReadonlyMap<string, ArrayLike<number>>): number {
  let sum = 0;
  for (const g of gradients.values()) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  return Math.sqrt(sum);
}

/** Scale factor that brings the global norm down to maxNorm (1 when it is already below). */
export function clipScale(norm: number, maxNorm: number): number {
  if (!Number.isFinite(norm)) throw new Error(`gradient norm is ${norm}: a NaN or Inf reached the gradients`);
  return norm > maxNorm ? maxNorm / (norm + 1e-12) : 1;
}

/**
 * One AdamW step in place. `gradientScale` multiplies every gradient first (clipping, or 1/batch).
 * The learning rate is passed per step so that the schedule stays outside the optimiser.
 */
export function adamWStep(
  parameters: ReadonlyMap<string, ParameterArray>,
  gradients: ReadonlyMap<string, ArrayLike<number>>,
  state: AdamWState,
  options: AdamWOptions,
  learningRate: number,
  gradientScale = 1,
): void {
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  const weightDecay = options.weightDecay ?? 0;
  state.step += 1;
  const correction1 = 1 - beta1 ** state.step;
  const correction2 = 1 - beta2 ** state.step;
  for (const [name, parameter] of parameters) {
    const gradient = gradients.get(name);
    if (!gradient) throw new Error(`AdamW: no gradient for parameter "${name}"`);
    if (gradient.length !== parameter.length) {
      throw new Error(
        `AdamW: gradient of "${name}" has ${gradient.length} elements, the parameter ${parameter.length}`,
      );
    }
    let m = state.firstMoment.get(name);
    let v = state.secondMoment.get(name);
    if (!m || !v) {
      m = new Float64Array(parameter.length);
      v = new Float64Array(parameter.length);
      state.firstMoment.set(name, m);
      state.secondMoment.set(name, v);
    }
    const decay = options.noDecay?.test(name) ? 0 : weightDecay;
    for (let i = 0; i < parameter.length; i++) {
      const g = gradient[i]! * gradientScale;
      m[i] = beta1 * m[i]! + (1 - beta1) * g;
      v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
      const update = m[i]! / correction1 / (Math.sqrt(v[i]! / correction2) + epsilon);
      parameter[i] = parameter[i]! - learningRate * (update + decay * parameter[i]!);
    }
  }
}

/** Linear warm-up from 0 to peak over warmupSteps, then cosine decay to minRatio·peak at totalSteps. */
export function warmupCosine(
  step: number,
  peak: number,
  warmupSteps: number,
  totalSteps: number,
  minRatio = 0.1,
): number {
  if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
