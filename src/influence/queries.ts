/**
 * Stage 5: the preconditioned query gradients P_q = Q_S [ (Q_Sᵀ G_q Q_A) ⊘ (Λ + δ) ] Q_Aᵀ per layer (G_q of the
 * query's summed loss, given labels), optionally replaced by a rank-k factorisation, with every P_q checked through
 * ⟨P_q, G_q⟩ = ⟨X_q, R_q⟩ (score-context.ts) before any training example is scored against it.
 */
import type { Backend, Tensor } from '../linalg/backend';
import { fetchBatch } from './batches';
import { assertFinite } from './errors';
import {
  layerName,
  preconditionBatch,
  releasePreconditioned,
  releasePreconditioner,
  uploadPreconditioner,
  usesSequenceGradients,
  type ScoreContext,
} from './score-context';
import type { GradientBatch } from './types';

/** One layer's query operator on the backend: the full P_q [Q, dOut, dIn'] or its rank-k factors. */
export type QueryOperator =
  { readonly kind: 'full'; readonly p: Tensor } | { readonly kind: 'low-rank'; readonly u: Tensor; readonly v: Tensor };

export interface QueryChunk {
  readonly operators: QueryOperator[];
  /** Measured token count per query of the chunk. */
  readonly targetCounts: number[];
  /**
   * Per query of the chunk, its loss terms per position: −log p(label at t) where the measurement counts position t,
   * 0 elsewhere, over its non-padding positions; they sum to the query's summed loss L_q.
   */
  readonly tokenLoss: Float64Array[];
  release(): void;
}

/** The loss terms of each example of a batch, per non-padding position (see QueryChunk.tokenLoss). */
export function batchTokenLoss(batch: GradientBatch, lengths: readonly number[]): Float64Array[] {
  const T = batch.sequenceLength;
  // 0 − ℓ, not −ℓ: an unmeasured position is +0 rather than −0.
  return lengths.map((length, b) => Float64Array.from({ length }, (_, t) => 0 - batch.tokenLogLikelihoods[b * T + t]));
}

/** Preconditions the queries [start, end) (one gradient request) and checks every P_q through ⟨P_q, G_q⟩. */
export async function prepareQueries(context: ScoreContext, start: number, end: number): Promise<QueryChunk> {
  const { backend, source, layerIndices, config } = context;
  const indices = Array.from({ length: end - start }, (_, i) => start + i);
  const batch = await fetchBatch(source, { role: 'query', indices, labels: 'given', seed: config.seed }, backend);
  const bases = uploadPreconditioner(context);
  const operators: QueryOperator[] = [];
  try {
    for (let l = 0; l < layerIndices.length; l++) {
      const layerBatch = batch.layers[layerIndices[l]];
      const gradients = usesSequenceGradients(bases[l]) ? backend.sequenceGradients(layerBatch) : null;
      const preconditioned = preconditionBatch(context, l, layerBatch, gradients, bases);
      // ⟨P_q, G_q⟩ per query: O(Q·dOut·dIn'), not the diagonal of a Q × Q score block.
      const inner = backend.pairedInner(preconditioned.divided, preconditioned.rotated);
      const { eigenbasis, divided } = preconditioned;
      const p = eigenbasis ? backend.rotate(divided, bases[l]!.qS!, bases[l]!.qA!, 'back') : divided;
      // P is the divided tensor itself outside an eigenbasis (or G(n) for identity): keep it, release the rest.
      releasePreconditioned(backend, preconditioned, gradients, p);
      if (gradients !== null && gradients !== p) backend.release(gradients);
      const check = await backend.read(inner);
      backend.release(inner);
      operators.push({ kind: 'full', p });
      assertFinite(
        check,
        'query',
        layerName(context, l),
        '⟨P_q, G_q⟩ of the preconditioned query gradients',
        `queries ${start}–${end - 1}`,
      );
      const [, dOut, dInPrime] = p.shape;
      // A rank at or above min(dOut, dIn') would factorise exactly: the full P is then both exact and cheaper.
      if (config.queryRank !== null && config.queryRank < Math.min(dOut, dInPrime)) {
        const { u, v } = await backend.lowRank(p, config.queryRank);
        operators.pop();
        backend.release(p);
        operators.push({ kind: 'low-rank', u, v });
      }
    }
  } catch (error) {
    for (const operator of operators) releaseOperator(backend, operator);
    throw error;
  } finally {
    releasePreconditioner(backend, bases);
    batch.release();
  }
  return {
    operators,
    targetCounts: [...batch.targetCounts],
    tokenLoss: batchTokenLoss(
      batch,
      indices.map((q) => source.sequenceLength('query', q)),
    ),
    release: () => operators.forEach((operator) => releaseOperator(backend, operator)),
  };
}

export function releaseOperator(backend: Backend, operator: QueryOperator): void {
  if (operator.kind === 'full') backend.release(operator.p);
  else backend.release(operator.u, operator.v);
}
