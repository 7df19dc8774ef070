/**
 * Stage 6: the score passes over the training set, against the query operators of queries.ts.
 *   τ(q, n) = Σ_layers Σ_t g(n,t)ᵀ P_q ã(n,t) with the training example's given labels; per-token τ(q, n, t) on the
 *   training side; self-influence τ(n, n) = ⟨P_n, G(n)⟩ with the full P_n (computed as ⟨X(n), R(n)⟩, score-context.ts).
 * Per layer and batch, score-plan.ts chooses between contracting P_q with every token's a and g (token form) and
 * building each training sequence's G(n) once for one [Q × D]·[D × B] GEMM (sequence form); G(n) lives only for its
 * batch. When self-influence is still to do, the first query chunk's pass computes it from the same batch (its G(n),
 * or in an eigenbasis its rotated token rows), so every training sequence's gradients come from the gradient graph
 * once for pairwise and self scores (not once per pass).
 */
import type { Tensor } from '../linalg/backend';
import { fetchBatch } from './batches';
import { addGroupTokenScores } from './group-tokens';
import { batchGradientBytes, scoreKeptBatch, type SequenceGradientCache } from './gradient-cache';
import { runPass, trainingPass } from './chunks';
import { assertFinite } from './errors';
import { hostMatrix } from './host';
import type { QueryChunk } from './queries';
import {
  layerName,
  releasePreconditioner,
  selfInner,
  uploadPreconditioner,
  usesSequenceGradients,
  type LayerTensors,
  type ScoreContext,
} from './score-context';
import { DEFAULT_SCORE_PATH, planScores } from './score-plan';
import type { GradientBatch, GradientSource, RunOptions, ScoreState, SelfState } from './types';
import type { HostMatrix } from '../core/schema';

/** Offsets of each example's tokens in a per-token row: [count + 1] (training examples unless `role` says). */
export function tokenOffsets(source: GradientSource, count: number, role: 'train' | 'query' = 'train'): Int32Array {
  const offsets = new Int32Array(count + 1);
  for (let n = 0; n < count; n++) offsets[n + 1] = offsets[n] + source.sequenceLength(role, n);
  return offsets;
}

/**
 * withSelf: this pass also computes self-influence from the same per-sequence gradients; groupRows: [groups, Σ_n T_n]
 * when it also scores the group operators per token (group-tokens.ts).
 */
export function emptyScoreState(
  layers: number,
  queryStart: number,
  queryEnd: number,
  trainSize: number,
  tokensPerRow: number | null,
  withSelf = false,
  groupRows: readonly [number, number] | null = null,
): ScoreState {
  const q = queryEnd - queryStart;
  return {
    queryStart,
    queryEnd,
    nextIndex: 0,
    perLayer: hostMatrix([layers, q, trainSize], new Float64Array(layers * q * trainSize)),
    perToken: tokensPerRow === null ? null : hostMatrix([q, tokensPerRow], new Float64Array(q * tokensPerRow)),
    ...(withSelf ? { selfPerLayer: hostMatrix([layers, trainSize], new Float64Array(layers * trainSize)) } : {}),
    ...(groupRows ? { groupPerToken: hostMatrix(groupRows, new Float64Array(groupRows[0] * groupRows[1])) } : {}),
  };
}

/** The mutable accumulators of one pass. */
interface PassAccumulators {
  readonly perLayer: Float64Array;
  readonly perToken: Float64Array | null;
  readonly self: Float64Array | null;
  /** Group per-token influence [G × Σ_n T_n] when the context has group operators and this pass scores them. */
  readonly groups: Float64Array | null;
}

