/**
 * Public types of the EK-FAC influence engine (docs/method.md). Stages are pure functions of (inputs, backend);
 * everything they exchange between chunks is plain data (Float64Array + shape) so it can be checkpointed and resumed.
 *
 * Sign and naming, used everywhere in this module:
 * - `tau` is kronfluence's raw score: τ(q, n) = Σ_layers ⟨P_q, G(n)⟩ with P_q = (H + δI)⁻¹ ∇L_q, where L_q is the
 *   query's SUMMED loss (cross-entropy summed over its measured tokens) and G(n) the gradient of training example n's
 *   summed loss. Positive τ: up-weighting n LOWERS the query's loss (kronfluence's convention, see its fixtures'
 * README).
 * - `influence` is the change of the measurement f when n is up-weighted, I(n) = −∇fᵀ(H + δI)⁻¹∇L(n), oriented so that
 *   POSITIVE = HELPS:
 *     measurement 'mean-log-likelihood' (default, the paper's): f = (1/T_q) Σ log p = −L_q/T_q  ⇒  I = +τ / T_q;
 *     measurement 'summed-loss': the query's summed loss, reported as its decrease (helps = lowers the loss) ⇒ I = +τ.
 *   Note: with f the log-likelihood, I = −∇fᵀH⁻¹∇L = +∇L_qᵀH⁻¹∇L = +τ; τ = −I would hold only for a τ computed from
 *   ∇f itself (kronfluence run with a log-likelihood measurement). Tests check the sign against retraining.
 * - Scores are raw sums over training tokens, not divided by N (kronfluence's semantics).
 */
import type { Backend, Damping, Tensor, TokenBatch } from '../linalg/backend';
import type { Span } from '../data/schema';
import type { HostMatrix, ModelFactors } from '../core/schema';
import type { Strategy } from '../core/strategy';
import type { ScorePathOptions } from './score-plan';

export type { Damping } from '../linalg/backend';

/**
 * 'sampled': labels drawn from the model's predictive distribution (true Fisher, default); 'empirical': the data's
 * labels.
 */
export type FisherMode = 'sampled' | 'empirical';

/** What a query measures: see the module comment for the sign of each. */
export type Measurement = 'mean-log-likelihood' | 'summed-loss';

/** Where the labels of the loss come from for one gradient request. */
export type LabelMode = 'given' | 'sampled';

export type StageName = 'covariance' | 'eigen' | 'lambda' | 'query' | 'scores' | 'self';

export interface BatchSizes {
  /** Training sequences per batch in the covariance and Λ passes. */
  readonly fit: number;
  /** Training sequences per batch in the score and self-influence passes. */
  readonly train: number;
  /** Queries preconditioned and scored together (one pass over the training set per query chunk). */
  readonly query: number;
  /** Batches per chunk: progress is reported, cancellation checked and a checkpoint offered after every chunk. */
  readonly batchesPerChunk: number;
}

export interface AttributionConfig {
  readonly strategy: Strategy;
  /** Default { kind: 'heuristic', factor: 0.1 }: δ = 0.1 · mean(Λ) per layer (kronfluence's damping_factor=None). */
  readonly damping: Damping;
  readonly fisher: FisherMode;
  readonly measurement: Measurement;
  /** Also keep per-token scores on the training side (memory: queries × Σ_n T_n × 8 bytes). */
  readonly perToken: boolean;
  /**
   * Replace P_q by a rank-k factorisation U_k V_kᵀ per layer (null: exact P_q; layers with min(dOut, dIn') ≤ k keep the
   * exact P_q).
   */
  readonly queryRank: number | null;
  /**
   * RegExp source selecting tracked layers by name (null: every layer the source offers). Also given to the autodiff.
   */
  readonly trackedLayers: string | null;
  readonly batchSizes: BatchSizes;
  /** Seeds the sampled labels (per example, independent of batching; see GradientRequest.seed). */
  readonly seed: number;
  /**
   * Refine each eigendecomposition in float64 on the host (src/linalg/cpu/refine.ts): a float32 GPU eigenbasis gets
   * float64 residuals, as kronfluence's. O(d³) per factor in JavaScript, so meant for d up to about a thousand.
   */
  readonly refineEigen: boolean;
  /** How pairwise scores are computed per layer and batch (score-plan.ts); absent: DEFAULT_SCORE_PATH (cost model). */
  readonly scorePath?: ScorePathOptions;
  /**
   * Per-token influence of every training token on each query group (one per benchmark), by linearity
   * (group-tokens.ts): one summed preconditioned gradient per group, scored in the first query chunk's pass. Absent or
   * true: on (the default); false: off.
   */
  readonly groupTokens?: boolean;
}

