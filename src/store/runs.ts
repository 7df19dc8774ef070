/**
 * Runs as the page and the worker use them: create one, save the engine's results into it, export it as an .iwb
 * bundle, import a bundle as a read-only run. Tensors keep their bundle names (`layers.<i>.<factor>`, `scores.*`) so
 * export and import are a copy, not a translation.
 */
import type { AttributionResult } from '../influence/types';
import {
  LAYER_PARTS, SCORE_TENSORS, STAGE_PARTS, decodeBundle, encodeBundle,
  type BundleContent, type BundleLayer, type BundleLayerInput, type EncodeOptions, type LayerPart,
} from './bundle';
import type { NewTensor, WorkbenchStore } from './db';
import type { RunRecord, TensorKind } from './records';
import type { HostMatrix, ModelFactors } from './types';

export type NewRun = Pick<RunRecord, 'name' | 'config' | 'strategy' | 'backend' | 'layers' | 'measurement'> & Partial<Pick<RunRecord, 'modelId' | 'datasetIds' | 'rows' | 'estimatedBytes' | 'source'>>;

function newRunRecord(init: NewRun, status: RunRecord['status']): RunRecord {
  const now = new Date().toISOString();
  return {
    id: `run-${globalThis.crypto.randomUUID()}`, createdAt: now, updatedAt: now, status, stage: null, timings: [], error: null,
    modelId: null, datasetIds: [], rows: null, estimatedBytes: null, source: null, ...init,
  };
}

export async function createRun(store: WorkbenchStore, init: NewRun): Promise<RunRecord> {
  const run = newRunRecord(init, 'created');
  await store.putRun(run);
  return run;
}

function partKind(part: LayerPart): TensorKind {
  return STAGE_PARTS.covariance.includes(part) ? 'factor' : STAGE_PARTS.eigen.includes(part) ? 'eigen' : 'lambda';
}

function factorTensors(factors: ModelFactors): NewTensor[] {
  const out: NewTensor[] = [];
  factors.layers.forEach((layer, index) => {
    for (const [part, file] of Object.entries(LAYER_PARTS) as [LayerPart, string][]) {
      const matrix = layer[part];
      if (matrix) out.push({ name: `layers.${index}.${file}`, kind: partKind(part), shape: matrix.shape, array: matrix.data });
    }
  });
  return out;
}

function scoreTensor(name: string, shape: readonly number[], array: Float64Array | Int32Array): NewTensor {
  return { name, kind: 'score', shape, array };
}

/** Store a finished run's factors and scores and mark it complete, in one transaction. */
export async function saveRunResults(store: WorkbenchStore, runId: string, result: AttributionResult): Promise<void> {
  const queries = result.queries.length;
  const train = result.train.length;
  const tensors = [
    ...factorTensors(result.factors),
    scoreTensor(SCORE_TENSORS.tau, [queries, train], result.tau),
    scoreTensor(SCORE_TENSORS.influence, [queries, train], result.influence),
    scoreTensor(SCORE_TENSORS.tauPerLayer, [result.layers.length, queries, train], result.tauPerLayer),
    scoreTensor(SCORE_TENSORS.selfTau, [train], result.selfTau),
    scoreTensor(SCORE_TENSORS.queryTargetCounts, [queries], result.queryTargetCounts),
  ];
  if (result.tauPerToken) {
    const { offsets, values } = result.tauPerToken;
    tensors.push(scoreTensor(SCORE_TENSORS.tauPerToken, [queries, offsets[offsets.length - 1]!], values));
    tensors.push(scoreTensor(SCORE_TENSORS.tauPerTokenOffsets, [offsets.length], offsets));
  }
  const layers: BundleLayer[] = result.layers.map((layer, l) => {
    const factors = result.factors.layers[l];
    return {
      name: layer.name, ...(layer.weightName !== undefined && { weightName: layer.weightName }),
      dIn: layer.dIn, dOut: layer.dOut, hasBias: layer.hasBias, damping: layer.damping,
      ...(factors?.activationCount !== undefined && { activationCount: factors.activationCount }),
      ...(factors?.gradientCount !== undefined && { gradientCount: factors.gradientCount }),
      ...(factors?.lambdaCount !== undefined && { lambdaCount: factors.lambdaCount }),
    };
  });
  await store.putTensors(runId, tensors, {
    status: 'complete', stage: 'done', layers, backend: result.backend, timings: result.timings, measurement: result.config.measurement,
  });
}