/** Adds one training batch's scores (and self-influence, when wanted) into the pass's accumulators. */
async function scoreBatch(
  context: ScoreContext,
  chunk: QueryChunk,
  batch: GradientBatch,
  indices: readonly number[],
  acc: PassAccumulators,
  offsets: Int32Array | null,
  trainSize: number,
  preconditioner: readonly LayerTensors[] | null,
  groupOffsets: Int32Array | null,
): Promise<void> {
  const { backend, layerIndices, config } = context;
  const { perLayer, perToken, self } = acc;
  const q = chunk.targetCounts.length;
  const b = indices.length;
  const t = batch.sequenceLength;
  const tokens = batch.tokenCounts.reduce((sum, count) => sum + count, 0);
  const range = `training examples ${indices[0]}–${indices[b - 1]}`;
  const keep = keepForLaterChunks(context, chunk, batch, b);
  const kept: Tensor[] = [];
  for (let l = 0; l < layerIndices.length; l++) {
    const operator = chunk.operators[l];
    const layerBatch = batch.layers[layerIndices[l]];
    const [, dOut, width] = operator.kind === 'full' ? operator.p.shape : operator.u.shape;
    // Self-influence reads G(n) unless the layer has an eigenbasis (it then rotates the token rows: score-context.ts).
    const selfReadsG = self !== null && usesSequenceGradients(preconditioner![l]);
    const plan = planScores(
      {
        queries: q,
        sequences: b,
        tokens,
        dOut,
        dInPrime: operator.kind === 'full' ? width : operator.v.shape[1],
        rank: operator.kind === 'full' ? null : width,
        perToken: perToken !== null,
        gradientsBuiltAnyway: selfReadsG || keep !== null,
        bytesPerElement: backend.precision === 'float64' ? 8 : 4,
      },
      config.scorePath ?? DEFAULT_SCORE_PATH,
    );
    const built = plan.form === 'sequence' || selfReadsG || keep !== null;
    const gradients = built ? backend.sequenceGradients(layerBatch) : null;
    try {
      let tensor: Tensor;
      if (plan.form === 'sequence' && operator.kind === 'full') tensor = backend.pairwiseInner(operator.p, gradients!);
      else if (operator.kind === 'full') tensor = backend.scores(operator.p, layerBatch, perToken !== null);
      else tensor = backend.lowRankScores(operator.u, operator.v, layerBatch, perToken !== null);
      const values = await backend.read(tensor);
      backend.release(tensor);
      assertFinite(values, 'scores', layerName(context, l), 'the training scores', range);
      for (let qi = 0; qi < q; qi++) {
        for (let bi = 0; bi < b; bi++) {
          const n = indices[bi];
          let score: number;
          if (perToken !== null && offsets !== null) {
            score = 0;
            const base = (qi * b + bi) * t;
            const length = offsets[n + 1] - offsets[n];
            const row = qi * offsets[offsets.length - 1] + offsets[n];
            for (let ti = 0; ti < length; ti++) {
              score += values[base + ti];
              perToken[row + ti] += values[base + ti];
            }
          } else {
            score = values[qi * b + bi];
          }
          perLayer[(l * q + qi) * trainSize + n] = score;
        }
      }
      if (acc.groups !== null && groupOffsets !== null) {
        // Σ_q w_q τ_t(q, n) from the group's summed operator, on the tokens this batch already has.
        await addGroupTokenScores(
          backend,
          context.groupOperators![l]!,
          layerBatch,
          indices,
          groupOffsets,
          acc.groups,
          (v) => assertFinite(v, 'scores', layerName(context, l), 'the group per-token scores', range),
        );
      }
      if (self !== null) {
        // ⟨P_n, G(n)⟩ from the same batch, with the full (never low-rank) P_n.
        const selfValues = await selfInner(context, l, layerBatch, gradients, preconditioner!);
        assertFinite(selfValues, 'self', layerName(context, l), 'the self-influence', range);
        indices.forEach((n, i) => (self[l * trainSize + n] = selfValues[i]));
      }
    } finally {
      if (gradients !== null && keep !== null) kept.push(gradients);
      else if (gradients !== null) backend.release(gradients);
    }
  }
  if (keep !== null) keep.put(indices, kept, keptBytes(context, batch, b));
}

/** The cache to keep this batch's G(n) in for later query chunks, or null (no cache, last chunk, no room). */
function keepForLaterChunks(
  context: ScoreContext,
  chunk: QueryChunk,
  batch: GradientBatch,
  b: number,
): SequenceGradientCache | null {
  const cached = context.gradientCache;
  if (!cached?.store || chunk.operators.some((o) => o.kind !== 'full')) return null;
  return cached.cache.fits(keptBytes(context, batch, b)) ? cached.cache : null;
}

const keptBytes = (context: ScoreContext, batch: GradientBatch, b: number) =>
  batchGradientBytes(batch, context.layerIndices, b, context.backend.precision === 'float64' ? 8 : 4);

