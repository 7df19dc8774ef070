/**
 * The score-queries stage (docs/method.md §3–§4), after fit-factors.ts: the queries in chunks of
 * config.batchSizes.query, each chunk's operators P_q (queries.ts) scored against the whole training set (scores.ts),
 * with self-influence and the query groups' per-token scores (group-tokens.ts) from the first pass that needs them,
 * and per-sequence gradients G(n) kept across chunks within the planner's budget (gradient-cache.ts). Checkpoints after
 * every chunk; a resumed run starts at the first unfinished chunk (and inside it, where its pass stopped).
 */
import { now } from './chunks';
import { SequenceGradientCache } from './gradient-cache';
import { benchmarkGroups, groupOperators } from './group-tokens';
import { hostMatrix } from './host';
import type { KeptLambdaBatches } from './lambda-batches';
import { prepareQueries, type QueryChunk } from './queries';
import { mergeQueryChunk, type ScoreRecord } from './query-chunks';
import type { RunRecord, RunStageInputs } from './run-record';
import type { ScoreContext } from './score-context';
import { emptyScoreState, emptySelfState, scoreTrainingSet, selfInfluence, tokenOffsets } from './scores';
import type { ExampleMeta, Preconditioner, QueryGroup } from './types';
import type { HostMatrix } from '../core/schema';

export interface ScoreQueriesInputs extends RunStageInputs {
  readonly queries: readonly ExampleMeta[];
}

export interface QueryScores {
  /** τ per layer [layers, Q, N], per-token rows, the queries' target counts and token losses. */
  readonly scores: ScoreRecord;
  /** Self-influence per layer [layers, N]. */
  readonly selfPerLayer: HostMatrix;
  /** Offsets of each query's positions in scores.queryTokenLoss: [Q + 1]. */
  readonly queryOffsets: Int32Array;
  /** Offsets of each training example's tokens in scores.perToken's rows: [N + 1]; null without per-token scores. */
  readonly perTokenOffsets: Int32Array | null;
  /** The query groups and their per-token influence [G, Σ_n T_n], when computed. */
  readonly groupTokens: { readonly groups: readonly QueryGroup[]; readonly values: HostMatrix } | null;
}

/** What every chunk of one scoreQueries call shares. */
interface ChunkPass {
  readonly run: ScoreQueriesInputs;
  readonly record: RunRecord;
  readonly context: ScoreContext;
  /** Per-token row offsets of the training examples (per-token scores), else null. */
  readonly offsets: Int32Array | null;
  readonly queryOffsets: Int32Array;
  readonly cache: SequenceGradientCache;
  readonly groups: readonly QueryGroup[] | null;
  /** Σ_n T_n: the width of a group per-token row. */
  readonly trainTokens: number;
}

/** `lambdaBatches`: the Λ pass's kept batches (lambda-batches.ts), taken by the first chunk's pass; null: none. */
export async function scoreQueries(
  run: ScoreQueriesInputs,
  record: RunRecord,
  preconditioner: Preconditioner,
  lambdaBatches: KeptLambdaBatches | null = null,
): Promise<QueryScores> {
  const { backend, source, layerIndices, layers, trainSize, config, options } = run;
  const querySize = run.queries.length;
  const context: ScoreContext = { backend, source, layerIndices, config, preconditioner };
  const offsets = config.perToken ? tokenOffsets(source, trainSize) : null;
  const queryOffsets = tokenOffsets(source, querySize, 'query');
  const tokensPerRow = offsets ? offsets[trainSize] : null;
  let scores: ScoreRecord = record.current.scores ?? {
    completedQueries: 0,
    perLayer: hostMatrix(
      [layers.length, querySize, trainSize],
      new Float64Array(layers.length * querySize * trainSize),
    ),
    perToken:
      tokensPerRow === null ? null : hostMatrix([querySize, tokensPerRow], new Float64Array(querySize * tokensPerRow)),
    queryTargetCounts: new Float64Array(querySize),
    queryTokenLoss: new Float64Array(queryOffsets[querySize]!),
  };
  // G(n) kept across query chunks, within the planner's budget (exact; per-token and low-rank scores need the tokens).
  const cacheBytes = config.perToken || config.queryRank !== null ? 0 : (config.scorePath?.cacheBytes ?? 0);
  const cache = new SequenceGradientCache(backend, cacheBytes);
  // Group per-token scores (group-tokens.ts): in the first pass that runs while they are not finished.
  const groups = config.groupTokens !== false ? benchmarkGroups(run.queries) : null;
  const trainTokens = groups ? tokenOffsets(source, trainSize)[trainSize]! : 0;
  const pass: ChunkPass = { run, record, context, offsets, queryOffsets, cache, groups, trainTokens };
  // The query stage's progress: chunks alternate with scoring, so its rate counts only the time spent preparing them.
  const firstQuery = scores.completedQueries;
  let querySeconds = 0;
  try {
    for (let queryStart = firstQuery; queryStart < querySize; queryStart += config.batchSizes.query) {
      const queryEnd = Math.min(querySize, queryStart + config.batchSizes.query);
      const queryStartTime = now();
      const chunk = await record.timed('query', queryEnd, () => prepareQueries(context, queryStart, queryEnd));
      querySeconds += (now() - queryStartTime) / 1000;
      const rate = querySeconds > 0 ? (queryEnd - firstQuery) / querySeconds : 0;
      options.onProgress?.({
        stage: 'query',
        done: queryEnd,
        total: querySize,
        unit: 'queries',
        itemsPerSecond: rate,
        etaSeconds: rate > 0 ? (querySize - queryEnd) / rate : Number.NaN,
      });
      try {
        scores = await scoreChunk(pass, scores, chunk, queryStart, queryEnd, lambdaBatches);
      } finally {
        chunk.release();
        // Only the first pass reads training batches from the Λ pass; what it did not take is freed now.
        lambdaBatches?.release();
      }
      await record.save({ scores, runningScores: undefined });
    }
  } finally {
    cache.release();
  }
  await finishSelfInfluence(pass);
  const groupValues = record.current.groupTokens;
  return {
    scores,
    selfPerLayer: record.current.self!.perLayer,
    queryOffsets,
    perTokenOffsets: offsets,
    groupTokens: groups && groupValues ? { groups, values: groupValues } : null,
  };
}