async function readMatrix(store: WorkbenchStore, runId: string, name: string): Promise<HostMatrix | undefined> {
  const tensor = await store.getTensor(runId, name);
  if (!tensor) return undefined;
  if (!(tensor.array instanceof Float64Array)) throw new Error(`run '${runId}' tensor '${name}' is ${tensor.record.arrayType}, expected Float64Array`);
  return { shape: tensor.record.shape, data: tensor.array };
}

/** A stored run as an .iwb bundle. Rows are included unless the user leaves them out. */
export async function exportRunBundle(
  store: WorkbenchStore,
  runId: string,
  options: EncodeOptions & { readonly includeRows?: boolean; readonly model?: BundleContent['model']; readonly datasets?: BundleContent['datasets'] } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const run = await store.getRun(runId);
  if (!run) throw new Error(`no run '${runId}'`);
  const layers: BundleLayerInput[] = [];
  for (const [index, info] of run.layers.entries()) {
    const layer: Record<string, unknown> = { ...info };
    for (const [part, file] of Object.entries(LAYER_PARTS) as [LayerPart, string][]) {
      const matrix = await readMatrix(store, runId, `layers.${index}.${file}`);
      if (matrix) layer[part] = matrix;
    }
    layers.push(layer as unknown as BundleLayerInput);
  }
  const scores: Record<string, unknown> = { measurement: run.measurement ?? 'unknown' };
  for (const key of ['tau', 'influence', 'tauPerLayer', 'selfTau', 'queryTargetCounts'] as const) {
    const matrix = await readMatrix(store, runId, SCORE_TENSORS[key]);
    if (matrix) scores[key] = matrix;
  }
  const perToken = await readMatrix(store, runId, SCORE_TENSORS.tauPerToken);
  const offsets = await store.getTensor(runId, SCORE_TENSORS.tauPerTokenOffsets);
  if (perToken && offsets) scores.tauPerToken = { offsets: offsets.array as Int32Array, values: perToken };
  const content: BundleContent = {
    model: options.model ?? null,
    datasets: options.datasets ?? { train: null, query: null },
    strategy: run.strategy,
    config: run.config,
    backend: run.backend,
    layers,
    ...(scores.tau || scores.selfTau ? { scores: scores as unknown as NonNullable<BundleContent['scores']> } : {}),
    rows: options.includeRows === false ? null : run.rows,
  };
  return encodeBundle(content, options);
}

/**
 * Import an .iwb bundle as a read-only run. The bundle is decoded and checked completely first; only then is the run
 * written, in one transaction — a bad bundle leaves the store exactly as it was.
 */
export async function importBundle(store: WorkbenchStore, bytes: Uint8Array, options: { readonly name?: string; readonly maxBytes?: number } = {}): Promise<RunRecord> {
  const bundle = await decodeBundle(bytes, options);
  const { manifest } = bundle;
  const run = newRunRecord({
    name: options.name ?? `imported ${manifest.createdAt}`,
    config: manifest.config, strategy: manifest.strategy, backend: manifest.backend, layers: manifest.layers,
    measurement: manifest.scores?.measurement ?? null, rows: manifest.rows,
    source: { kind: 'bundle', name: options.name ?? manifest.model?.name ?? 'bundle' },
  }, 'imported');
  const tensors = factorTensors(bundle.factors);
  const { tau, influence, tauPerLayer, selfTau, queryTargetCounts, tauPerToken } = bundle.scores;
  const named: [string, HostMatrix | undefined][] = [
    [SCORE_TENSORS.tau, tau], [SCORE_TENSORS.influence, influence], [SCORE_TENSORS.tauPerLayer, tauPerLayer],
    [SCORE_TENSORS.selfTau, selfTau], [SCORE_TENSORS.queryTargetCounts, queryTargetCounts], [SCORE_TENSORS.tauPerToken, tauPerToken?.values],
  ];
  for (const [name, matrix] of named) if (matrix) tensors.push(scoreTensor(name, matrix.shape, matrix.data));
  if (tauPerToken) tensors.push(scoreTensor(SCORE_TENSORS.tauPerTokenOffsets, [tauPerToken.offsets.length], tauPerToken.offsets));
  await store.createRunWithTensors({ ...run, stage: manifest.stages.at(-1) ?? null }, tensors);
  return (await store.getRun(run.id))!;
}
