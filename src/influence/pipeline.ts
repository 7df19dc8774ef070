/**
 * runAttribution: the whole EK-FAC pipeline of docs/method.md §2–§4 as one pure function of (config, inputs) with
 * progress, cancellation and checkpoints as arguments. Every stage checkpoints after each chunk through
 * `options.checkpoint`; a run started again with the same checkpoint store resumes where it stopped and gives
 * bit-identical results on the CPU float64 backend (summation order does not depend on where a run was interrupted).
 */
import { now } from './chunks';
import { accumulateCovariances, emptyCovarianceState, finalizeCovariances } from './covariance';
import { eigendecomposeFactors } from './eigen';
import { CheckpointMismatchError, throwIfAborted } from './errors';
import { hostMatrix } from './host';
import { accumulateLambda, averageLambda, emptyLambdaState } from './lambda';
import { influenceFromTau } from './measurement';
import { buildPreconditioner } from './preconditioner';
import { SequenceGradientCache } from './gradient-cache';
import { validateScorePath } from './score-plan';
import { strategyOf } from './strategies';
import { fromModelFactors, toModelFactors } from './factors';
import { benchmarkGroups, groupOperators } from './group-tokens';
import { prepareQueries, type QueryChunk } from './queries';
import type { ScoreContext } from './score-context';
import { emptyScoreState, emptySelfState, scoreTrainingSet, selfInfluence, sumLayers, tokenOffsets } from './scores';
import type {
  AttributionConfig,
  AttributionInputs,
  AttributionResult,
  LayerInfo,
  LayerSummary,
  ModelFileIdentity,
  RunCheckpoint,
  RunOptions,
  StageName,
  StageTiming,
} from './types';
import type { HostMatrix } from '../core/schema';

export { DEFAULT_CONFIG } from './types';

/** Indices into source.layers of the tracked layers: those whose name matches config.trackedLayers (all when null). */
export function selectLayers(layers: readonly LayerInfo[], pattern: string | null): number[] {
  if (layers.length === 0) throw new Error('gradient source offers no tracked layers');
  if (pattern === null) return layers.map((_, i) => i);
  const regex = new RegExp(pattern);
  const selected = layers.flatMap((layer, i) => (regex.test(layer.name) ? [i] : []));
  if (selected.length === 0) {
    throw new Error(
      `trackedLayers /${pattern}/ matches none of the source's layers: ${layers.map((l) => l.name).join(', ')}`,
    );
  }
  return selected;
}

export function validateConfig(config: AttributionConfig): void {
  const { batchSizes, queryRank, damping } = config;
  for (const [name, value] of Object.entries(batchSizes)) {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`config.batchSizes.${name} must be a positive integer, got ${value}`);
  }
  if (queryRank !== null && (!Number.isInteger(queryRank) || queryRank < 1))
    throw new Error(`config.queryRank must be null or a positive integer, got ${queryRank}`);
  if (damping.kind === 'absolute' && !(damping.value >= 0))
    throw new Error(`config.damping.value must be ≥ 0, got ${damping.value}`);
  if (damping.kind === 'heuristic' && !(damping.factor >= 0))
    throw new Error(`config.damping.factor must be ≥ 0, got ${damping.factor}`);
  strategyOf(config.strategy);
  if (config.scorePath !== undefined) validateScorePath(config.scorePath);
}

/** JSON with object keys sorted, so equal configurations built in another key order fingerprint the same. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** What a checkpoint must agree with to be resumed. */
export function runFingerprint(
  config: AttributionConfig,
  inputs: AttributionInputs,
  layers: readonly LayerInfo[],
): string {
  return canonicalJson({
    config,
    backend: [inputs.backend.kind, inputs.backend.precision],
    layers: layers.map((l) => [l.name, l.dIn, l.dOut, l.hasBias]),
    train: inputs.trainSet.examples.length,
    queries: inputs.querySet.examples.length,
    importedFactors: inputs.factors
      ? inputs.factors.layers.map((l) => [l.name, l.lambdaCount ?? null, l.activationCount ?? null])
      : null,
  });
}