/**
 * A labelled span of token positions [start, end) of one sequence (src/data's Span: one type for both sides), e.g.
 * 'reasoning', 'final_answer', 'after_answer'; positions are those of the sequence fed to the model.
 */
export type TokenSegment = Span;

/**
 * Per-example metadata the aggregations need (src/data's Example fits it as it is). Token positions are those of the
 * sequence fed to the model.
 * Position t's per-token score uses a(n,t) and g(n,t); in a causal LM g(n,t) is the gradient of the loss of predicting
 * token t+1, so the aggregations credit it to token t+1 by default (aggregate.ts, TokenAlignment).
 */
export interface ExampleMeta {
  readonly id: string;
  /** Training side: e.g. 'math', 'code'. */
  readonly domain?: string;
  /** Difficulty bucket label, e.g. 'easy' | 'medium' | 'hard' or a step count rendered as a string. */
  readonly difficulty?: string;
  /** Query side: the benchmark the query belongs to, e.g. 'gsm8k', 'mbpp'. */
  readonly benchmark?: string;
  readonly segments?: readonly TokenSegment[];
  /** Per token position, an index into the category names given to the aggregation (src/data's TOKEN_CATEGORIES). */
  readonly tokenCategories?: ArrayLike<number>;
}

export interface ExampleSet {
  readonly role: 'train' | 'query';
  readonly examples: readonly ExampleMeta[];
}

/** A tracked linear layer as the gradient source exposes it. */
export interface LayerInfo {
  /** Stable name (the node name for ONNX models: it keeps the module path). */
  readonly name: string;
  /** The weight's name when it differs (exporters rename weights); shown to users beside `name`. */
  readonly weightName?: string;
  readonly dIn: number;
  readonly dOut: number;
  readonly hasBias: boolean;
}

export interface GradientRequest {
  readonly role: 'train' | 'query';
  /** Indices into the ExampleSet of that role, in batch order. */
  readonly indices: readonly number[];
  readonly labels: LabelMode;
  /**
   * Seed for sampled labels. A source MUST draw each example's labels as a function of (seed, example index, position)
   * only — never of its batch, batch position or padding — so batch size, chunking and resuming do not change results.
   */
  readonly seed: number;
  /**
   * With sampled labels: further seeds a later request will sample with (the Λ pass's, asked for by the covariance
   * pass). A source may draw their labels now from the same logits and keep them, so that the later request needs no
   * run for its logits. An optimisation only: the labels are the same function of (seed, example index, position).
   */
  readonly sampleAlso?: readonly number[];
}

/** One batch of gradients, resident on the backend the source was asked for. */
export interface GradientBatch {
  /**
   * Per tracked layer (same order as `GradientSource.layers`): a [B,T,dIn], g [B,T,dOut], mask, appendOnes = hasBias.
   */
  readonly layers: readonly TokenBatch[];
  /** Sequence length T of this batch (1 for non-sequence models). */
  readonly sequenceLength: number;
  /** Non-padding token count per example (the positions whose a and g count); length B. */
  readonly tokenCounts: readonly number[];
  /** Measured token count per example (loss terms: response targets; 1 for a classifier); length B. */
  readonly targetCounts: readonly number[];
  /** Summed loss per example; length B. */
  readonly loss: Float64Array;
  /** Log-likelihood of each position's label [B × T] (0 where not measured). */
  readonly tokenLogLikelihoods: Float64Array;
  /** Free the backend tensors of this batch. */
  release(): void;
}

