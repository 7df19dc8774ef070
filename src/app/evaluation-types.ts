/**
 * The page's evaluation against retraining (issue 14 §1), as the engine worker runs it: a request (plain data, kept
 * with the stored run so a reload can resume it), progress by retrain, and what the workspace's Evaluation view draws
 * of a stored run's evaluation (structured-clone safe).
 */
import type { Strategy } from '../core/strategy';
import type { BundleEvaluationInfo } from '../store/bundle-manifest';

export type EvaluationStrategy = Strategy;

export type RetrainChoice = 'auto' | 'webgpu' | 'wasm';

export interface PageEvaluationRequest {
  readonly variant: 'micro' | 'demo';
  readonly limits: { readonly train: number | null; readonly queries: number | null };
  /** M, α, R, LOO k and the seed of the subsets and the bootstrap. */
  readonly subsets: number;
  readonly fraction: number;
  readonly seedsPerSubset: number;
  readonly looPerQuery: number;
  readonly seed: number;
  readonly strategies: readonly EvaluationStrategy[];
  /** Training steps of the model on all examples and of every retrain (batch size, rate: the evaluation defaults). */
  readonly steps: number;
  /**
   * Where onnxruntime runs the training steps and measurements: 'auto' (its WebGPU EP when the page's automatic
   * backend choice is WebGPU, i.e. a hardware adapter; else wasm), 'webgpu' or 'wasm'. A started run keeps the EP
   * it resolved to ('webgpu' | 'wasm'), so a resume retrains on the same EP; absent in runs stored before: wasm.
   */
  readonly retrainOn?: RetrainChoice;
  /** Wait once this many retrains are saved, until cancelled (the page's `?evalHold=<count>`, for tests). */
  readonly holdAfterRetrains?: number;
}

export interface EvaluationProgressEvent {
  /** 'training' | 'attributing' | 'retraining' */
  readonly phase: string;
  readonly message: string;
  /** Retrains finished (including those found in the store) of all. */
  readonly done: number;
  readonly total: number;
  readonly resumed: number;
}

export interface PendingEvaluation {
  readonly runId: string;
  readonly name: string;
  readonly retrainsSaved: number;
  readonly request: PageEvaluationRequest;
}

/** A stored run's evaluation, as the Evaluation view draws it; arrays row-major as in docs/bundle-format.md. */
/** Two-way intervals and paired differences of the stored evaluation (src/app/evaluation-paired.ts). */
export interface EvaluationPaired {
  readonly samples: number;
  readonly twoWay: readonly {
    readonly strategy: string;
    readonly mean: number;
    readonly low: number;
    readonly high: number;
    readonly count: number;
  }[];
  readonly pairs: readonly {
    readonly a: string;
    readonly b: string;
    readonly mean: number;
    readonly low: number;
    readonly high: number;
    readonly count: number;
    /** Sign-flip permutation p-value (exact over every sign pattern for ≤ 16 queries). */
    readonly p: number;
    readonly exact: boolean;
  }[];
}

export interface EvaluationData {
  /** Null when the evaluation has fewer than 3 subsets (nothing to resample). */
  readonly paired: EvaluationPaired | null;
  readonly info: BundleEvaluationInfo;
  readonly queryIds: readonly string[];
  /** Mean over the R seeds of each subset's measurement [M × Q]. */
  readonly measured: Float64Array;
  readonly strategies: readonly {
    readonly strategy: EvaluationStrategy;
    readonly perQuery: Float64Array;
    readonly ranked: Uint8Array;
    /** [M × Q] */
    readonly predictions: Float64Array;
    /** [K × Q] */
    readonly looPredicted: Float64Array;
  }[];
  readonly loo: {
    readonly trainIds: readonly string[];
    readonly chosen: Int32Array;
    readonly actual: Float64Array;
  } | null;
}

export const EVALUATION_CANCELLED = 'EvaluationCancelled';

/**
 * The page's preset: the micro demo, 8 subsets of half the data, 30 training steps, leave-one-out of each query's top
 * and bottom example — about a minute on a laptop's CPU (retrains run in the worker on onnxruntime, its WebGPU EP or
 * its wasm EP: `retrainOn`).
 */
export const PAGE_EVALUATION_PRESET = {
  subsets: 8,
  fraction: 0.5,
  seedsPerSubset: 1,
  looPerQuery: 1,
  steps: 30,
  train: 16,
  queries: 4,
} as const;
