/**
 * The one numerical interface of the workbench. Two implementations:
 *   - cpu/    float64 reference; the fallback and the test oracle.
 *   - webgpu/ float32 WGSL kernels (shaders/*.wgsl).
 * Stages in src/influence are pure functions of (inputs, backend); they never look at which one they got.
 *
 * Layout conventions (row-major everywhere):
 *   - a token batch holds B sequences of T tokens: activations [B, T, dIn], gradients [B, T, dOut], mask [B, T];
 *   - dIn' = dIn + 1 when the layer has a bias (a ones column is appended to the activations, as kronfluence does);
 *   - per-layer matrices are [dOut, dIn'] (the shape of the weight gradient G = Σ_t g aᵀ);
 *   - eigenvectors are the columns of a [d, d] matrix, eigenvalues ascending (like LAPACK's eigh).
 */

export type BackendKind = 'cpu' | 'webgpu';

/** An opaque, backend-owned array with a shape. Obtain with upload/zeros, read back with read, free with release. */
export interface Tensor {
  readonly shape: readonly number[];
  /** Number of elements (product of shape). */
  readonly size: number;
}

/** Token-level inputs of one tracked layer for one batch. */
export interface TokenBatch {
  /** Layer inputs a(n,t): [B, T, dIn]. */
  readonly activations: Tensor;
  /** Pseudo-gradients g(n,t) = dLoss/dOutput: [B, T, dOut]. */
  readonly gradients: Tensor;
  /** 1 for real tokens, 0 for padding: [B, T]; null means every token counts. */
  readonly mask: Tensor | null;
  /** Append a ones column to the activations (the layer has a bias). */
  readonly appendOnes: boolean;
}

/** A backend's operand checker: names each shape mismatch, and binds named dimensions across operands. */
export interface OperandChecker<T> {
  expect(tensor: Tensor, name: string, dims: readonly (string | number)[]): T;
  dim(name: string): number;
}

/** A token batch with its shapes checked against each other, as a backend's own tensors (T) and dimensions. */
export interface CheckedTokenBatch<T> {
  readonly activations: T; // [B, T, dIn]
  readonly gradients: T; // [B, T, dOut]
  readonly mask: T | null; // [B, T]
  readonly sequences: number;
  readonly tokens: number;
  readonly dIn: number;
  /** dIn + 1 when a ones column is appended. */
  readonly dInPrime: number;
  readonly dOut: number;
}

/** The one shape check of a token batch, shared by the backends. */
export function checkTokenBatch<T>(check: OperandChecker<T>, batch: TokenBatch): CheckedTokenBatch<T> {
  const activations = check.expect(batch.activations, 'batch.activations', ['B', 'T', 'dIn']);
  const gradients = check.expect(batch.gradients, 'batch.gradients', ['B', 'T', 'dOut']);
  const mask = batch.mask === null ? null : check.expect(batch.mask, 'batch.mask', ['B', 'T']);
  const dIn = check.dim('dIn');
  return {
    activations,
    gradients,
    mask,
    sequences: check.dim('B'),
    tokens: check.dim('T'),
    dIn,
    dInPrime: dIn + (batch.appendOnes ? 1 : 0),
    dOut: check.dim('dOut'),
  };
}

export type Damping =
  | { readonly kind: 'absolute'; readonly value: number }
  /** δ = factor · mean(Λ) of the layer (kronfluence's heuristic uses factor 0.1). */
  | { readonly kind: 'heuristic'; readonly factor: number };

export interface EighOptions {
  /** Relative off-diagonal tolerance: stop when off(A) ≤ tol · ‖A‖_F. */
  readonly tolerance?: number;
  readonly maxSweeps?: number;
}

export interface Eigen {
  /** Ascending eigenvalues, [d]. */
  readonly values: Tensor;
  /** Orthonormal eigenvectors as columns, [d, d]. */
  readonly vectors: Tensor;
  /** Jacobi sweeps (or, for the CPU's tridiagonal solver at large d, implicit QL iterations). */
  readonly sweeps: number;
  /** off(A_final) / ‖A‖_F at the end. */
  readonly relativeOffDiagonal: number;
}

/** An eigendecomposition delivered on the host (Backend.eighHost). */
export interface HostEigen {
  /** Ascending eigenvalues, [d]. */
  readonly values: Float64Array;
  /** Orthonormal eigenvectors as the columns of a row-major [d, d] matrix. */
  readonly vectors: Float64Array;
  readonly sweeps: number;
  readonly relativeOffDiagonal: number;
}

export interface Backend {
  readonly kind: BackendKind;
  readonly precision: 'float64' | 'float32';
  /** Human-readable: adapter name and whether it is a software/fallback adapter, or "CPU float64". */
  readonly description: string;

  upload(data: ArrayLike<number>, shape: readonly number[]): Tensor;
  zeros(shape: readonly number[]): Tensor;
  read(tensor: Tensor): Promise<Float64Array>;
  release(...tensors: Tensor[]): void;

