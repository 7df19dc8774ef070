/**
 * Types of the evaluation of influence estimates against retraining (issue 14 §1): the linear datamodeling score
 * (LDS) over random subsets and leave-one-out (LOO) for chosen examples.
 *
 * The engine is a pure function of (configuration, retrainer, influence results, store): a Retrainer hides the model,
 * data and training configuration, so the same code evaluates an ONNX causal LM trained by src/train/loop.ts and the
 * float64 plain-TypeScript models of the tests. Every retrain is a pure function of (members, seed): retrains are
 * saved one by one in an EvaluationStore and an interrupted evaluation resumes with identical numbers.
 */
import type { Strategy } from '../core/strategy';
import type { MeanInterval } from '../core/stats';

export interface EvaluationConfig {
  /** M: random subsets of the training set, each retrained (kronfluence's examples: 100). */
  readonly subsets: number;
  /** α: each subset holds round(α·N) training examples drawn without replacement (default 0.5). */
  readonly fraction: number;
  /** R: retrains per subset with seeds 0 … R−1; the measurement is their mean (default 1). */
  readonly seedsPerSubset: number;
  /** Leave-one-out for the top k and bottom k examples of each query (by `looStrategy`'s influence); 0: no LOO. */
  readonly looPerQuery: number;
  /** Whose influence chooses the LOO examples (default: ekfac, else the first strategy given). */
  readonly looStrategy: Strategy | null;
  /** Seeds the subsets and the bootstrap. */
  readonly seed: number;
  /** Bootstrap resamples of the queries for the 95 % interval of the mean LDS. */
  readonly bootstrapSamples: number;
}

export const DEFAULT_EVALUATION: EvaluationConfig = {
  subsets: 100,
  fraction: 0.5,
  seedsPerSubset: 1,
  looPerQuery: 0,
  looStrategy: null,
  seed: 0,
  bootstrapSamples: 1000,
};

/**
 * Trains the model from ONE fixed initialisation on a subset of the training set and measures every query.
 * `measure` must be a pure function of (members, seed): resuming relies on it.
 */
export interface Retrainer {
  readonly trainSize: number;
  readonly querySize: number;
  /**
   * What the retrains depend on besides (members, seed): model, data, training configuration. Saved retrains are
   * only reused under the same fingerprint.
   */
  readonly fingerprint: string;
  /** What a query's number is, for reports, e.g. 'mean log-likelihood of the reference response'. */
  readonly measurement: string;
  /**
   * Trains on the training examples `members` (ascending indices) with retrain seed `seed` (0 … R−1) and returns the
   * measurement of each query [Q]; larger = better (a log-likelihood, a negative squared error).
   */
  measure(members: Int32Array, seed: number, signal?: AbortSignal): Promise<Float64Array>;
  /** Frees what the retrains kept between calls (onnxruntime sessions); the owner calls it once it is done. */
  release?(): Promise<void>;
}

/** Influence [Q × N] on the retrainer's measurement (positive = helps), e.g. AttributionResult.influence. */
export type InfluenceByStrategy = ReadonlyMap<Strategy, Float64Array>;

export interface EvaluationCheckpoint {
  readonly version: 1;
  readonly fingerprint: string;
  /** Finished retrains by key ('subset/3/seed/0', 'full/seed/0', 'loo/17/seed/0'): the query measurements [Q]. */
  readonly retrains: Readonly<Record<string, Float64Array>>;
}

/** Where retrains are saved as they finish (a file in the CLI, IndexedDB in the page). */
export interface EvaluationStore {
  load(): Promise<EvaluationCheckpoint | null>;
  /** Called after every retrain; the evaluation waits for it. */
  save(checkpoint: EvaluationCheckpoint): Promise<void>;
}

export interface EvaluationProgress {
  readonly done: number;
  readonly total: number;
  /** The retrain just finished (or found in the store). */
  readonly key: string;
  readonly resumed: boolean;
}

export interface EvaluationOptions {
  readonly store?: EvaluationStore;
  /**
   * Train nothing: score the influence against the retrains already in the store (a partial result while a long
   * evaluation is still running or was stopped). LDS uses the subsets whose every seed is saved; LOO is left out
   * unless all of its retrains are saved.
   */
  readonly savedOnly?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: EvaluationProgress) => void;
}

/** The mean of per-query values with a bootstrap 95 % percentile interval over queries. */
export interface StrategyLds {
  readonly strategy: Strategy;
  /** Spearman correlation per query across subsets [Q] (NaN where undefined). */
  readonly perQuery: Float64Array;
  readonly lds: MeanInterval;
  /** Predicted measurement change per subset and query, Σ_{n ∈ S_m} I(q, n): [M × Q]. */
  readonly predictions: Float64Array;
}

export interface StrategyLoo {
  readonly strategy: Strategy;
  /** Predicted change when the example is left out, −I(q, n)/N (the Hessian is a per-example mean): [K × Q]. */
  readonly predicted: Float64Array;
  /** Over the (query, example) pairs chosen for each query: correlations of predicted and actual change. */
  readonly pearson: number;
  readonly spearman: number;
}

export interface LooResult {
  /** Training examples left out (the union over queries of each query's top and bottom k), ascending [K]. */
  readonly examples: Int32Array;
  /** For each query, the indices into `examples` chosen for it [Q × 2k] (top k, then bottom k). */
  readonly chosen: Int32Array;
  /** Actual change of each query's measurement when the example is left out, mean over seeds: [K × Q]. */
  readonly actual: Float64Array;
  readonly byStrategy: readonly StrategyLoo[];
}

export interface EvaluationResult {
  readonly config: EvaluationConfig;
  readonly trainSize: number;
  readonly querySize: number;
  readonly measurement: string;
  /** Subset membership [M × N], 1 = in the subset. */
  readonly subsetMask: Uint8Array;
  /** Measurement of each query for each subset and seed [M × R × Q]. */
  readonly subsetMeasurements: Float64Array;
  /** The full training set's retrain per seed [R × Q] (only when LOO ran, else empty). */
  readonly fullMeasurements: Float64Array;
  readonly strategies: readonly StrategyLds[];
  readonly loo: LooResult | null;
  /** Retrains done in this call and found in the store. */
  readonly retrains: { readonly done: number; readonly resumed: number };
  /** With savedOnly and some subsets unsaved: the configured M, of which config.subsets were scored; else absent. */
  readonly partialOf?: number;
}
