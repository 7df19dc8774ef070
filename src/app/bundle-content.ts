/**
 * The one mapping from a finished run to what is stored and shared: an .iwb bundle's content (src/store/bundle.ts).
 * The CLI's --out encodes it with encodeRunBundle; the page stores the same content (store/runs.ts saveRunContent)
 * and exports it back through encodeRunBundle, so both write the same tensors.
 */
import type { EvaluationResult } from '../eval/types';
import {
  encodeBundle,
  fingerprintOf,
  type BundleContent,
  type BundleEvaluation,
  type Fingerprint,
} from '../store/bundle';
import type { DatasetRow, GroupTokenTensors, PairTokenTensors } from '../core/schema';
import type { AttributionResult, GroupTokenInfluence } from '../influence/types';
import type { InputSample } from './inputs';
import type { JobOutcome } from './job';
import type { ExampleText } from './results';

export interface BundleSources {
  /** The graph, with the external data files it was read with (their fingerprints go beside the graph's). */
  readonly model: {
    readonly name: string;
    readonly bytes: Uint8Array;
    readonly data?: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  } | null;
  readonly train: { readonly name: string; readonly bytes: Uint8Array } | null;
  readonly queries: { readonly name: string; readonly bytes: Uint8Array } | null;
  /** Leave the dataset rows out of the bundle. */
  readonly withoutRows?: boolean;
}

/** What a run's config records beside the RunConfig: which backend kind computed it, and its peak GPU memory. */
export interface StoredConfigExtras {
  readonly backendKind: 'cpu' | 'webgpu' | null;
  /** Bytes (null on the CPU backend); the workspace's overview shows it, also for bundles. */
  readonly peakGpuBytes: number | null;
  /** How the examples were sampled (seed, N, strata counts) when they were; absent for first rows. */
  readonly sample?: InputSample | null;
}

/** What of a finished job the bundle keeps. */
export type BundledOutcome = Pick<JobOutcome, 'result' | 'config' | 'backend' | 'trainTexts' | 'queryTexts'> &
  Partial<Pick<JobOutcome, 'peakGpuBytes' | 'sample'>>;

export async function bundleContent(outcome: BundledOutcome, sources: BundleSources): Promise<BundleContent> {
  const { result } = outcome;
  const fingerprint = async (file: { name: string; bytes: Uint8Array } | null): Promise<Fingerprint | null> =>
    file ? fingerprintOf(file.name, file.bytes) : null;
  const q = result.queries.length;
  const n = result.train.length;
  const row = (meta: JobOutcome['result']['train'][number], text: ExampleText | undefined): DatasetRow => ({
    id: meta.id,
    ...(text ? { prompt: text.prompt, response: text.response } : {}),
    ...(text?.tokens ? { tokens: text.tokens } : {}),
    ...(text?.tokenCategories ? { tokenCategories: text.tokenCategories } : {}),
    ...(text?.segments ? { segments: text.segments } : {}),
    ...(text?.tokenLoss ? { tokenLoss: text.tokenLoss } : {}),
    ...(text?.measured ? { measured: text.measured } : {}),
    ...(meta.domain !== undefined ? { domain: meta.domain } : {}),
    ...(meta.difficulty !== undefined ? { difficulty: meta.difficulty } : {}),
    ...(meta.benchmark !== undefined ? { benchmark: meta.benchmark } : {}),
  });
  const extras: StoredConfigExtras = {
    backendKind: outcome.backend.kind,
    peakGpuBytes: outcome.peakGpuBytes ?? null,
    ...(outcome.sample ? { sample: outcome.sample } : {}),
  };
  const perToken = result.tauPerToken;
  const groupTokens = result.groupTokens;
  return {
    model: await fingerprint(sources.model),
    modelData: await Promise.all((sources.model?.data ?? []).map((f) => fingerprintOf(f.name, f.bytes))),
    datasets: { train: await fingerprint(sources.train), query: await fingerprint(sources.queries) },
    strategy: result.config.strategy,
    config: JSON.parse(JSON.stringify({ ...outcome.config, ...extras })) as Record<string, unknown>,
    backend: result.backend,
    layers: result.factors.layers.map((factors, l) => {
      const layer = result.layers[l]!;
      return {
        ...factors,
        ...(layer.weightName !== undefined ? { weightName: layer.weightName } : {}),
        dIn: layer.dIn,
        dOut: layer.dOut,
        hasBias: layer.hasBias,
        damping: layer.damping,
      };
    }),
    scores: {
      measurement: result.config.measurement,
      tau: { shape: [q, n], data: result.tau },
      influence: { shape: [q, n], data: result.influence },
      tauPerLayer: { shape: [result.layers.length, q, n], data: result.tauPerLayer },
      selfTau: { shape: [n], data: result.selfTau },
      queryTargetCounts: { shape: [q], data: result.queryTargetCounts },
      ...(perToken
        ? {
            tauPerToken: {
              offsets: perToken.offsets,
              values: { shape: [q, perToken.offsets[n]!], data: perToken.values },
            },
          }
        : {}),
      ...(groupTokens && groupTokens.groups.length > 0 ? { groupTokens: groupTokenTensors(groupTokens, q) } : {}),
      ...(result.pairTokens && result.pairTokens.queries.length > 0
        ? { pairTokens: pairTokenTensors(result.pairTokens) }
        : {}),
    },
    rows: sources.withoutRows
      ? null
      : {
          train: result.train.map((meta, i) => row(meta, outcome.trainTexts[i])),
          query: result.queries.map((meta, i) => row(meta, outcome.queryTexts[i])),
        },
  };
}

