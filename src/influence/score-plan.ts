/**
 * Which of two exact forms computes one layer's pairwise scores for one training batch (docs/method.md §3, item 6):
 *
 *   token form     τ(q, n) = Σ_t m g(n,t)ᵀ P_q ã(n,t)            cost Q · tokens · dOut · dIn'
 *   sequence form  G(n) = Σ_t m g ãᵀ once per sequence, then      cost tokens · dOut · dIn'  (building G)
 *                  τ(q, n) = ⟨P_q, G(n)⟩ as one [Q × D]·[D × B] GEMM     + Q · B · dOut · dIn'  (the GEMM)
 *
 * (tokens = unmasked tokens of the batch, B = its sequences, D = dOut · dIn'; costs in multiply-adds.) The sequence
 * form wins as soon as there are two queries and sequences longer than one token, and always when G(n) is built
 * anyway (self-influence computed in the same pass), but it holds G for the whole batch: B · D elements. Rules:
 *   1. per-token scores need the token form (G(n) has summed the tokens away);
 *   2. a rank-k query operator keeps the token form: its cost Q · tokens · k · (dOut + dIn') is already small, and the
 *      sequence form would need each P_q expanded to dOut × dIn';
 *   3. the sequence form only when G of the batch fits the memory budget (lower the training batch size to get it),
 *      unless G is built anyway (then the memory is spent whichever form scores);
 *   4. otherwise the cheaper by the cost model, the token form on a tie.
 * `form: 'token' | 'sequence'` forces a form where rules 1–3 allow it. Both forms give the same τ up to rounding
 * (tested in float64 to 1e-10 relative).
 */

export type ScoreForm = 'token' | 'sequence';

export interface ScorePathOptions {
  /** 'auto': the cost model above; or force one form. */
  readonly form: 'auto' | ScoreForm;
  /** Bytes the sequence form may use for one layer's per-sequence gradients of one training batch. */
  readonly memoryBytes: number;
  /**
   * Bytes of G(n) kept across query chunks (gradient-cache.ts), so later chunks skip the gradient graph; absent or 0:
   * none. The memory planner sets it from what the device has left.
   */
  readonly cacheBytes?: number;
  /**
   * Bytes of the Λ pass's training batches kept for the first score pass (lambda-batches.ts), so it skips the
   * gradient graph for them; absent or 0: none. Used only with the empirical Fisher; the memory planner sets it.
   */
  readonly lambdaBatchBytes?: number;
}

/** 128 MiB: also the smallest maxStorageBufferBindingSize WebGPU guarantees, so one binding always holds G. */
export const DEFAULT_SCORE_PATH: ScorePathOptions = { form: 'auto', memoryBytes: 128 * 1024 * 1024 };

export interface ScoreShape {
  readonly queries: number;
  readonly sequences: number;
  /** Unmasked tokens in the batch. */
  readonly tokens: number;
  readonly dOut: number;
  readonly dInPrime: number;
  /** Rank of a low-rank query operator; null for the full P_q. */
  readonly rank: number | null;
  readonly perToken: boolean;
  /** G(n) is built for this batch anyway (e.g. for self-influence in the same pass): its cost is not counted. */
  readonly gradientsBuiltAnyway: boolean;
  /** 8 for float64 backends, 4 for float32. */
  readonly bytesPerElement: number;
}

export interface ScorePlan {
  readonly form: ScoreForm;
  /** Multiply-adds of each form (the token form's for the operator at hand). */
  readonly tokenCost: number;
  readonly sequenceCost: number;
  readonly sequenceBytes: number;
  /** Which rule decided, for logs and tests. */
  readonly reason: 'per-token' | 'low-rank' | 'memory' | 'forced' | 'cost';
}

export function planScores(shape: ScoreShape, options: ScorePathOptions = DEFAULT_SCORE_PATH): ScorePlan {
  const { queries, sequences, tokens, dOut, dInPrime, rank } = shape;
  const size = dOut * dInPrime;
  const tokenCost = rank === null ? queries * tokens * size : queries * tokens * rank * (dOut + dInPrime);
  const sequenceCost = (shape.gradientsBuiltAnyway ? 0 : tokens * size) + queries * sequences * size;
  const sequenceBytes = sequences * size * shape.bytesPerElement;
  const plan = (form: ScoreForm, reason: ScorePlan['reason']): ScorePlan => ({
    form,
    tokenCost,
    sequenceCost,
    sequenceBytes,
    reason,
  });
  if (shape.perToken) return plan('token', 'per-token');
  if (rank !== null) return plan('token', 'low-rank');
  if (!shape.gradientsBuiltAnyway && sequenceBytes > options.memoryBytes) return plan('token', 'memory');
  if (options.form !== 'auto') return plan(options.form, 'forced');
  return plan(sequenceCost < tokenCost ? 'sequence' : 'token', 'cost');
}

export function validateScorePath(options: ScorePathOptions): void {
  if (!['auto', 'token', 'sequence'].includes(options.form)) {
    throw new Error(`config.scorePath.form must be 'auto', 'token' or 'sequence', got ${JSON.stringify(options.form)}`);
  }
  for (const name of ['memoryBytes', 'cacheBytes', 'lambdaBatchBytes'] as const) {
    const value = options[name];
    if (value === undefined && name !== 'memoryBytes') continue;
    if (!(value! >= 0) || !Number.isFinite(value)) {
      throw new Error(`config.scorePath.${name} must be a finite number ≥ 0, got ${value}`);
    }
  }
}