  /**
   * acc [d', d'] += Σ_{n,t} m(n,t) ã ãᵀ over the rows of x [B, T, d] (or [rows, d] with mask [rows]); ã = [x, 1] when
   * appendOnes. Only the upper triangle need be valid until finalizeCovariance.
   */
  accumulateCovariance(acc: Tensor, x: Tensor, mask: Tensor | null, appendOnes: boolean): void;
  /** Full symmetric matrix acc / count (mirrors the accumulated triangle). */
  finalizeCovariance(acc: Tensor, count: number): Tensor;
  /** Symmetric eigendecomposition. Throws (never returns silently) when it does not converge. */
  eigh(matrix: Tensor, options?: EighOptions): Promise<Eigen>;
  /**
   * Optional: eigh of a host [d, d] matrix (row-major), result on the host, for a backend that decomposes matrices
   * larger than it binds as one tensor without holding them whole (WebGPU: block Jacobi). The eigen stage prefers it.
   */
  eighHost?(matrix: Float64Array, d: number, options?: EighOptions): Promise<HostEigen>;

  /** Per-sequence weight gradients G(n) = Σ_t m(n,t) g(n,t) ã(n,t)ᵀ: [B, dOut, dIn']. */
  sequenceGradients(batch: TokenBatch): Tensor;
  /**
   * R(n) = Q_Sᵀ G(n) Q_A for every sequence of the batch: [B, dOut, dIn'] — the same as rotate(sequenceGradients(b),
   * 'into'), in whichever order of products is cheaper (the CPU rotates the token rows first when T < dims).
   */
  rotatedGradients(batch: TokenBatch, qS: Tensor, qA: Tensor): Tensor;
  /** Batched basis change of [N, dOut, dIn'] matrices: 'into' R = Q_Sᵀ G Q_A, 'back' G = Q_S R Q_Aᵀ. */
  rotate(matrices: Tensor, qS: Tensor, qA: Tensor, direction: 'into' | 'back'): Tensor;
  /**
   * lambda [dOut, dIn'] += Σ_n (Q_Sᵀ G(n) Q_A)∘² with G(n) built from the batch; with qS and qA null, Σ_n G(n)∘² in
   * the parameter basis (the diagonal strategy: no rotation).
   */
  accumulateLambda(lambda: Tensor, batch: TokenBatch, qS: Tensor | null, qA: Tensor | null): void;
  /** The damping value δ for a (sequence-averaged) Λ: absolute, or factor · mean(Λ). */
  dampingValue(lambda: Tensor, damping: Damping): Promise<number>;
  /**
   * P_q = Q_S [ (Q_Sᵀ G_q Q_A) ⊘ (Λ + δ) ] Q_Aᵀ for each of the query gradients [Q, dOut, dIn']. Λ is already averaged.
   */
  precondition(queryGradients: Tensor, qS: Tensor, qA: Tensor, lambda: Tensor, damping: Damping): Tensor;
  /**
   * P = G ⊘ (Λ + δ) for each of the gradients [N, dOut, dIn'], elementwise: the diagonal strategy's preconditioning.
   */
  divideDamped(gradients: Tensor, lambda: Tensor, damping: Damping): Tensor;
  /** τ[q, n] = Σ_t m(n,t) g(n,t)ᵀ P_q ã(n,t): [Q, B]; with perToken, [Q, B, T] (padding scores are 0). */
  scores(preconditioned: Tensor, batch: TokenBatch, perToken: boolean): Tensor;
  /**
   * Paired inner products of two equal-shape [B, …] tensors: out[b] = Σ a[b, …]·c[b, …], [B]. Self-influence
   * ⟨P_n, G(n)⟩ for a batch in O(B·dOut·dIn') instead of the B × B score block.
   */
  pairedInner(a: Tensor, c: Tensor): Tensor;
  /**
   * All inner products of two [Q, …] and [B, …] tensors with equal trailing shapes: out[q, b] = Σ a[q, …]·c[b, …],
   * [Q, B], as one GEMM. Pairwise scores ⟨P_q, G(n)⟩ from per-sequence gradients (the sequence form of the scores).
   */
  pairwiseInner(a: Tensor, c: Tensor): Tensor;
  /** Rank-k factorisation P_q ≈ U_q V_qᵀ (truncated SVD): u [Q, dOut, k], v [Q, dIn', k]. */
  lowRank(preconditioned: Tensor, rank: number): Promise<{ u: Tensor; v: Tensor }>;
  /** Scores with P_q ≈ U_q V_qᵀ: τ[q,n,(t)] = Σ_t m (gᵀU_q)(V_qᵀ ã). */
  lowRankScores(u: Tensor, v: Tensor, batch: TokenBatch, perToken: boolean): Tensor;
}
