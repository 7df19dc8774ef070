/**
 * The shared schema of matrices, factors, scores and result rows: what the engine produces, the store keeps and the
 * views read, in memory. Matrices are HostMatrix (row-major Float64Array + shape), so stage outputs go in and come
 * out without conversion. A leaf: it imports only src/core.
 *
 * Factors of a layer are kept the way kronfluence saves them — covariance and Λ as SUMS with their counts — so an
 * import from kronfluence and an export back are bit-exact. The engine's means are sum / count (see the helpers).
 */
import type { Strategy } from './strategy';

/** A host-side matrix: row-major float64 data and its shape (the engine's stage outputs are these, unchanged). */
export interface HostMatrix {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** The factors of one tracked layer; every part is optional because each stage adds its own. */
export interface LayerFactors {
  /** Layer name: the ONNX node name for our models, the module name for kronfluence's. */
  readonly name: string;
  /** Σ_tokens ã ãᵀ, [dIn', dIn'] (ã with the bias 1 appended); kronfluence's `activation_covariance`. */
  readonly activationCovarianceSum?: HostMatrix;
  /** Tokens summed into activationCovarianceSum; kronfluence's `num_activation_covariance_processed`. */
  readonly activationCount?: number;
  /** Σ_tokens g gᵀ, [dOut, dOut]; kronfluence's `gradient_covariance`. */
  readonly gradientCovarianceSum?: HostMatrix;
  readonly gradientCount?: number;
  /** Q_A: eigenvectors (columns) of A = activationCovarianceSum / activationCount, [dIn', dIn']. */
  readonly activationEigenvectors?: HostMatrix;
  /** λ_A ascending, [dIn']. */
  readonly activationEigenvalues?: HostMatrix;
  /** Q_S of S = gradientCovarianceSum / gradientCount, [dOut, dOut]. */
  readonly gradientEigenvectors?: HostMatrix;
  readonly gradientEigenvalues?: HostMatrix;
  /** Σ_sequences (Q_Sᵀ G(n) Q_A)∘², [dOut, dIn']; kronfluence's `lambda_matrix`. Λ = lambdaSum / lambdaCount. */
  readonly lambdaSum?: HostMatrix;
  /** Sequences summed into lambdaSum; kronfluence's `num_lambda_processed`. */
  readonly lambdaCount?: number;
}

export type FactorPart = Exclude<keyof LayerFactors, 'name'>;

/** The factors of a whole model, in layer order. */
export interface ModelFactors {
  readonly strategy: Strategy;
  readonly layers: readonly LayerFactors[];
}

/**
 * Pairwise and self scores. `tau` is kronfluence's raw score (the query's summed loss; positive = lowers that loss).
 */
export interface ScoreTensors {
  /** τ [Q, N] row-major. */
  readonly tau?: HostMatrix;
  /** Influence on the run's measurement [Q, N], positive = helps (src/influence/types.ts defines its relation to τ). */
  readonly influence?: HostMatrix;
  /** τ per layer [layers, Q, N] (kronfluence: per-module scores). */
  readonly tauPerLayer?: HostMatrix;
  /** Self-influence τ(n, n) [N]. */
  readonly selfTau?: HostMatrix;
  /** Per-token τ [Q, Σ_n T_n] with row offsets [N + 1] (Int32 values stored as float64 here). */
  readonly tauPerToken?: { readonly offsets: Int32Array; readonly values: HostMatrix };
  /**
   * Per query group (a benchmark), each training token's influence: the mean over the group's queries of the
   * per-token influence, [G, Σ_n T_n] with offsets [N + 1]; queryGroups [Q] gives each query's group index (-1: none).
   */
  readonly groupTokens?: GroupTokenTensors;
  /**
   * Per-token influence of chosen (query, training example) pairs: pairs [P, 2] (query, training index), values at
   * offsets [P + 1] into a flat [Σ_p T_n(p)] row.
   */
  readonly pairTokens?: PairTokenTensors;
}

export interface PairTokenTensors {
  readonly pairs: Int32Array;
  readonly offsets: Int32Array;
  readonly values: HostMatrix;
}

export interface GroupTokenTensors {
  readonly names: readonly string[];
  readonly queryGroups: Int32Array;
  readonly offsets: Int32Array;
  readonly values: HostMatrix;
}

/** One dataset row as the results view shows it. Text is data: it is rendered as text, never as HTML. */
export interface DatasetRow {
  readonly id: string;
  readonly text?: string;
  readonly prompt?: string;
  readonly response?: string;
  readonly domain?: string;
  readonly difficulty?: string;
  readonly benchmark?: string;
  readonly segments?: readonly { readonly label: string; readonly start: number; readonly end: number }[];
  /** Each token's text, one per position of the sequence fed to the model (the heatmap's text). */
  readonly tokens?: readonly string[];
  /** Per position, an index into src/data's TOKEN_CATEGORIES (the token-category analysis); a plain list in JSON. */
  readonly tokenCategories?: ArrayLike<number>;
  /**
   * Query rows: per token, the loss of predicting it, −log p(token t | tokens < t) (≥ 0), null where the measurement
   * does not count it (the prompt); needs `tokens`, one entry per token. Absent in runs that did not record it.
   */
  readonly tokenLoss?: readonly (number | null)[];
  /**
   * Query rows measured on a span: the token positions [start, end) the measurement counted (T_q = their total).
   * Absent: every response token.
   */
  readonly measured?: readonly { readonly start: number; readonly end: number }[];
}

function mean(sum: HostMatrix | undefined, count: number | undefined, what: string, layer: string): HostMatrix | null {
  if (!sum) return null;
  if (count === undefined || !(count > 0))
    throw new RangeError(`layer '${layer}': ${what} has no positive count (${count})`);
  return { shape: sum.shape, data: sum.data.map((value) => value / count) };
}

/** A = Σ ã ãᵀ / tokens, or null before the covariance stage. */
export function activationCovariance(layer: LayerFactors): HostMatrix | null {
  return mean(layer.activationCovarianceSum, layer.activationCount, 'activation covariance', layer.name);
}

/** S = Σ g gᵀ / tokens, or null before the covariance stage. */
export function gradientCovariance(layer: LayerFactors): HostMatrix | null {
  return mean(layer.gradientCovarianceSum, layer.gradientCount, 'gradient covariance', layer.name);
}

/** Λ = Σ_n (Q_Sᵀ G(n) Q_A)∘² / sequences, or null before the eigenvalue-correction stage. */
export function lambdaMatrix(layer: LayerFactors): HostMatrix | null {
  return mean(layer.lambdaSum, layer.lambdaCount, 'lambda matrix', layer.name);
}