/**
 * Why a checkpoint's model files are not these (one sentence naming the first file that differs), or null when they
 * match or either side does not say (older checkpoints, models built in memory).
 */
export function modelFilesDiffer(
  saved: readonly ModelFileIdentity[] | undefined,
  now: readonly ModelFileIdentity[] | undefined,
): string | null {
  if (!saved || !now) return null;
  const describe = (f: ModelFileIdentity) => `sha256 ${f.sha256.slice(0, 12)}…, ${f.bytes} bytes`;
  const advice = 'resume with the files the run started with, or start a new run';
  for (const file of saved) {
    const current = now.find((f) => f.name === file.name);
    if (!current)
      return `checkpoint: the saved run read model file ${file.name}, which this run does not have; ${advice}`;
    if (current.sha256 !== file.sha256 || current.bytes !== file.bytes) {
      return (
        `checkpoint: model file ${file.name} differs from the one the saved run read ` +
        `(then ${describe(file)}; now ${describe(current)}); ${advice}`
      );
    }
  }
  const extra = now.find((f) => !saved.some((s) => s.name === f.name));
  return extra ? `checkpoint: the saved run did not read model file ${extra.name}; ${advice}` : null;
}

export async function runAttribution(
  config: AttributionConfig,
  inputs: AttributionInputs,
  options: RunOptions = {},
): Promise<AttributionResult> {
  validateConfig(config);
  const { backend, source } = inputs;
  const trainSize = inputs.trainSet.examples.length;
  const querySize = inputs.querySet.examples.length;
  const layerIndices = selectLayers(source.layers, config.trackedLayers);
  const layers = layerIndices.map((i) => source.layers[i]);
  const fingerprint = runFingerprint(config, inputs, layers);
  const loaded = (await options.checkpoint?.load()) ?? null;
  const otherModel = loaded && modelFilesDiffer(loaded.modelFiles, inputs.modelFiles);
  if (otherModel) throw new CheckpointMismatchError(otherModel);
  if (loaded !== null && loaded.fingerprint !== fingerprint) {
    throw new CheckpointMismatchError(
      'checkpoint: the saved run has a different configuration, model layers, data size or backend; start a new run',
    );
  }
  let record: RunCheckpoint = loaded ?? {
    version: 1,
    fingerprint,
    ...(inputs.modelFiles ? { modelFiles: inputs.modelFiles } : {}),
    timings: [],
  };
  if (inputs.factors)
    record = { ...record, ...fromModelFactors(inputs.factors, strategyOf(config.strategy), layers, trainSize) };
  const timings = new Map<StageName, StageTiming>(record.timings.map((t) => [t.stage, t]));
  const save = async (update: Partial<RunCheckpoint>): Promise<void> => {
    record = { ...record, ...update, timings: [...timings.values()] };
    await options.checkpoint?.save(record);
  };
  /** Wall time per stage, added across resumed sessions. */
  const timed = async <T>(stage: StageName, items: number, work: () => Promise<T>): Promise<T> => {
    const start = now();
    try {
      return await work();
    } finally {
      const previous = timings.get(stage);
      timings.set(stage, { stage, seconds: (previous?.seconds ?? 0) + (now() - start) / 1000, items });
    }
  };
  const progress = { onProgress: options.onProgress, signal: options.signal };
  const strategy = strategyOf(config.strategy);
  const needsEigen = strategy.needsEigenbasis;

  if (needsEigen && record.factors === undefined && record.eigen === undefined) {
    const factors = await timed('covariance', trainSize, async () => {
      const state = await accumulateCovariances(
        { backend, source, layerIndices, trainSize, config },
        record.covariance ?? emptyCovarianceState(layers),
        { ...progress, saveState: (covariance) => save({ covariance }) },
      );
      record = { ...record, covariance: state };
      return finalizeCovariances(backend, layers, state);
    });
    await save({ factors });
  }
  if (needsEigen && record.eigen === undefined) {
    const factors = record.factors!;
    const eigen = await timed('eigen', layers.length, () =>
      eigendecomposeFactors(backend, layers, factors, { ...progress, refine: config.refineEigen }),
    );
    await save({ eigen });
  }
  const needsLambda = strategy.needsLambda;
  if (needsLambda && (record.lambda === undefined || record.lambda.nextIndex < trainSize)) {
    // Λ in the eigenbasis (ekfac) or in the parameter basis (diagonal: no bases, no rotations).
    const bases = needsEigen
      ? layers.map((_, l) => ({ qS: record.eigen!.gradientVectors[l], qA: record.eigen!.activationVectors[l] }))
      : null;
    const lambda = await timed('lambda', trainSize, () =>
      accumulateLambda(
        { backend, source, layerIndices, trainSize, config, bases },
        record.lambda ?? emptyLambdaState(layers),
        {
          ...progress,
          saveState: (lambdaState) => save({ lambda: lambdaState }),
        },
      ),
    );
    await save({ lambda });
  }
  throwIfAborted(options.signal);
  const preconditioner = await buildPreconditioner(backend, strategy, config.damping, layers, {
    ...(record.eigen && { eigen: record.eigen }),
    ...(needsLambda && { lambda: averageLambda(record.lambda!) }),
  });
  const context: ScoreContext = { backend, source, layerIndices, config, preconditioner };

  const offsets = config.perToken ? tokenOffsets(source, trainSize) : null;
  const queryOffsets = tokenOffsets(source, querySize, 'query');
  const tokensPerRow = offsets ? offsets[trainSize] : null;
  let scores = record.scores ?? {
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
  const groups = config.groupTokens !== false ? benchmarkGroups(inputs.querySet.examples) : null;
  const trainTokens = groups ? tokenOffsets(source, trainSize)[trainSize]! : 0;
  // The query stage's progress: chunks alternate with scoring, so its rate counts only the time spent preparing them.
  const firstQuery = scores.completedQueries;
  let querySeconds = 0;
  try {
    for (let queryStart = firstQuery; queryStart < querySize; queryStart += config.batchSizes.query) {
      const queryEnd = Math.min(querySize, queryStart + config.batchSizes.query);
      const queryStartTime = now();
      const chunk = await timed('query', queryEnd, () => prepareQueries(context, queryStart, queryEnd));
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
        const resumed = record.runningScores?.queryStart === queryStart ? record.runningScores : null;
        // Group operators Σ_q w_q P_q over every query (this chunk's P_q reused), for this pass's group token scores.
        const withGroups = groups !== null && groups.length > 0 && record.groupTokens === undefined;
        const operators = withGroups
          ? await timed('query', queryEnd, () =>
              groupOperators(context, groups, querySize, { chunk, start: queryStart }),
            )
          : null;
        const chunkContext: ScoreContext = {
          ...context,
          ...(cacheBytes > 0 && { gradientCache: { cache, store: queryEnd < querySize } }),
          ...(operators && { groupOperators: operators }),
        };
        // Self-influence not begun yet: this pass computes it from the same training gradients (no second pass).
        const withSelf = record.self === undefined;
        const groupRows = withGroups ? ([groups.length, trainTokens] as const) : null;
        const fresh = emptyScoreState(
          layers.length,
          queryStart,
          queryEnd,
          trainSize,
          tokensPerRow,
          withSelf,
          groupRows,
        );
        const state = await timed('scores', queryEnd * trainSize, () =>
          scoreTrainingSet(chunkContext, chunk, resumed ?? fresh, trainSize, offsets, {
            ...progress,
            progressOffset: queryStart * trainSize,
            progressTotal: querySize * trainSize,
            saveState: (runningScores) => save({ runningScores }),
          }),
        ).finally(() => operators && backend.release(...operators));
        scores = mergeQueryChunk(scores, state.perLayer, state.perToken, queryStart, queryEnd, chunk, queryOffsets);
        if (state.selfPerLayer) record = { ...record, self: { nextIndex: trainSize, perLayer: state.selfPerLayer } };
        if (state.groupPerToken) record = { ...record, groupTokens: state.groupPerToken };
      } finally {
        chunk.release();
      }
      await save({ scores, runningScores: undefined });
    }
  } finally {
    cache.release();
  }

  if (record.self === undefined || record.self.nextIndex < trainSize) {
    const self = await timed('self', trainSize, () =>
      selfInfluence(context, record.self ?? emptySelfState(layers.length, trainSize), trainSize, {
        ...progress,
        saveState: (selfState) => save({ self: selfState }),
      }),
    );
    await save({ self });
  }

  const tau = sumLayers(scores.perLayer);
  const layerSummaries: LayerSummary[] = layers.map((layer, l) => ({
    ...layer,
    damping: preconditioner.damping[l],
    activationEigenRange: needsEigen ? valueRange(record.eigen!.activationValues[l]) : null,
    gradientEigenRange: needsEigen ? valueRange(record.eigen!.gradientValues[l]) : null,
  }));
  return {
    config,
    backend: backend.description,
    layers: layerSummaries,
    queries: inputs.querySet.examples,
    train: inputs.trainSet.examples,
    tau,
    influence: influenceFromTau(tau, scores.queryTargetCounts, config.measurement),
    tauPerLayer: scores.perLayer.data,
    selfTau: sumLayers(record.self!.perLayer),
    trainTokenCounts: Int32Array.from({ length: trainSize }, (_, n) => source.sequenceLength('train', n)),
    queryTargetCounts: scores.queryTargetCounts,
    queryTokenLoss: scores.queryTokenLoss ? { offsets: queryOffsets, values: scores.queryTokenLoss } : null,
    tauPerToken: scores.perToken && offsets ? { offsets, values: scores.perToken.data } : null,
    groupTokens:
      groups && record.groupTokens
        ? { groups, offsets: tokenOffsets(source, trainSize), values: record.groupTokens.data }
        : null,
    factors: toModelFactors(
      strategy.name,
      layers,
      record.covariance,
      record.eigen,
      needsLambda ? record.lambda : undefined,
    ),
    timings: [...timings.values()],
  };
}