/** The pairwise pass for one query chunk, from `state.nextIndex` to the end of the training set. */
export async function scoreTrainingSet(
  context: ScoreContext,
  chunk: QueryChunk,
  state: ScoreState,
  trainSize: number,
  offsets: Int32Array | null,
  options: RunOptions & {
    saveState?: (state: ScoreState) => Promise<void>;
    progressOffset: number;
    progressTotal: number;
  },
): Promise<ScoreState> {
  const { backend, source, config } = context;
  const perLayer = state.perLayer.data.slice();
  const perToken = state.perToken ? state.perToken.data.slice() : null;
  const self = state.selfPerLayer ? state.selfPerLayer.data.slice() : null;
  const groups = state.groupPerToken && context.groupOperators ? state.groupPerToken.data.slice() : null;
  const groupOffsets = groups !== null ? tokenOffsets(source, trainSize) : null;
  const preconditioner = self !== null ? uploadPreconditioner(context) : null;
  let next = state.nextIndex;
  type Values = Float64Array | null;
  const snapshot = (
    nextIndex: number,
    layers: Float64Array,
    tokens: Values,
    selfValues: Values,
    groupValues: Values,
  ): ScoreState => ({
    ...state,
    nextIndex,
    perLayer: hostMatrix(state.perLayer.shape, layers),
    perToken: state.perToken && tokens ? hostMatrix(state.perToken.shape, tokens) : null,
    ...(state.selfPerLayer && selfValues ? { selfPerLayer: hostMatrix(state.selfPerLayer.shape, selfValues) } : {}),
    ...(state.groupPerToken && groupValues
      ? { groupPerToken: hostMatrix(state.groupPerToken.shape, groupValues) }
      : {}),
  });
  try {
    await runPass(
      {
        ...trainingPass('scores', trainSize, state.nextIndex, 'train', config, options),
        progressOffset: options.progressOffset,
        progressTotal: options.progressTotal,
        progressPerExample: chunk.targetCounts.length,
      },
      async (indices) => {
        const needsTokens = self !== null || perToken !== null || groups !== null;
        const cached = needsTokens ? undefined : context.gradientCache?.cache.get(indices);
        if (cached) {
          const check = (values: Float64Array, l: number, where: string) =>
            assertFinite(values, 'scores', layerName(context, l), 'the training scores', where);
          return scoreKeptBatch(backend, chunk.operators, cached, indices, { perLayer, trainSize, check });
        }
        // The Λ pass's batch of these examples when it was kept (the same given-label gradients), else computed.
        const batch =
          context.lambdaBatches?.take(indices) ??
          (await fetchBatch(source, { role: 'train', indices, labels: 'given', seed: config.seed }, backend));
        try {
          await scoreBatch(
            context,
            chunk,
            batch,
            indices,
            { perLayer, perToken, self, groups },
            offsets,
            trainSize,
            preconditioner,
            groupOffsets,
          );
        } finally {
          batch.release();
        }
      },
      async (nextIndex) => {
        // A checkpoint gets its own copy (the accumulators keep changing); without a store, nothing is copied.
        const copy = (values: Float64Array | null) => values?.slice() ?? null;
        if (options.saveState)
          await options.saveState(snapshot(nextIndex, perLayer.slice(), copy(perToken), copy(self), copy(groups)));
        next = nextIndex;
      },
    );
  } finally {
    if (preconditioner !== null) releasePreconditioner(backend, preconditioner);
  }
  return snapshot(next, perLayer, perToken, self, groups);
}

export function emptySelfState(layers: number, trainSize: number): SelfState {
  return { nextIndex: 0, perLayer: hostMatrix([layers, trainSize], new Float64Array(layers * trainSize)) };
}

/** Self-influence τ(n, n) = ⟨P_n, G(n)⟩ per layer, with the full (never low-rank) P_n. */
export async function selfInfluence(
  context: ScoreContext,
  state: SelfState,
  trainSize: number,
  options: RunOptions & { saveState?: (state: SelfState) => Promise<void> },
): Promise<SelfState> {
  const { backend, source, layerIndices, config } = context;
  const perLayer = state.perLayer.data.slice();
  const bases = uploadPreconditioner(context);
  let current = state;
  try {
    await runPass(
      trainingPass('self', trainSize, state.nextIndex, 'train', config, options),
      async (indices) => {
        const batch = await fetchBatch(source, { role: 'train', indices, labels: 'given', seed: config.seed }, backend);
        try {
          for (let l = 0; l < layerIndices.length; l++) {
            // ⟨P_n, G(n)⟩ per sequence: O(B·dOut·dIn'), not the B × B block of pairwise scores.
            const layerBatch = batch.layers[layerIndices[l]];
            const gradients = usesSequenceGradients(bases[l]) ? backend.sequenceGradients(layerBatch) : null;
            let values: Float64Array;
            try {
              values = await selfInner(context, l, layerBatch, gradients, bases);
            } finally {
              if (gradients !== null) backend.release(gradients);
            }
            assertFinite(
              values,
              'self',
              layerName(context, l),
              'the self-influence',
              `training examples ${indices[0]}–${indices[indices.length - 1]}`,
            );
            indices.forEach((n, i) => (perLayer[l * trainSize + n] = values[i]));
          }
        } finally {
          batch.release();
        }
      },
      async (nextIndex) => {
        current = { nextIndex, perLayer: hostMatrix(state.perLayer.shape, perLayer.slice()) };
        await options.saveState?.(current);
      },
    );
    return current;
  } finally {
    releasePreconditioner(backend, bases);
  }
}

/** Σ over layers of [layers, rows, cols] → [rows × cols]. */
export function sumLayers(perLayer: HostMatrix): Float64Array {
  const [layers, ...rest] = perLayer.shape;
  const size = rest.reduce((a, b) => a * b, 1);
  const total = new Float64Array(size);
  for (let l = 0; l < layers; l++) for (let i = 0; i < size; i++) total[i] += perLayer.data[l * size + i];
  return total;
}
