/**
 * The data that crosses the worker boundary (structured-clone safe: plain objects, strings, numbers, ArrayBuffers).
 * The UI imports only these types and client.ts; it never imports the engine.
 */

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';
export type StrategyName = 'ekfac' | 'kfac' | 'diagonal' | 'identity';

/** Where the model and data of a run come from. */
export type AttributionSource =
  /** The built-in demo; 'micro' is its tiny version (tests, a first look in seconds). */
  | { readonly kind: 'demo'; readonly variant: 'demo' | 'micro' }
  | {
      readonly kind: 'files';
      /** ONNX forward model bytes. */
      readonly model: ArrayBuffer;
      /** Hugging Face tokenizer.json text; null when the JSONL rows are pre-tokenized. */
      readonly tokenizer: string | null;
      readonly train: string;
      readonly queries: string;
      /** The files' names, so errors can name the file at fault. */
      readonly names: { readonly model: string; readonly tokenizer: string | null; readonly train: string; readonly queries: string };
    };

export interface AttributionRequest {
  readonly source: AttributionSource;
  readonly strategy: StrategyName;
  /** null: the heuristic 0.1 · mean(Λ) per layer; a number: absolute damping. */
  readonly damping: number | null;
  readonly backend: BackendChoice;
  /** Source of a RegExp over node names choosing tracked layers; null: the model's MLP projections. */
  readonly track: string | null;
  readonly perToken: boolean;
  readonly limitTrain: number | null;
  readonly limitQueries: number | null;
  /**
   * Hold the run after the first checkpoint of this engine stage is stored, until it is cancelled or the page goes
   * away (the page's `?hold=<stage>`): an interruption point tests and demonstrations of resume control.
   */
  readonly holdAfterCheckpoint?: string;
}

export interface ProgressEvent {
  /** The engine stage (e.g. "covariance", "eigendecomposition", "lambda", "queries", "scores"). */
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  /** What `done` counts ("tokens", "sequences", "layers", "pairs"). */
  readonly unit: string;
  readonly itemsPerSecond: number;
  /** Seconds left in this stage at the current rate; null until a rate is known. */
  readonly etaSeconds: number | null;
  /** The backend the run uses and why, once it is chosen. */
  readonly backend?: BackendReport;
}

export interface BackendReport {
  readonly kind: 'webgpu' | 'cpu';
  readonly description: string;
  /** Why this backend was chosen (hardware adapter, software adapter → CPU, user asked, no WebGPU…). */
  readonly reason: string;
}

export interface QueryInfo {
  readonly id: string;
  /** The benchmark (domain) the query belongs to. */
  readonly benchmark: string;
  readonly prompt: string;
}

export interface StageTiming {
  readonly stage: string;
  readonly seconds: number;
  /** Items processed and what they are (tokens for factor passes, pairs for scores); absent for untimed counts. */
  readonly items?: number;
  readonly unit?: string;
}

export interface AttributionSummary {
  readonly backend: BackendReport;
  readonly strategy: StrategyName;
  readonly trainCount: number;
  readonly queries: readonly QueryInfo[];
  readonly benchmarks: readonly string[];
  /** What the demo left out, in words ("first 48 of 7473 training examples …"); null for user files without limits. */
  readonly subsample: string | null;
  readonly timings: readonly StageTiming[];
  /** Peak bytes of GPU buffers the engine held at once; null on the CPU backend. */
  readonly peakGpuBytes: number | null;
}

/** How scores are shown (src/influence/normalize.ts): raw influence, ÷ √self-influence, or ÷ token count. */
export type Normalization = 'none' | 'self-influence' | 'token-count';

export type InfluenceTarget = { readonly query: string } | { readonly benchmark: string };

export interface InfluenceRow {
  readonly trainId: string;
  readonly score: number;
  readonly prompt: string;
  readonly response: string;
  readonly domain: string | null;
  readonly difficulty: string | null;
}

export interface TopInfluences {
  readonly target: InfluenceTarget;
  /** What the scores are: measurement, sign, normalisation. */
  readonly label: string;
  /** Largest positive influence first. */
  readonly helpful: readonly InfluenceRow[];
  /** Most negative influence first. */
  readonly harmful: readonly InfluenceRow[];
}

/** Thrown across the boundary as a plain Error whose name is 'AttributionCancelled'. */
export const CANCELLED_ERROR_NAME = 'AttributionCancelled';
