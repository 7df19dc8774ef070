/**
 * The project's training loop, model-agnostic: named parameters, a source that evaluates the objective and its
 * gradients at them (an ONNX gradient graph on onnxruntime for the causal LMs, src/train/loop.ts; the teaching lab's
 * float64 chains, src/teach/fit.ts), a step rule that moves the parameters (AdamW below, Newton in ./newton.ts), a
 * learning-rate schedule and a stopping rule. The loop owns the bookkeeping every user needs alike: step counting, the
 * history, the non-finite-loss check, cancellation and the per-step callback.
 *
 * It comes as a stepper (`TrainingLoop.advance`) with two drivers: `runLoop` for sources that answer synchronously
 * (the lab fits hundreds of small models per edit, where a microtask per step would be measurable) and
 * `runLoopAsync` for sources that await (onnxruntime sessions), with a yield point per step for cancellation.
 */
import {
  adamWStep,
  clipScale,
  createAdamWState,
  globalNorm,
  type AdamWOptions,
  type ParameterArray,
} from './optimizer';

export type Parameters = ReadonlyMap<string, ParameterArray>;

/** The objective at the current parameters. */
export interface Evaluation {
  /** The loss to report for this step (e.g. mean per response token). */
  readonly loss: number;
  readonly gradients: ReadonlyMap<string, ArrayLike<number>>;
  /** Multiplier that turns `gradients` into the gradient of the objective the rule minimises (e.g. 1/tokens). */
  readonly gradientScale?: number;
  /** Tokens (or examples) behind this evaluation, reported in the history. */
  readonly count?: number;
}

export interface StepOutcome {
  /** ‖scale · gradients‖₂ before any clipping. */
  readonly gradientNorm: number;
  /** ‖Δθ‖₂ of this step, when the rule measures it (second-order rules). */
  readonly stepSize?: number;
  /** The rule cannot improve any further (a second-order rule whose line search found no decrease). */
  readonly stalled?: boolean;
}

/** How the parameters move given an evaluation; rules keep their own state (moments, factors). */
export interface StepRule {
  apply(parameters: Parameters, evaluation: Evaluation, learningRate: number): StepOutcome;
}

export interface StepRecord extends StepOutcome {
  readonly step: number;
  readonly loss: number;
  readonly learningRate: number;
  readonly count: number;
}

export interface LoopOptions {
  readonly rule: StepRule;
  readonly maxSteps: number;
  /** Learning rate at a step (0-based); default 1 (second-order rules take whole steps). */
  readonly schedule?: (step: number) => number;
  /** Stop after the step just recorded when this says so; default: run maxSteps. */
  readonly stop?: (record: StepRecord) => boolean;
  /** Names the loop in errors. */
  readonly name?: string;
}

/** One training run's state: the parameters (updated in place), its rule and the history. */
export class TrainingLoop {
  readonly history: StepRecord[] = [];
  private stopped = false;

  constructor(
    readonly parameters: Parameters,
    private readonly options: LoopOptions,
  ) {}

  get done(): boolean {
    return this.stopped || this.history.length >= this.options.maxSteps;
  }

  get steps(): number {
    return this.history.length;
  }

  /** Takes one step with the evaluation at the current parameters; returns its record. */
  advance(evaluation: Evaluation): StepRecord {
    const step = this.history.length;
    if (!Number.isFinite(evaluation.loss))
      throw new Error(`${this.options.name ?? 'training'}: loss is ${evaluation.loss} at step ${step}`);
    const learningRate = this.options.schedule?.(step) ?? 1;
    const outcome = this.options.rule.apply(this.parameters, evaluation, learningRate);
    const record = { step, loss: evaluation.loss, learningRate, count: evaluation.count ?? 1, ...outcome };
    this.history.push(record);
    if (outcome.stalled || this.options.stop?.(record)) this.stopped = true;
    return record;
  }
}

/** Runs a loop to its end with a synchronous source (evaluated at the loop's parameters, step by step). */
export function runLoop(loop: TrainingLoop, evaluate: (step: number) => Evaluation): StepRecord[] {
  while (!loop.done) loop.advance(evaluate(loop.steps));
  return loop.history;
}

export interface AsyncRunOptions {
  /** Called after every step; a returned promise is awaited first (a worker's turn to see a cancel message). */
  readonly onStep?: (record: StepRecord) => void | Promise<void>;
  readonly signal?: AbortSignal;
}

/** Runs a loop to its end with a source that may await; checks the signal before every step. */
export async function runLoopAsync(
  loop: TrainingLoop,
  evaluate: (step: number) => Evaluation | Promise<Evaluation>,
  options: AsyncRunOptions = {},
): Promise<StepRecord[]> {
  while (!loop.done) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('training cancelled');
    const record = loop.advance(await evaluate(loop.steps));
    await options.onStep?.(record);
  }
  return loop.history;
}

export interface AdamWRuleOptions extends Omit<AdamWOptions, 'learningRate'> {
  /** Global-norm clipping of the scaled gradient; default none. */
  readonly clipNorm?: number;
}

/** AdamW (./optimizer.ts) as a step rule: scale, clip by global norm, then one decoupled-weight-decay update. */
export function adamWRule(options: AdamWRuleOptions = {}): StepRule {
  const state = createAdamWState();
  return {
    apply(parameters, evaluation, learningRate) {
      const scale = evaluation.gradientScale ?? 1;
      const gradientNorm = globalNorm(evaluation.gradients) * Math.abs(scale);
      const clip = options.clipNorm === undefined ? 1 : clipScale(gradientNorm, options.clipNorm);
      adamWStep(parameters, evaluation.gradients, state, { ...options, learningRate }, learningRate, clip * scale);
      return { gradientNorm };
    },
  };
}
