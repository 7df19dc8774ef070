/**
 * Runs as the page and the worker use them: create one, save a finished run's bundle content into it, read it back
 * as bundle content (for an export), import a bundle as a read-only run. Tensors keep their bundle names
 * (`layers.<i>.<factor>`, `scores.*`) so export and import are a copy, not a translation. The store knows bundles,
 * not the engine: src/app maps a result to bundle content.
 */
import {
  EVAL_TENSORS,
  LAYER_PARTS,
  MATRIX_SCORES,
  SCORE_TENSORS,
  STAGE_PARTS,
  decodeBundle,
  type BundleContent,
  type BundleEvaluation,
  type BundleLayer,
  type BundleLayerInput,
  type LayerPart,
} from './bundle';
import type { NewTensor, WorkbenchStore } from './db';
import { sha256Hex } from '../core/hash';
import type { RunRecord, StageTimingRecord, TensorKind } from './records';
import type { GroupTokenTensors, HostMatrix, LayerFactors, PairTokenTensors, ScoreTensors } from '../core/schema';

export type NewRun = Pick<RunRecord, 'name' | 'config' | 'strategy' | 'backend' | 'layers' | 'measurement'> &
  Partial<
    Pick<RunRecord, 'modelId' | 'datasetIds' | 'rows' | 'estimatedBytes' | 'source' | 'evaluation' | 'tokenGroups'>
  >;