/**
 * Where gradients come from: ORT wasm, ORT WebGPU (GPU buffers wrapped as Tensors), or a plain-TS test model.
 * g is the gradient of each example's own SUMMED loss (examples never mix). The stages never ask which it is.
 */
export interface GradientSource {
  readonly layers: readonly LayerInfo[];
  /** Sequence length of an example (its non-padded length), used to size per-token results. */
  sequenceLength(role: 'train' | 'query', index: number): number;
  gradients(request: GradientRequest, backend: Backend): Promise<GradientBatch>;
}

/** A host-side matrix: plain data that can be checkpointed (the store's type: stage outputs are stored unchanged). */

export interface ProgressEvent {
  readonly stage: StageName;
  readonly done: number;
  readonly total: number;
  /**
   * Units: 'sequences' (covariance, lambda, self), 'pairs' (scores: query × training pairs), 'layers' (eigen),
   * 'queries' (query).
   */
  readonly unit: 'sequences' | 'pairs' | 'layers' | 'queries';
  readonly itemsPerSecond: number;
  /** Seconds left at the current rate (NaN before the first chunk). */
  readonly etaSeconds: number;
}

/** Accumulator of the covariance pass: sums, not yet divided; resumable at `nextIndex`. */
export interface CovarianceState {
  readonly nextIndex: number;
  /** Per layer: Σ ã ãᵀ [dIn', dIn'] and Σ g gᵀ [dOut, dOut] (upper triangle valid), and the token count. */
  readonly activationSums: readonly HostMatrix[];
  readonly gradientSums: readonly HostMatrix[];
  readonly tokenCount: number;
}

export interface CovarianceFactors {
  /** Per layer, A = E[ã ãᵀ] and S = E[g gᵀ] (symmetrised). */
  readonly activation: readonly HostMatrix[];
  readonly gradient: readonly HostMatrix[];
  readonly tokenCount: number;
}

export interface EigenFactors {
  /** Per layer: ascending eigenvalues and eigenvectors (columns) of A and S. */
  readonly activationValues: readonly HostMatrix[];
  readonly activationVectors: readonly HostMatrix[];
  readonly gradientValues: readonly HostMatrix[];
  readonly gradientVectors: readonly HostMatrix[];
}

/** Accumulator of the eigenvalue-correction pass: Σ_n (Q_Sᵀ G(n) Q_A)∘² per layer. */
export interface LambdaState {
  readonly nextIndex: number;
  readonly sums: readonly HostMatrix[];
  readonly sequenceCount: number;
}

/** What one layer's preconditioning divides by, and in which basis (null bases: the parameter basis). */
export interface LayerPreconditioner {
  /** Λ [dOut, dIn'] averaged over sequences (kfac: λ_S ⊗ λ_A). */
  readonly lambda: HostMatrix;
  readonly bases: { readonly qS: HostMatrix; readonly qA: HostMatrix } | null;
}

/** What preconditioning needs per layer, whatever the strategy (src/influence/strategies.ts builds it). */
export interface Preconditioner {
  readonly strategy: Strategy;
  /** Per layer; null: no preconditioning (identity). */
  readonly layers: readonly (LayerPreconditioner | null)[];
  /** δ per layer (0 for identity). */
  readonly damping: readonly number[];
}