/** The engine's group token scores as the bundle's tensors (each query's group index, -1 for none). */
export function groupTokenTensors(groups: GroupTokenInfluence, queries: number): GroupTokenTensors {
  const queryGroups = new Int32Array(queries).fill(-1);
  groups.groups.forEach((group, g) => group.queries.forEach((q) => (queryGroups[q] = g)));
  const total = groups.offsets[groups.offsets.length - 1]!;
  return {
    names: groups.groups.map((group) => group.name),
    queryGroups,
    offsets: groups.offsets,
    values: { shape: [groups.groups.length, total], data: groups.values },
  };
}

/** The engine's pair token table as the bundle's tensors: pairs [P, 2] interleaved (query, training index). */
export function pairTokenTensors(table: NonNullable<AttributionResult['pairTokens']>): PairTokenTensors {
  const pairs = new Int32Array(2 * table.queries.length);
  table.queries.forEach((q, p) => {
    pairs[2 * p] = q;
    pairs[2 * p + 1] = table.train[p]!;
  });
  return { pairs, offsets: table.offsets, values: { shape: [table.values.length], data: table.values } };
}

/** The inverse of pairTokenTensors. */
export function pairTokensOf(tensors: PairTokenTensors): NonNullable<AttributionResult['pairTokens']> {
  const count = tensors.pairs.length / 2;
  return {
    queries: Int32Array.from({ length: count }, (_, p) => tensors.pairs[2 * p]!),
    train: Int32Array.from({ length: count }, (_, p) => tensors.pairs[2 * p + 1]!),
    offsets: tensors.offsets,
    values: tensors.values.data,
  };
}

/** The inverse of groupTokenTensors: the bundle's (or stored run's) tensors as the engine's group token scores. */
export function groupTokensOf(tensors: GroupTokenTensors): GroupTokenInfluence {
  return {
    groups: tensors.names.map((name, g) => ({
      name,
      queries: Array.from(tensors.queryGroups.keys()).filter((q) => tensors.queryGroups[q] === g),
    })),
    offsets: tensors.offsets,
    values: tensors.values.data,
  };
}

const orNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

/**
 * An evaluation (src/eval) as the bundle's `eval.*` tensors and manifest section. An undefined per-query LDS (NaN: the
 * query's measurement or prediction never varied) is stored as 0 with its `ranked` flag 0, since bundles hold no NaN.
 */
export function evaluationContent(
  result: EvaluationResult,
  training: Readonly<Record<string, unknown>> | null,
): BundleEvaluation {
  const { config, loo } = result;
  const looOf = (strategy: string) => loo?.byStrategy.find((s) => s.strategy === strategy);
  return {
    info: {
      config: { ...config, looStrategy: config.looPerQuery > 0 ? config.looStrategy : null },
      measurement: result.measurement,
      training: training === null ? null : (JSON.parse(JSON.stringify(training)) as Record<string, unknown>),
      strategies: result.strategies.map((s) => ({
        strategy: s.strategy,
        mean: orNull(s.lds.mean),
        low: orNull(s.lds.low),
        high: orNull(s.lds.high),
        queries: s.lds.count,
        looPearson: loo ? orNull(looOf(s.strategy)!.pearson) : null,
        looSpearman: loo ? orNull(looOf(s.strategy)!.spearman) : null,
      })),
      looExamples: loo?.examples.length ?? 0,
    },
    subsetMask: result.subsetMask,
    subsetMeasurements: result.subsetMeasurements,
    fullMeasurements: result.fullMeasurements,
    strategies: result.strategies.map((s) => ({
      strategy: s.strategy,
      perQuery: s.perQuery.map((v) => (Number.isFinite(v) ? v : 0)),
      ranked: Uint8Array.from(s.perQuery, (v) => (Number.isFinite(v) ? 1 : 0)),
      predictions: s.predictions,
      looPredicted: looOf(s.strategy)?.predicted ?? new Float64Array(0),
    })),
    loo: loo && { examples: loo.examples, chosen: loo.chosen, actual: loo.actual },
  };
}

/**
 * The one bundle writer of the page's export and the CLI's --out. Scores in float64: a bundle opens to exactly the
 * ranking the run showed (and page and CLI bundles of the same run hold the same bytes).
 */
export function encodeRunBundle(content: BundleContent, generator: string): Promise<Uint8Array<ArrayBuffer>> {
  return encodeBundle(content, { scoreDtype: 'F64', generator });
}
