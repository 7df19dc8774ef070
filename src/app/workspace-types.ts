/**
 * What the results workspace (src/ui/workspace) asks the engine worker for, per view, and gets back (structured-clone
 * safe). The score matrices stay in the worker; a view receives only what it draws. Every view works on a stored
 * run — a finished page run, an opened one, or an imported .iwb bundle — named by its run id.
 */
import type { InfluenceTarget, Normalization } from './results';
import type { DifferenceEffect, DomainEffects, GroupEffect } from '../eval/segment-effects';

export type { DifferenceEffect, DomainEffects, GroupEffect };

export interface WorkspaceLayer {
  readonly name: string;
  readonly weightName: string | null;
  readonly dIn: number;
  readonly dOut: number;
  readonly hasBias: boolean;
  /** δ used for this layer; null when the run did not record it. */
  readonly damping: number | null;
}

export interface WorkspaceSettings {
  readonly model: string | null;
  readonly layers: readonly WorkspaceLayer[];
  readonly strategy: string;
  /** In words: "heuristic 0.1 · mean(Λ) per layer" or "absolute 1e-3". */
  readonly damping: string;
  readonly fisher: string;
  readonly measurement: string;
  readonly backend: string;
  readonly perToken: boolean;
  readonly queries: number;
  readonly train: number;
  readonly timings: readonly { readonly stage: string; readonly seconds: number; readonly items: number | null }[];
  readonly peakGpuBytes: number | null;
  /** Where an imported run came from (the bundle's name); null for runs computed here. */
  readonly importedFrom: string | null;
}

export interface WorkspaceQuery {
  readonly id: string;
  readonly benchmark: string;
  readonly prompt: string;
  readonly response: string;
  /** Each position's text, or null when the run kept none. */
  readonly tokens: readonly string[] | null;
  /** Per token, the loss of predicting it (null: not measured, the prompt); null when the run did not record it. */
  readonly tokenLoss: readonly (number | null)[] | null;
  /** The token positions [start, end) a span measurement counted; null: every response token. */
  readonly measured?: readonly { readonly start: number; readonly end: number }[] | null;
  /** The first response token's position (where the data's segments start); absent when the run kept no segments. */
  readonly responseStart?: number;
}

export interface WorkspaceTrainExample {
  readonly id: string;
  readonly domain: string;
  readonly difficulty: string;
  /** Distinct segment labels the example has (prompt, reasoning, final_answer, after_answer, …). */
  readonly segments: readonly string[];
  /** Non-padding token count, or null when the run kept none (no per-token scores). */
  readonly tokenCount: number | null;
  /** Raw self-influence τ(n, n). */
  readonly selfInfluence: number;
  readonly prompt: string;
  readonly response: string;
}

/** Sent once per opened run: everything the views list and label. */
export interface WorkspaceIndex {
  readonly runId: string;
  readonly name: string;
  /** Imported from a bundle: shown read-only. */
  readonly imported: boolean;
  readonly settings: WorkspaceSettings;
  readonly benchmarks: readonly string[];
  readonly queries: readonly WorkspaceQuery[];
  readonly train: readonly WorkspaceTrainExample[];
  readonly hasPerToken: boolean;
  readonly hasPerLayer: boolean;
  /** The normalisations this run can show ('token-count' needs token counts). */
  readonly normalizations: readonly Normalization[];
  /** The run carries an evaluation against retraining (the Evaluation view). */
  readonly hasEvaluation?: boolean;
  /** Some training example carries a labelled after-answer segment (the "After the answer" view). */
  readonly hasAfterSegments: boolean;
}

export interface CrossDomainEntry {
  readonly benchmark: string;
  readonly domain: string;
  readonly difficulty: string;
  /** The engine's crossDomainTable mean over (benchmark queries) × (training examples of the column). */
  readonly mean: number;
  /** Σ over the column's training examples of the benchmark's (query-mean) influence = mean × trainCount. */
  readonly sum: number;
  readonly trainCount: number;
  readonly queryCount: number;
  /** Bootstrap 95 % interval of the mean (training examples resampled with replacement, seeded). */
  readonly low: number;
  readonly high: number;
}

export interface OverviewData {
  /** What the scores are (measurement, sign, normalisation). */
  readonly label: string;
  readonly cells: readonly CrossDomainEntry[];
  readonly bootstrap: { readonly resamples: number; readonly seed: number };
  /** Per benchmark, its influence (mean over its queries) on every training example, in training order. */
  readonly benchmarkScores: readonly { readonly benchmark: string; readonly scores: Float64Array }[];
}

/** One query's influence on every training example, in training order, under each normalisation it allows. */
export interface QueryScores {
  readonly query: string;
  readonly views: readonly {
    readonly normalization: Normalization;
    readonly label: string;
    readonly scores: Float64Array;
  }[];
}

export interface SegmentSum {
  readonly label: string;
  readonly start: number;
  readonly end: number;
  readonly sum: number;
}

export interface ExampleDetail {
  readonly trainId: string;
  readonly target: InfluenceTarget;
  /** The example's influence on the target (raw, positive = helps). */
  readonly influence: number;
  readonly selfInfluence: number;
  readonly tokens: readonly string[];
  /** Per token, the influence credited to it (next-token alignment); null when the run has no per-token scores. */
  readonly tokenValues: Float64Array | null;
  /**
   * Where tokenValues come from: the run's per-token scores, its benchmark's group token scores, or the pair's
   * scores computed when it was opened; null with tokenValues null.
   */
  readonly tokenSource?: 'per-token' | 'group' | 'pair' | null;
  readonly segments: readonly SegmentSum[];
  /** Per tracked layer, its share of `influence`; empty when the run kept no per-layer scores. */
  readonly layers: readonly { readonly name: string; readonly value: number }[];
}

export interface GroupEntry {
  readonly label: string;
  readonly sum: number;
  readonly mean: number;
  readonly count: number;
  readonly examples: number;
  /** Bootstrap 95 % interval of `mean` over training examples (seeded; src/app/group-intervals.ts). */
  readonly low?: number;
  readonly high?: number;
}

export interface TopToken {
  readonly token: string;
  readonly mean: number;
  readonly count: number;
}

export interface AnalysesData {
  /** Per benchmark: influence by segment label, by token category, and per training domain its top tokens. */
  readonly benchmarks: readonly {
    readonly benchmark: string;
    readonly segments: readonly GroupEntry[];
    readonly categories: readonly GroupEntry[];
    readonly topTokens: readonly {
      readonly domain: string;
      readonly helpful: readonly TopToken[];
      readonly harmful: readonly TopToken[];
    }[];
  }[];
  /** Tokens a top-token entry needs at least, so one rare token does not top the list. */
  readonly minTokenCount: number;
  /** The intervals' bootstrap: training examples resampled with replacement. */
  readonly bootstrap?: { readonly resamples: number; readonly seed: number };
  /** Where the token scores come from: the run's per-token scores, or its group (benchmark) token scores. */
  readonly source?: 'per-token' | 'group';
}

/**
 * The after-answer comparison (src/eval/segment-effects.ts): per benchmark × training domain, groups of training
 * examples' segment sums and the differences between them, each a mean with a seeded bootstrap 95 % interval.
 */
export interface AfterAnswerData {
  readonly effects: readonly DomainEffects[];
  /** Per training domain, the examples with and without an after-answer segment. */
  readonly examples: readonly { readonly domain: string; readonly with: number; readonly without: number }[];
  readonly bootstrap: { readonly resamples: number; readonly seed: number };
}