function valueRange(values: HostMatrix): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values.data) {
    low = Math.min(low, v);
    high = Math.max(high, v);
  }
  return [low, high];
}

type ScoreRecord = NonNullable<RunCheckpoint['scores']>;

/** Copies one query chunk's [layers, Q_chunk, N] (and per-token rows) into the run's [layers, Q, N]. */
function mergeQueryChunk(
  scores: ScoreRecord,
  chunkPerLayer: HostMatrix,
  chunkPerToken: HostMatrix | null,
  queryStart: number,
  queryEnd: number,
  chunk: QueryChunk,
  queryOffsets: Int32Array,
): ScoreRecord {
  const [layerCount, querySize, trainSize] = scores.perLayer.shape;
  const chunkQueries = queryEnd - queryStart;
  const perLayer = scores.perLayer.data.slice();
  for (let l = 0; l < layerCount; l++) {
    for (let q = 0; q < chunkQueries; q++) {
      const from = (l * chunkQueries + q) * trainSize;
      perLayer.set(chunkPerLayer.data.subarray(from, from + trainSize), (l * querySize + queryStart + q) * trainSize);
    }
  }
  let perToken = scores.perToken;
  if (perToken && chunkPerToken) {
    const data = perToken.data.slice();
    data.set(chunkPerToken.data, queryStart * perToken.shape[1]);
    perToken = hostMatrix(perToken.shape, data);
  }
  const queryTargetCounts = scores.queryTargetCounts.slice();
  queryTargetCounts.set(chunk.targetCounts, queryStart);
  // A checkpoint from before the query losses were kept has none for its finished queries: none for the run then.
  const queryTokenLoss = scores.queryTokenLoss?.slice();
  chunk.tokenLoss.forEach((loss, q) => queryTokenLoss?.set(loss, queryOffsets[queryStart + q]!));
  return {
    completedQueries: queryEnd,
    perLayer: hostMatrix(scores.perLayer.shape, perLayer),
    perToken,
    queryTargetCounts,
    ...(queryTokenLoss ? { queryTokenLoss } : {}),
  };
}