/** Pairwise score accumulator for one query chunk; resumable at `nextIndex` over the training set. */
export interface ScoreState {
  readonly queryStart: number;
  readonly queryEnd: number;
  readonly nextIndex: number;
  /** τ per layer: [layers, Q_chunk, N]. */
  readonly perLayer: HostMatrix;
  /** Per-token τ [Q_chunk, Σ_n T_n] (layers summed), when perToken. */
  readonly perToken: HostMatrix | null;
  /** Self-influence τ(n, n) per layer [layers, N], when this pass computes it from the same G(n) (scores.ts). */
  readonly selfPerLayer?: HostMatrix;
  /** Group per-token influence [G, Σ_n T_n] (layers summed), when this pass scores the group operators. */
  readonly groupPerToken?: HostMatrix;
}

export interface SelfState {
  readonly nextIndex: number;
  /** τ(n, n) per layer: [layers, N]. */
  readonly perLayer: HostMatrix;
}

/** Everything needed to resume a run: the finished stages' outputs and the running stage's accumulator. */
export interface RunCheckpoint {
  readonly version: 1;
  /** Fingerprint of (config, layers, set sizes): a checkpoint from another run is refused. */
  readonly fingerprint: string;
  /** The model files the run read (AttributionInputs.modelFiles); absent in older checkpoints and for built models. */
  readonly modelFiles?: readonly ModelFileIdentity[];
  readonly covariance?: CovarianceState;
  readonly factors?: CovarianceFactors;
  readonly eigen?: EigenFactors;
  readonly lambda?: LambdaState;
  /** Pairwise τ [layers, Q, N] of the finished query chunks (queries [0, completedQueries)), and the running chunk. */
  readonly scores?: {
    readonly completedQueries: number;
    readonly perLayer: HostMatrix;
    readonly perToken: HostMatrix | null;
    readonly queryTargetCounts: Float64Array;
    /** The finished queries' loss terms per position (AttributionResult.queryTokenLoss); absent in old checkpoints. */
    readonly queryTokenLoss?: Float64Array;
  };
  readonly runningScores?: ScoreState;
  /** The finished group per-token influence [G, Σ_n T_n] (AttributionResult.groupTokens). */
  readonly groupTokens?: HostMatrix;
  readonly self?: SelfState;
  readonly timings: readonly StageTiming[];
}

export interface CheckpointStore {
  load(): Promise<RunCheckpoint | null>;
  /** Called after every chunk; the run waits for it (a transaction), so what is saved is always consistent. */
  save(checkpoint: RunCheckpoint): Promise<void>;
}

export interface RunOptions {
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly signal?: AbortSignal;
  readonly checkpoint?: CheckpointStore;
}

export interface StageTiming {
  readonly stage: StageName;
  readonly seconds: number;
  readonly items: number;
}

export interface LayerSummary extends LayerInfo {
  /** δ used for this layer (0 for identity). */
  readonly damping: number;
  /** Smallest and largest eigenvalue of A and S (null for identity/diagonal). */
  readonly activationEigenRange: readonly [number, number] | null;
  readonly gradientEigenRange: readonly [number, number] | null;
}

