/**
 * The data that crosses the worker boundary (structured-clone safe: plain objects, strings, numbers, ArrayBuffers).
 * The UI imports only these types and client.ts; it never imports the engine.
 */

import type { BackendReport } from '../app/backend-choice';
import type { ProgressEvent as JobProgress } from '../app/job';
import type { RunConfig } from '../app/config';
import type { DemoVariant } from '../data/dataset';

export type { DemoVariant };

export type { BackendChoice, RunConfig } from '../app/config';
export { DEFAULT_RUN_CONFIG } from '../app/config';
export { configFromOptions, RUN_OPTIONS, type OptionInput, type RunOptionName } from '../app/options';
export type { BackendReport } from '../app/backend-choice';
export type { RunEstimate } from '../app/run-plan';
export type { StageTiming } from '../app/job';
export type { InfluenceRow, InfluenceTarget, Normalization, TopInfluences } from '../app/results';
export type StrategyName = RunConfig['strategy'];
export type { AttributionSummary, QueryInfo } from '../app/run-results';
export type { StoredComparison } from '../app/ask-span';

/** Where the model and data of a run come from. */
export type AttributionSource =
  /** The built-in demo; 'micro' is its tiny version (tests, a first look in seconds). */
  | {
      readonly kind: 'demo';
      readonly variant: DemoVariant;
      /** JSONL query rows asked instead of the demo's queries ("Ask another question"), tokenized as the demo's. */
      readonly queries?: string;
    }
  | {
      readonly kind: 'files';
      /** ONNX forward model bytes. */
      readonly model: ArrayBuffer;
      /** The model's external data files (`model.onnx.data`), picked or dropped with it; by file name. */
      readonly modelData?: readonly { readonly name: string; readonly bytes: ArrayBuffer }[];
      /** Hugging Face tokenizer.json text; null when the JSONL rows are pre-tokenized. */
      readonly tokenizer: string | null;
      /** A picked model folder's tokenizer_config.json text (special tokens, chat_template). */
      readonly tokenizerConfig?: string;
      readonly train: string;
      readonly queries: string;
      /** The files' names, so errors can name the file at fault. */
      readonly names: {
        readonly model: string;
        readonly tokenizer: string | null;
        readonly tokenizerConfig?: string;
        readonly train: string;
        readonly queries: string;
      };
    };

/**
 * The user's files with the model picked in the page and kept in the worker (pickModel): the model's bytes cross to
 * the worker once, when picked, not with every estimate or run. The worker turns it into a 'files' source.
 */
export interface PickedSource {
  readonly kind: 'picked';
  /** pickModel's token for the model picked last; an older token is refused. */
  readonly model: string;
  readonly tokenizer: string | null;
  readonly train: string;
  readonly queries: string;
  readonly names: { readonly tokenizer: string | null; readonly train: string; readonly queries: string };
}

export interface AttributionRequest {
  readonly source: AttributionSource;
  /** The one run configuration (app/config.ts), defaults from DEFAULT_RUN_CONFIG, as the CLI's. */
  readonly config: RunConfig;
  /**
   * Hold the run after the first checkpoint of this engine stage is stored, until it is cancelled or the page goes
   * away (the page's `?hold=<stage>`): an interruption point tests and demonstrations of resume control.
   */
  readonly holdAfterCheckpoint?: string;
  /**
   * "Ask another question": the stored run whose fitted factors this run scores with instead of fitting (the same
   * model, training data and settings: only the queries differ).
   */
  readonly factorsFrom?: string;
  /**
   * A factors folder picked in the page (kronfluence's layout, or `iwb --kronfluence-out`'s): its File handles, read
   * in the worker (store/kronfluence.ts); the run scores with these factors instead of fitting its own.
   */
  readonly factorFiles?: readonly File[];
}

/** What the page asks the worker to estimate or run: a request whose model may be the one picked (PickedSource). */
export type PageRequest = Omit<AttributionRequest, 'source'> & { readonly source: AttributionSource | PickedSource };

/** A model picked in the page, parsed and kept by the worker (pickModel): what the page shows of it. */
export interface PickedModelInfo {
  readonly token: string;
  /** The graph's file name and the data files picked with it. */
  readonly name: string;
  readonly dataNames: readonly string[];
  readonly bytes: number;
  /** A picked model folder: which variant was chosen among which (app/model-folder.ts). */
  readonly note?: string;
  /** A picked model folder has its own tokenizer.json, used unless another is picked. */
  readonly folderTokenizer?: boolean;
  /** A picked model folder's variants (float32 first, then float16, then quantized) and the one read. */
  readonly variants?: readonly { readonly name: string; readonly description: string }[];
  readonly variant?: string;
}

/** A run's progress, with the backend it runs on once that is chosen. */
export interface ProgressEvent extends JobProgress {
  readonly backend?: BackendReport;
}

/** Thrown across the boundary as a plain Error whose name is 'AttributionCancelled'. */
export const CANCELLED_ERROR_NAME = 'AttributionCancelled';
