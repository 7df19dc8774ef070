/**
 * The one read model of a run's results (issue 22 §1). Every result the page or the CLI shows is read through a
 * `RunResults`, built from bundle content — a stored run's record and tensors (IndexedDB), a decoded .iwb bundle
 * (imported, linked by `?bundle=`, or opened by `iwb inspect`), and a page run once it is finished and stored — so a
 * run reads the same however it arrived. Nothing here fakes the engine's `AttributionResult`: `RunResult` is the
 * narrow scored view the aggregations take (src/influence/normalize.ts `TokenScoredResult`) plus what the workspace
 * reads beside it. There is one ranking path, `rankResults`.
 */
import { benchmarkOf } from '../influence/aggregate';
import type { TokenScoredResult } from '../influence/normalize';
import type { AttributionResult, ExampleMeta, Measurement } from '../influence/types';
import { SCORE_TENSORS } from '../store/bundle';
import type { RunRecord, StoredArray } from '../store/records';
import { bundleRun, storedGroupTokens, storedPairTokens, type BundleRun } from '../store/runs';
import type { DatasetRow } from '../core/schema';
import type { BackendReport } from './backend-choice';
import { groupTokensOf, pairTokensOf, type StoredConfigExtras } from './bundle-content';
import type { RunConfig } from './config';
import type { StageTiming } from './job';
import {
  topInfluences,
  type ExampleText,
  type InfluenceTarget,
  type Normalization,
  type TopInfluences,
} from './results';

export interface QueryInfo {
  readonly id: string;
  /** The benchmark (domain) the query belongs to. */
  readonly benchmark: string;
  readonly prompt: string;
}

/** What the page shows above a run's results: how it ran and what it scored (structured-clone safe). */
export interface AttributionSummary {
  /** The stored run that keeps these results (the workspace opens it by this id); absent for a stored run's view. */
  readonly runId?: string;
  readonly backend: BackendReport;
  readonly strategy: RunConfig['strategy'];
  readonly trainCount: number;
  readonly queries: readonly QueryInfo[];
  readonly benchmarks: readonly string[];
  /** What the demo left out, in words ("first 48 of 7473 training examples …"); null for user files without limits. */
  readonly subsample: string | null;
  readonly timings: readonly StageTiming[];
  /** Peak bytes of GPU buffers the engine held at once; null on the CPU backend. */
  readonly peakGpuBytes: number | null;
}

/**
 * What a run keeps of the engine's result, as the views and rankings read it: the scores, per layer and per token,
 * the queries' target counts; the configuration as it was stored (JSON), with the measurement it was checked to
 * name; the layers' names. Not kept: τ itself, factors, eigenvalue ranges, the engine's timings.
 */
export type RunResult = TokenScoredResult &
  Pick<AttributionResult, 'tauPerLayer' | 'groupTokens' | 'pairTokens'> & {
    /** The stored configuration (JSON): what the views read of it, checked where they read it. */
    readonly config: { readonly measurement: Measurement; readonly strategy?: unknown; readonly seed?: unknown };
    readonly layers: readonly { readonly name: string }[];
  };

/** A run's results as every view reads them. */
export interface RunResults {
  readonly summary: AttributionSummary;
  /** The scores and what the workspace aggregates beside them (per layer, per token, query target counts). */
  readonly result: RunResult;
  readonly trainTexts: readonly ExampleText[];
  /** What the workspace shows beside the scores: the rows (text, tokens, segments), layers and configuration. */
  readonly rows: NonNullable<RunRecord['rows']>;
  readonly layers: RunRecord['layers'];
  readonly config: RunRecord['config'];
  readonly name: string;
}

/** Reads one of a run's tensors by its bundle name (`scores.*`); undefined when the run has none of that name. */
export type TensorReader = (name: string) => Promise<StoredArray | undefined>;

/** A decoded bundle opened read-only (nothing stored): its run record, its tensors and its results. */
export type OpenedBundle = BundleRun & { readonly results: RunResults };

/** Decode and check an .iwb bundle completely and read its results (a ?bundle= link, an import, `iwb inspect`). */
export async function openBundle(bytes: Uint8Array, name: string): Promise<OpenedBundle> {
  const opened = await bundleRun(bytes, { name });
  return { ...opened, results: await runResults(opened.run, tensorsReader(opened)) };
}

/** A bundle run's tensors in memory as a TensorReader. */
export function tensorsReader(bundle: BundleRun): TensorReader {
  const tensors = new Map(bundle.tensors.map((tensor) => [tensor.name, tensor.array]));
  return async (name) => tensors.get(name);
}