function newRunRecord(init: NewRun, status: RunRecord['status']): RunRecord {
  const now = new Date().toISOString();
  return {
    id: `run-${globalThis.crypto.randomUUID()}`,
    createdAt: now,
    updatedAt: now,
    status,
    stage: null,
    timings: [],
    error: null,
    modelId: null,
    datasetIds: [],
    rows: null,
    estimatedBytes: null,
    source: null,
    ...init,
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

function factorTensors(layers: readonly LayerFactors[]): NewTensor[] {
  const out: NewTensor[] = [];
  layers.forEach((layer, index) => {
    for (const [part, file] of Object.entries(LAYER_PARTS) as [LayerPart, string][]) {
      const matrix = layer[part];
      if (matrix)
        out.push({ name: `layers.${index}.${file}`, kind: partKind(part), shape: matrix.shape, array: matrix.data });
    }
  });
  return out;
}

function scoreTensor(name: string, shape: readonly number[], array: Float64Array | Int32Array): NewTensor {
  return { name, kind: 'score', shape, array };
}

/** An evaluation's tensors under their bundle names (shapes as in docs/bundle-format.md). */
function evaluationStoredTensors(evaluation: BundleEvaluation, queries: number, train: number): NewTensor[] {
  const { subsets: m, seedsPerSubset: r } = evaluation.info.config;
  const tensor = (name: string, shape: readonly number[], array: NewTensor['array']): NewTensor => ({
    name,
    kind: 'evaluation',
    shape,
    array,
  });
  const out = [
    tensor(EVAL_TENSORS.subsetMask, [m, train], evaluation.subsetMask),
    tensor(EVAL_TENSORS.subsetMeasurements, [m, r, queries], evaluation.subsetMeasurements),
  ];
  const loo = evaluation.loo;
  if (loo) {
    const k = loo.examples.length;
    out.push(
      tensor(EVAL_TENSORS.fullMeasurements, [r, queries], evaluation.fullMeasurements),
      tensor(EVAL_TENSORS.looExamples, [k], loo.examples),
      tensor(EVAL_TENSORS.looChosen, [queries, loo.chosen.length / queries], loo.chosen),
      tensor(EVAL_TENSORS.looActual, [k, queries], loo.actual),
    );
  }
  for (const s of evaluation.strategies) {
    out.push(
      tensor(EVAL_TENSORS.perQuery(s.strategy), [queries], s.perQuery),
      tensor(EVAL_TENSORS.ranked(s.strategy), [queries], s.ranked),
      tensor(EVAL_TENSORS.predictions(s.strategy), [m, queries], s.predictions),
    );
    if (loo) out.push(tensor(EVAL_TENSORS.looPredicted(s.strategy), [loo.examples.length, queries], s.looPredicted));
  }
  return out;
}

/** The stored tensors of a run's factors, scores and evaluation: one mapping for saved runs and imported bundles. */
function contentTensors(
  layers: readonly LayerFactors[],
  scores: (ScoreTensors & { readonly queryTargetCounts?: HostMatrix }) | undefined,
  evaluation: BundleEvaluation | null | undefined,
): NewTensor[] {
  const tensors = factorTensors(layers);
  if (!scores) return tensors;
  if (evaluation && scores.influence) {
    const [queries, train] = scores.influence.shape as [number, number];
    tensors.push(...evaluationStoredTensors(evaluation, queries, train));
  }
  for (const key of MATRIX_SCORES) {
    const matrix = scores[key];
    if (matrix) tensors.push(scoreTensor(SCORE_TENSORS[key], matrix.shape, matrix.data));
  }
  if (scores.tauPerToken) {
    const { offsets, values } = scores.tauPerToken;
    tensors.push(scoreTensor(SCORE_TENSORS.tauPerToken, values.shape, values.data));
    tensors.push(scoreTensor(SCORE_TENSORS.tauPerTokenOffsets, [offsets.length], offsets));
  }
  if (scores.groupTokens) {
    const { offsets, values, queryGroups } = scores.groupTokens;
    tensors.push(scoreTensor(SCORE_TENSORS.groupTokenInfluence, values.shape, values.data));
    tensors.push(scoreTensor(SCORE_TENSORS.groupTokenOffsets, [offsets.length], offsets));
    tensors.push(scoreTensor(SCORE_TENSORS.groupTokenQueries, [queryGroups.length], queryGroups));
  }
  if (scores.pairTokens) {
    const { pairs, offsets, values } = scores.pairTokens;
    tensors.push(scoreTensor(SCORE_TENSORS.pairTokenInfluence, values.shape, values.data));
    tensors.push(scoreTensor(SCORE_TENSORS.pairTokenPairs, [pairs.length / 2, 2], pairs));
    tensors.push(scoreTensor(SCORE_TENSORS.pairTokenOffsets, [offsets.length], offsets));
  }
  return tensors;
}

/**
 * Store a finished run's factors, scores and rows (src/app's bundle content) and mark it complete, in one
 * transaction. `extraConfig` is kept beside the content's config (the page keeps its request there).
 */
export async function saveRunContent(
  store: WorkbenchStore,
  runId: string,
  content: BundleContent,
  details: { readonly timings: readonly StageTimingRecord[]; readonly extraConfig?: Readonly<Record<string, unknown>> },
): Promise<void> {
  const layers: BundleLayer[] = content.layers.map((layer) => ({
    name: layer.name,
    ...(layer.weightName !== undefined && { weightName: layer.weightName }),
    dIn: layer.dIn,
    dOut: layer.dOut,
    hasBias: layer.hasBias,
    ...(layer.damping !== undefined && { damping: layer.damping }),
    ...(layer.activationCount !== undefined && { activationCount: layer.activationCount }),
    ...(layer.gradientCount !== undefined && { gradientCount: layer.gradientCount }),
    ...(layer.lambdaCount !== undefined && { lambdaCount: layer.lambdaCount }),
  }));
  await store.putTensors(runId, contentTensors(content.layers, content.scores, content.evaluation), {
    status: 'complete',
    stage: 'done',
    layers,
    backend: content.backend,
    timings: details.timings,
    measurement: content.scores?.measurement ?? null,
    rows: content.rows ?? null,
    config: { ...content.config, ...details.extraConfig },
    evaluation: content.evaluation?.info ?? null,
    ...(content.scores?.groupTokens && { tokenGroups: [...content.scores.groupTokens.names] }),
  });
}

async function readMatrix(store: WorkbenchStore, runId: string, name: string): Promise<HostMatrix | undefined> {
  const tensor = await store.getTensor(runId, name);
  if (!tensor) return undefined;
  if (!(tensor.array instanceof Float64Array))
    throw new Error(`run '${runId}' tensor '${name}' is ${tensor.record.arrayType}, expected Float64Array`);
  return { shape: tensor.record.shape, data: tensor.array };
}

/** A stored run as bundle content (encode it with app/bundle-content.ts). Rows are kept unless left out. */
export async function runContent(
  store: WorkbenchStore,
  runId: string,
  options: {
    readonly includeRows?: boolean;
    readonly model?: BundleContent['model'];
    readonly modelData?: BundleContent['modelData'];
    readonly datasets?: BundleContent['datasets'];
  } = {},
): Promise<BundleContent> {
  const run = await store.getRun(runId);
  if (!run) throw new Error(`no run '${runId}'`);
  const layers: BundleLayerInput[] = [];
  for (const [index, info] of run.layers.entries()) {
    const parts: { -readonly [P in LayerPart]?: HostMatrix } = {};
    for (const [part, file] of Object.entries(LAYER_PARTS) as [LayerPart, string][]) {
      const matrix = await readMatrix(store, runId, `layers.${index}.${file}`);
      if (matrix) parts[part] = matrix;
    }
    layers.push({ ...info, ...parts });
  }
  const matrices: { -readonly [K in (typeof MATRIX_SCORES)[number]]?: HostMatrix } = {};
  for (const key of MATRIX_SCORES) {
    const matrix = await readMatrix(store, runId, SCORE_TENSORS[key]);
    if (matrix) matrices[key] = matrix;
  }
  const perToken = await readMatrix(store, runId, SCORE_TENSORS.tauPerToken);
  const offsets = await store.getTensor(runId, SCORE_TENSORS.tauPerTokenOffsets);
  const groupTokens = await storedGroupTokens(run, async (name) => (await store.getTensor(runId, name))?.array);
  const pairTokens = await storedPairTokens(async (name) => (await store.getTensor(runId, name))?.array);
  const scores: NonNullable<BundleContent['scores']> = {
    measurement: run.measurement ?? 'unknown',
    ...matrices,
    ...(perToken && offsets ? { tauPerToken: { offsets: offsets.array as Int32Array, values: perToken } } : {}),
    ...(groupTokens ? { groupTokens } : {}),
    ...(pairTokens ? { pairTokens } : {}),
  };
  return {
    model: options.model ?? null,
    ...(options.modelData?.length ? { modelData: options.modelData } : {}),
    datasets: options.datasets ?? { train: null, query: null },
    strategy: run.strategy,
    config: run.config,
    backend: run.backend,
    layers,
    ...(scores.tau || scores.selfTau ? { scores } : {}),
    rows: options.includeRows === false ? null : run.rows,
    evaluation: await runEvaluation(store, runId),
  };
}

/** A stored run's evaluation (as the bundle codec has it), or null when it has none. */
export async function runEvaluation(store: WorkbenchStore, runId: string): Promise<BundleEvaluation | null> {
  const run = await store.getRun(runId);
  return run ? evaluationOf(run, async (name) => (await store.getTensor(runId, name))?.array) : null;
}

/** A run's evaluation read through a tensor lookup (the store's, or an unstored bundle's in memory); null if none. */
export async function evaluationOf(
  run: RunRecord,
  tensor: (name: string) => Promise<unknown>,
): Promise<BundleEvaluation | null> {
  const info = run.evaluation;
  if (!info) return null;
  const get = async <T>(name: string, type: abstract new (...args: never[]) => T): Promise<T> => {
    const array = await tensor(name);
    if (!(array instanceof type)) throw new Error(`run '${run.id}': evaluation tensor '${name}' is missing`);
    return array;
  };
  const looRun = info.config.looPerQuery > 0;
  const strategies = [];
  for (const { strategy } of info.strategies) {
    strategies.push({
      strategy,
      perQuery: await get(EVAL_TENSORS.perQuery(strategy), Float64Array),
      ranked: await get(EVAL_TENSORS.ranked(strategy), Uint8Array),
      predictions: await get(EVAL_TENSORS.predictions(strategy), Float64Array),
      looPredicted: looRun ? await get(EVAL_TENSORS.looPredicted(strategy), Float64Array) : new Float64Array(0),
    });
  }
  return {
    info,
    subsetMask: await get(EVAL_TENSORS.subsetMask, Uint8Array),
    subsetMeasurements: await get(EVAL_TENSORS.subsetMeasurements, Float64Array),
    fullMeasurements: looRun ? await get(EVAL_TENSORS.fullMeasurements, Float64Array) : new Float64Array(0),
    strategies,
    loo: looRun
      ? {
          examples: await get(EVAL_TENSORS.looExamples, Int32Array),
          chosen: await get(EVAL_TENSORS.looChosen, Int32Array),
          actual: await get(EVAL_TENSORS.looActual, Float64Array),
        }
      : null,
  };
}

/**
 * A stored run's group token scores read through a tensor lookup (the store's, or an unstored bundle's in memory);
 * null when it has none (runs and bundles from before them) or they are incomplete.
 */
export async function storedGroupTokens(
  run: RunRecord,
  tensor: (name: string) => Promise<unknown>,
): Promise<GroupTokenTensors | null> {
  if (!run.tokenGroups) return null;
  const [values, offsets, queryGroups] = await Promise.all([
    tensor(SCORE_TENSORS.groupTokenInfluence),
    tensor(SCORE_TENSORS.groupTokenOffsets),
    tensor(SCORE_TENSORS.groupTokenQueries),
  ]);
  if (!(values instanceof Float64Array && offsets instanceof Int32Array && queryGroups instanceof Int32Array))
    return null;
  const total = offsets[offsets.length - 1]!;
  if (values.length !== run.tokenGroups.length * total) return null;
  return {
    names: run.tokenGroups,
    queryGroups,
    offsets,
    values: { shape: [run.tokenGroups.length, total], data: values },
  };
}

/** A stored run's pair token scores read through a tensor lookup; null when it has none. */
export async function storedPairTokens(tensor: (name: string) => Promise<unknown>): Promise<PairTokenTensors | null> {
  const [values, pairs, offsets] = await Promise.all([
    tensor(SCORE_TENSORS.pairTokenInfluence),
    tensor(SCORE_TENSORS.pairTokenPairs),
    tensor(SCORE_TENSORS.pairTokenOffsets),
  ]);
  if (!(values instanceof Float64Array && pairs instanceof Int32Array && offsets instanceof Int32Array)) return null;
  return { pairs, offsets, values: { shape: [values.length], data: values } };
}

/** A decoded bundle as the read-only run it would be stored as, and its tensors: nothing is written. */
export interface BundleRun {
  readonly run: RunRecord;
  readonly tensors: readonly NewTensor[];
}

/** Decode and check an .iwb bundle completely, as a read-only run record and its tensors (viewed or stored). */
export async function bundleRun(
  bytes: Uint8Array,
  options: { readonly name?: string; readonly maxBytes?: number } = {},
): Promise<BundleRun> {
  const bundle = await decodeBundle(bytes, options);
  const { manifest } = bundle;
  const run = newRunRecord(
    {
      name: options.name ?? `imported ${manifest.createdAt}`,
      config: manifest.config,
      strategy: manifest.strategy,
      backend: manifest.backend,
      layers: manifest.layers,
      measurement: manifest.scores?.measurement ?? null,
      rows: manifest.rows,
      source: {
        kind: 'bundle',
        name: options.name ?? manifest.model?.name ?? 'bundle',
        digest: await sha256Hex(bytes),
      },
      evaluation: manifest.evaluation,
      ...(manifest.scores?.tokenGroups && { tokenGroups: manifest.scores.tokenGroups }),
    },
    'imported',
  );
  return {
    run: { ...run, stage: manifest.stages.at(-1) ?? null },
    tensors: contentTensors(bundle.factors.layers, bundle.scores, bundle.evaluation),
  };
}

/** Store a bundle's run in one transaction (a failure leaves the store as it was). */
export async function storeBundleRun(store: WorkbenchStore, bundle: BundleRun): Promise<RunRecord> {
  await store.createRunWithTensors(bundle.run, bundle.tensors);
  return (await store.getRun(bundle.run.id))!;
}

/**
 * Import an .iwb bundle as a read-only run. The bundle is decoded and checked completely first; only then is the run
 * written, in one transaction — a bad bundle leaves the store exactly as it was.
 */
export async function importBundle(
  store: WorkbenchStore,
  bytes: Uint8Array,
  options: { readonly name?: string; readonly maxBytes?: number } = {},
): Promise<RunRecord> {
  return storeBundleRun(store, await bundleRun(bytes, options));
}