export interface AttributionResult {
  readonly config: AttributionConfig;
  /** The backend's description, e.g. 'CPU float64' or the WebGPU adapter. */
  readonly backend: string;
  readonly layers: readonly LayerSummary[];
  readonly queries: readonly ExampleMeta[];
  readonly train: readonly ExampleMeta[];
  /** Kronfluence's raw τ [Q × N] row-major (query loss measurement; positive = lowers the query loss). */
  readonly tau: Float64Array;
  /** Influence [Q × N] on the configured measurement, positive = helps (see the module comment). */
  readonly influence: Float64Array;
  /** Raw τ per layer [layers × Q × N]; sums over layers to `tau`. */
  readonly tauPerLayer: Float64Array;
  /** Raw self-influence τ(n, n) [N] (query = the training example itself, its summed loss). */
  readonly selfTau: Float64Array;
  /** Non-padding token count T_n per training example (the per-token rows' lengths). */
  readonly trainTokenCounts: Int32Array;
  /** Measured token count per query (T_q of the mean-log-likelihood measurement). */
  readonly queryTargetCounts: Float64Array;
  /**
   * The query side's loss per position: values[offsets[q] + t] = −log p(label at t) where the measurement counts
   * position t (a causal LM: the response's next tokens), 0 elsewhere; a query's terms sum to its summed loss L_q.
   * Null when the run did not record it (resumed from a checkpoint written before it was recorded).
   */
  readonly queryTokenLoss: { readonly offsets: Int32Array; readonly values: Float64Array } | null;
  /**
   * Per-token raw τ on the training side when config.perToken: offsets [N+1] into each query's row of length Σ_n T_n.
   */
  readonly tauPerToken: { readonly offsets: Int32Array; readonly values: Float64Array } | null;
  /**
   * Per query group (a benchmark), each training token's influence: the mean over the group's queries of s_q τ_t(q, n)
   * (group-tokens.ts), [G × Σ_n T_n] at offsets [N + 1]. Null when config.groupTokens is false (or the run resumed
   * from a checkpoint whose scores were finished without them).
   */
  readonly groupTokens: GroupTokenInfluence | null;
  /**
   * Per-token influence s_q τ_t(q, n) of chosen pairs (pair-tokens.ts: each query's top k by |influence|), added after
   * the run by the app when asked; absent otherwise. Pair p is (queries[p], train[p]), values at offsets[p] … [p+1].
   */
  readonly pairTokens?: {
    readonly queries: Int32Array;
    readonly train: Int32Array;
    readonly offsets: Int32Array;
    readonly values: Float64Array;
  } | null;
  /** The fitted factors (covariance sums, eigendecompositions, Λ sums, with counts) in kronfluence's layout. */
  readonly factors: ModelFactors;
  readonly timings: readonly StageTiming[];
}

/** A named set of queries scored together (a benchmark by default; group-tokens.ts). */
export interface QueryGroup {
  readonly name: string;
  /** Query indices, ascending. */
  readonly queries: readonly number[];
}

/** A run's group per-token influence: row g = the mean over group g's queries of s_q τ_t(q, n), [G × Σ_n T_n]. */
export interface GroupTokenInfluence {
  readonly groups: readonly QueryGroup[];
  /** Offsets [N + 1] of each training example's tokens in a row. */
  readonly offsets: Int32Array;
  readonly values: Float64Array;
}

export interface AttributionInputs {
  readonly backend: Backend;
  readonly source: GradientSource;
  readonly trainSet: ExampleSet;
  readonly querySet: ExampleSet;
  /**
   * Factors fitted elsewhere (kronfluence's import, an earlier run's result.factors): the fitting stages are skipped
   * and these are used, matched to the tracked layers by name. Their strategy must be the run's.
   */
  readonly factors?: ModelFactors;
  /**
   * The model's files as read (the graph, then each external data file): saved in the checkpoint, and a resume from
   * files that differ is refused naming the file. Absent (a model built in memory): not checked.
   */
  readonly modelFiles?: readonly ModelFileIdentity[];
}

/** One file of the model by content: its name, lower-case hex sha256 and size. */
export interface ModelFileIdentity {
  readonly name: string;
  readonly sha256: string;
  readonly bytes: number;
}

export const DEFAULT_CONFIG: AttributionConfig = {
  strategy: 'ekfac',
  damping: { kind: 'heuristic', factor: 0.1 },
  fisher: 'sampled',
  measurement: 'mean-log-likelihood',
  perToken: false,
  queryRank: null,
  trackedLayers: null,
  // Small batches, one per chunk: progress and a checkpoint after every batch, and a cancel is honoured within one.
  batchSizes: { fit: 8, train: 8, query: 16, batchesPerChunk: 1 },
  seed: 0,
  refineEigen: false,
};

/** Re-exported so callers need only this module. */
export type { Backend, Tensor, TokenBatch };