/** A complete or imported run's record and tensors as its results. */
export async function runResults(run: RunRecord, tensor: TensorReader): Promise<RunResults> {
  if (run.status !== 'complete' && run.status !== 'imported')
    throw new Error(`run "${run.name}" is ${run.status}: it has no results yet`);
  const influence = await tensor(SCORE_TENSORS.influence);
  const selfTau = await tensor(SCORE_TENSORS.selfTau);
  if (!run.rows) throw new Error(`run "${run.name}" keeps no dataset rows, so its results cannot be shown`);
  const train: ExampleMeta[] = run.rows.train.map(metaOf);
  const queries: ExampleMeta[] = run.rows.query.map(metaOf);
  const pairs = train.length * queries.length;
  if (!(influence instanceof Float64Array) || influence.length !== pairs)
    throw new Error(`run "${run.name}" has no influence scores for ${queries.length} × ${train.length} pairs`);
  const offsets = await tensor(SCORE_TENSORS.tauPerTokenOffsets);
  const perLayer = await tensor(SCORE_TENSORS.tauPerLayer);
  const targetCounts = await tensor(SCORE_TENSORS.queryTargetCounts);
  const perTokenValues = await tensor(SCORE_TENSORS.tauPerToken);
  const groupTokens = await storedGroupTokens(run, tensor);
  const pairTokens = await storedPairTokens(tensor);
  const measurement = run.config.measurement ?? run.measurement;
  if (measurement !== 'mean-log-likelihood' && measurement !== 'summed-loss') {
    throw new Error(
      `run "${run.name}" does not say what its scores measure (measurement ${JSON.stringify(measurement)})`,
    );
  }
  const result: RunResult = {
    config: { ...run.config, measurement },
    layers: run.layers.map((layer) => ({ name: layer.name })),
    queries,
    train,
    influence,
    tauPerLayer:
      perLayer instanceof Float64Array && perLayer.length === run.layers.length * pairs
        ? perLayer
        : new Float64Array(0),
    selfTau: selfTau instanceof Float64Array ? selfTau : new Float64Array(train.length),
    trainTokenCounts: tokenCountsOf(
      offsets instanceof Int32Array ? offsets : (groupTokens?.offsets ?? null),
      run.rows.train,
    ),
    queryTargetCounts:
      targetCounts instanceof Float64Array && targetCounts.length === queries.length
        ? targetCounts
        : new Float64Array(queries.length),
    tauPerToken:
      offsets instanceof Int32Array && perTokenValues instanceof Float64Array
        ? { offsets, values: perTokenValues }
        : null,
    groupTokens: groupTokens ? groupTokensOf(groupTokens) : null,
    pairTokens: pairTokens ? pairTokensOf(pairTokens) : null,
  };
  const extras = run.config as Partial<StoredConfigExtras>;
  const summary: AttributionSummary = {
    backend: {
      kind: extras.backendKind ?? null,
      description: run.backend ?? 'unknown backend',
      reason: run.source ? `imported from ${run.source.name}` : 'stored run',
    },
    strategy: run.strategy,
    trainCount: train.length,
    queries: queries.map((q, i) => ({
      id: q.id,
      benchmark: benchmarkOf(q),
      prompt: run.rows!.query[i]?.prompt ?? run.rows!.query[i]?.text ?? '',
    })),
    benchmarks: [...new Set(queries.map(benchmarkOf))],
    subsample: null,
    timings: run.timings.map((t) => ({ stage: t.stage, seconds: t.seconds })),
    peakGpuBytes: extras.peakGpuBytes ?? null,
  };
  const trainTexts = run.rows.train.map((row) => ({
    prompt: row.prompt ?? row.text ?? '',
    response: row.response ?? '',
  }));
  return { summary, result, trainTexts, rows: run.rows, layers: run.layers, config: run.config, name: run.name };
}

/**
 * The one ranking path: a query's or a benchmark's top helpful and harmful training examples. 'token-count' needs
 * each training example's token count, which a run keeps only with per-token scores or its rows' tokens.
 */
export function rankResults(
  results: RunResults,
  target: InfluenceTarget,
  k: number,
  normalization: Normalization,
): TopInfluences {
  if (normalization === 'token-count' && results.result.trainTokenCounts.length !== results.result.train.length) {
    throw new Error(
      'this run keeps no token counts (only runs with per-token scores or tokenized rows do): choose another normalisation',
    );
  }
  return topInfluences(results.result, results.trainTexts, target, k, normalization);
}

function metaOf(row: DatasetRow): ExampleMeta {
  return {
    id: row.id,
    ...(row.segments !== undefined && { segments: row.segments }),
    ...(row.tokenCategories !== undefined && { tokenCategories: row.tokenCategories }),
    ...(row.domain !== undefined && { domain: row.domain }),
    ...(row.difficulty !== undefined && { difficulty: row.difficulty }),
    ...(row.benchmark !== undefined && { benchmark: row.benchmark }),
  };
}

/**
 * T_n, each training example's token count (the engine's `trainTokenCounts`, its sequence length): from per-token
 * (or group token) offsets when the run kept them, else from its rows' tokens (one per position fed to the model,
 * app/token-rows.ts); empty when neither is there, and 'token-count' is refused (rankResults).
 */
function tokenCountsOf(offsets: Int32Array | null, rows: readonly DatasetRow[]): Int32Array {
  const train = rows.length;
  if (offsets && offsets.length === train + 1)
    return Int32Array.from({ length: train }, (_, n) => offsets[n + 1]! - offsets[n]!);
  if (train > 0 && rows.every((row) => row.tokens !== undefined && row.tokens.length > 0))
    return Int32Array.from(rows, (row) => row.tokens!.length);
  return new Int32Array(0);
}
