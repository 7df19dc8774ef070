/**
 * The lab's results as plain data, and the readers the page draws from them: which methods there are, what one lab
 * update returns (LabInputs → LabResult, ScoredRun for the tiny LM too), each method's predicted leave-one-out change
 * and its agreement with the actual one. Nothing here runs the engine: the lab page's main thread imports this module,
 * its worker (src/worker/lab.worker.ts) runs ./lab.ts and ./lm-lab.ts.
 */
import { pearson, spearman } from '../core/stats';
import type { AttributionResult } from '../influence/types';
import { STRATEGY_NAMES, type Strategy } from '../core/strategy';
import type { TeachModel } from './models';
import type { Example } from './network';

export type Method = 'exact' | Strategy;
export const METHODS: readonly Method[] = ['exact', ...STRATEGY_NAMES];
export type Fisher = 'true' | 'empirical';
/** warm: retrain from θ* (finds the nearby optimum); scratch: from the same random start as θ* (may find another). */
export type LooStart = 'warm' | 'scratch';

export interface LabInputs {
  readonly model: TeachModel;
  readonly seed: number;
  readonly train: readonly Example[];
  readonly test: readonly Example[];
  readonly damping: number;
  readonly fisher: Fisher;
  readonly loo: LooStart;
}

export interface MethodScores {
  /** τ [Q × N] row-major: positive = up-weighting n lowers query q's loss (helps). */
  readonly tau: Float64Array;
  /** Self-influence τ(n, n) [N]. */
  readonly selfTau: Float64Array;
}

/** What the methods table and the EK-FAC panels need, whatever the model (2-D points or the tiny LM). */
export interface ScoredRun {
  /** N: training examples (points or sentences). */
  readonly trainCount: number;
  readonly methods: Readonly<Record<Method, MethodScores>>;
  /** The engine's EK-FAC run (factors, eigenbases, Λ, δ) for the step-by-step panels. */
  readonly ekfacRun: AttributionResult;
  /** Actual Δf [Q × N] when example n is left out and the model retrained. */
  readonly loo: Float64Array;
  /** Per query, per tracked layer: the query's loss gradient G_q as [dOut × dIn'] row-major. */
  readonly queryGradients: readonly (readonly Float64Array[])[];
}

export interface LabResult extends ScoredRun {
  readonly inputs: LabInputs;
  readonly theta: Float64Array;
  /** Milliseconds: training, the four engine runs, exact, leave-one-out. */
  readonly timings: { readonly train: number; readonly engine: number; readonly exact: number; readonly loo: number };
}

export interface LmInputs {
  /** The training sentences (the page's defaults are LM_TRAIN); words from LM_VOCAB. */
  readonly train: readonly string[];
  readonly damping: number;
  readonly fisher: Fisher;
  /** Seeds the engine's sampled labels (true Fisher). */
  readonly seed: number;
}

export interface LmResult extends ScoredRun {
  readonly inputs: LmInputs;
  readonly train: readonly (readonly number[])[];
  readonly queries: readonly (readonly number[])[];
  readonly theta: Float64Array;
  /** EK-FAC per-token τ [Q × Σ_n T_n] (T_n = predicted tokens of sentence n) and the row offsets [N + 1]. */
  readonly perToken: { readonly offsets: Int32Array; readonly values: Float64Array };
  readonly timings: { readonly train: number; readonly engine: number; readonly exact: number; readonly loo: number };
}

/** Row q of a [Q × N] matrix. */
export function queryRow(matrix: Float64Array, q: number, n: number): Float64Array {
  return matrix.subarray(q * n, (q + 1) * n);
}

/** Δf predicted by a method for removing each point: −τ/N. */
export function predictedChange(result: ScoredRun, method: Method, q: number): Float64Array {
  const n = result.trainCount;
  return queryRow(result.methods[method].tau, q, n).map((t) => -t / n);
}

export interface Agreement {
  readonly pearson: number;
  readonly spearman: number;
}

/**
 * Values that differ by less than 1e-9 of the largest |value| made equal (to the smallest of their run), so that
 * Spearman ranks them as ties. Examples in symmetric roles have mathematically equal scores and leave-one-out changes
 * (the tiny LM's "the cat sat on the mat" and "… the rug" for a query without either word); left alone, float noise
 * — which differs between Node and a browser's V8 — would order them and move Spearman's third digit.
 */
export function snapTies(values: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(values);
  let scale = 0;
  for (const v of out) scale = Math.max(scale, Math.abs(v));
  const order = Array.from(out, (_, i) => i).sort((a, b) => out[a] - out[b]);
  let runStart = 0;
  for (let k = 1; k < order.length; k++) {
    if (out[order[k]] - values[order[runStart]] <= 1e-9 * scale) out[order[k]] = out[order[runStart]];
    else runStart = k;
  }
  return out;
}

/** Each method's predicted change against the actual leave-one-out change, for query q. */
export function agreements(result: ScoredRun, q: number): Record<Method, Agreement> {
  const actual = queryRow(result.loo, q, result.trainCount);
  const actualTied = snapTies(actual);
  const entries = METHODS.map((m) => {
    const predicted = predictedChange(result, m, q);
    return [m, { pearson: pearson(predicted, actual), spearman: spearman(snapTies(predicted), actualTied) }] as const;
  });
  return Object.fromEntries(entries) as Record<Method, Agreement>;
}