/**
 * One chunk's pass over the training set (resumed where a checkpoint left it), merged into `scores`; the first pass
 * also computes self-influence and the group per-token scores while they are not finished.
 */
async function scoreChunk(
  pass: ChunkPass,
  scores: ScoreRecord,
  chunk: QueryChunk,
  queryStart: number,
  queryEnd: number,
  lambdaBatches: KeptLambdaBatches | null,
): Promise<ScoreRecord> {
  const { run, record, context, groups, cache } = pass;
  const { backend, layers, trainSize, options } = run;
  const querySize = run.queries.length;
  const resumed = record.current.runningScores?.queryStart === queryStart ? record.current.runningScores : null;
  // Group operators Σ_q w_q P_q over every query (this chunk's P_q reused), for this pass's group token scores.
  const withGroups = groups !== null && groups.length > 0 && record.current.groupTokens === undefined;
  const operators = withGroups
    ? await record.timed('query', queryEnd, () =>
        groupOperators(context, groups, querySize, { chunk, start: queryStart }),
      )
    : null;
  const chunkContext: ScoreContext = {
    ...context,
    ...(cache.budgetBytes > 0 && { gradientCache: { cache, store: queryEnd < querySize } }),
    ...(operators && { groupOperators: operators }),
    ...(lambdaBatches && { lambdaBatches }),
  };
  // Self-influence not begun yet: this pass computes it from the same training gradients (no second pass).
  const withSelf = record.current.self === undefined;
  const groupRows = withGroups ? ([groups.length, pass.trainTokens] as const) : null;
  const tokensPerRow = pass.offsets ? pass.offsets[trainSize]! : null;
  const fresh = emptyScoreState(layers.length, queryStart, queryEnd, trainSize, tokensPerRow, withSelf, groupRows);
  const state = await record
    .timed('scores', queryEnd * trainSize, () =>
      scoreTrainingSet(chunkContext, chunk, resumed ?? fresh, trainSize, pass.offsets, {
        onProgress: options.onProgress,
        signal: options.signal,
        progressOffset: queryStart * trainSize,
        progressTotal: querySize * trainSize,
        saveState: (runningScores) => record.save({ runningScores }),
      }),
    )
    .finally(() => operators && backend.release(...operators));
  if (state.selfPerLayer) record.merge({ self: { nextIndex: trainSize, perLayer: state.selfPerLayer } });
  if (state.groupPerToken) record.merge({ groupTokens: state.groupPerToken });
  return mergeQueryChunk(scores, state.perLayer, state.perToken, queryStart, queryEnd, chunk, pass.queryOffsets);
}

/** Self-influence in its own pass when the first score pass did not compute it (a run resumed after that pass). */
async function finishSelfInfluence(pass: ChunkPass): Promise<void> {
  const { run, record, context } = pass;
  const { layers, trainSize, options } = run;
  const selfState = record.current.self;
  if (selfState !== undefined && selfState.nextIndex >= trainSize) return;
  const self = await record.timed('self', trainSize, () =>
    selfInfluence(context, selfState ?? emptySelfState(layers.length, trainSize), trainSize, {
      onProgress: options.onProgress,
      signal: options.signal,
      saveState: (state) => record.save({ self: state }),
    }),
  );
  await record.save({ self });
}
