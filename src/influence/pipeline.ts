/**
 * runAttribution: the whole EK-FAC pipeline of docs/method.md §2–§4 as one pure function of (config, inputs) with
 * progress, cancellation and checkpoints as arguments, in two stages (kronfluence's factor/ and score/ split): fit the
 * factors and the preconditioner (fit-factors.ts), then score the queries against the training set (score-queries.ts),
 * sharing one RunRecord (run-record.ts). Every stage checkpoints after each chunk through `options.checkpoint`; a run
 * started again with the same checkpoint store resumes where it stopped and gives bit-identical results on the CPU
 * float64 backend (summation order does not depend on where a run was interrupted).
 */
import { CheckpointMismatchError } from './errors';
import { fromModelFactors, toModelFactors } from './factors';
import { fitFactors } from './fit-factors';
import { keptLambdaBatches } from './lambda-batches';
import { influenceFromTau } from './measurement';
import { RunRecord, type RunStageInputs } from './run-record';
import { scoreQueries, type QueryScores } from './score-queries';
import { validateScorePath } from './score-plan';
import { sumLayers, tokenOffsets } from './scores';
import { strategyOf } from './strategies';
import type {
  AttributionConfig,
  AttributionInputs,
  AttributionResult,
  LayerInfo,
  LayerSummary,
  ModelFileIdentity,
  Preconditioner,
  RunCheckpoint,
  RunOptions,
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
  const layerIndices = selectLayers(source.layers, config.trackedLayers);
  const layers = layerIndices.map((i) => source.layers[i]);
  const record = new RunRecord(await openRecord(config, inputs, layers, options), options);
  const run: RunStageInputs = { config, backend, source, layerIndices, layers, trainSize, options };
  // The Λ pass's batches, kept for the first score pass where the planner allowed it (lambda-batches.ts).
  const kept = keptLambdaBatches(config, backend.precision === 'float64' ? 8 : 4);
  try {
    const preconditioner = await fitFactors(run, record, kept);
    const queries = inputs.querySet.examples;
    const scored = await scoreQueries({ ...run, queries }, record, preconditioner, kept);
    return assembleResult(run, inputs, record, preconditioner, scored);
  } finally {
    kept?.release();
  }
}

/** The checkpoint to continue (refused when it is another run's), or a new one; imported factors merged in. */
async function openRecord(
  config: AttributionConfig,
  inputs: AttributionInputs,
  layers: readonly LayerInfo[],
  options: RunOptions,
): Promise<RunCheckpoint> {
  const fingerprint = runFingerprint(config, inputs, layers);
  const loaded = (await options.checkpoint?.load()) ?? null;
  const otherModel = loaded && modelFilesDiffer(loaded.modelFiles, inputs.modelFiles);
  if (otherModel) throw new CheckpointMismatchError(otherModel);
  if (loaded !== null && loaded.fingerprint !== fingerprint) {
    throw new CheckpointMismatchError(
      'checkpoint: the saved run has a different configuration, model layers, data size or backend; start a new run',
    );
  }
  const record: RunCheckpoint = loaded ?? {
    version: 1,
    fingerprint,
    ...(inputs.modelFiles ? { modelFiles: inputs.modelFiles } : {}),
    timings: [],
  };
  if (!inputs.factors) return record;
  const trainSize = inputs.trainSet.examples.length;
  return { ...record, ...fromModelFactors(inputs.factors, strategyOf(config.strategy), layers, trainSize) };
}

/** The run's result from the two stages' outputs and the record (factors, timings). */
function assembleResult(
  run: RunStageInputs,
  inputs: AttributionInputs,
  record: RunRecord,
  preconditioner: Preconditioner,
  scored: QueryScores,
): AttributionResult {
  const { config, backend, source, layers, trainSize } = run;
  const { scores, perTokenOffsets: offsets, queryOffsets } = scored;
  const strategy = strategyOf(config.strategy);
  const { eigen, covariance, lambda } = record.current;
  const tau = sumLayers(scores.perLayer);
  const layerSummaries: LayerSummary[] = layers.map((layer, l) => ({
    ...layer,
    damping: preconditioner.damping[l],
    activationEigenRange: strategy.needsEigenbasis ? valueRange(eigen!.activationValues[l]) : null,
    gradientEigenRange: strategy.needsEigenbasis ? valueRange(eigen!.gradientValues[l]) : null,
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
    selfTau: sumLayers(scored.selfPerLayer),
    trainTokenCounts: Int32Array.from({ length: trainSize }, (_, n) => source.sequenceLength('train', n)),
    queryTargetCounts: scores.queryTargetCounts,
    queryTokenLoss: scores.queryTokenLoss ? { offsets: queryOffsets, values: scores.queryTokenLoss } : null,
    tauPerToken: scores.perToken && offsets ? { offsets, values: scores.perToken.data } : null,
    groupTokens: scored.groupTokens
      ? {
          groups: scored.groupTokens.groups,
          offsets: tokenOffsets(source, trainSize),
          values: scored.groupTokens.values.data,
        }
      : null,
    factors: toModelFactors(strategy.name, layers, covariance, eigen, strategy.needsLambda ? lambda : undefined),
    timings: record.stageTimings(),
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
