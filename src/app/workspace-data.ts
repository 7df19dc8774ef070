/**
 * The worker's answers to the workspace's view requests (workspace-protocol.ts), computed from a stored run with the
 * engine's own aggregations (src/influence/aggregate.ts); this module adds only what they lack: sums and a seeded
 * bootstrap interval for the cross-domain table, per-segment and per-layer sums of one example, and top tokens.
 */
import {
  benchmarkOf,
  benchmarkScores,
  creditedTokenInfluence,
  crossDomainTable,
  segmentSummary,
  tokenCategorySummary,
} from '../influence/aggregate';
import { queryScales, scoreView, type Normalization, type ScoreView } from '../influence/normalize';
import { groupTokenResult } from '../influence/group-tokens';
import { TOKEN_CATEGORIES } from '../data/categories';
import {
  carriesAfterSegment,
  SEGMENT_RESAMPLES,
  SEGMENT_SEED,
  segmentEffects,
  segmentSums,
} from '../eval/segment-effects';
import type { InfluenceTarget } from './results';
import {
  bootstrapDraws,
  bootstrapInterval,
  BOOTSTRAP_RESAMPLES,
  columnKey,
  type BootstrapDraws,
} from './workspace-bootstrap';
import type { RunResult, RunResults } from './run-results';
import { GROUP_RESAMPLES, MemberSums, trainingDraws } from './group-intervals';
import type {
  AfterAnswerData,
  AnalysesData,
  CrossDomainEntry,
  ExampleDetail,
  GroupEntry,
  OverviewData,
  QueryScores,
  TopToken,
  WorkspaceIndex,
  WorkspaceSettings,
} from './workspace-types';

const TOP_TOKENS = 8;
const MIN_TOKEN_COUNT = 3;

const views = new WeakMap<RunResults, Map<Normalization, ScoreView>>();

function viewOf(stored: RunResults, normalization: Normalization): ScoreView {
  let cache = views.get(stored);
  if (!cache) views.set(stored, (cache = new Map()));
  let view = cache.get(normalization);
  if (!view) cache.set(normalization, (view = scoreView(stored.result, normalization)));
  return view;
}

function normalizationsOf(stored: RunResults): Normalization[] {
  const counted = stored.result.trainTokenCounts.length === stored.result.train.length;
  return counted ? ['none', 'self-influence', 'token-count'] : ['none', 'self-influence'];
}

function settingsOf(stored: RunResults, imported: string | null): WorkspaceSettings {
  const config = stored.config;
  const damping = config.damping as { kind?: string; factor?: number; value?: number } | undefined;
  const text = (value: unknown, fallback: string) => (typeof value === 'string' ? value : fallback);
  const page = config.page as { fingerprints?: { model?: { name?: string } | null } } | null | undefined;
  return {
    model: page?.fingerprints?.model?.name ?? null,
    layers: stored.layers.map((layer) => ({
      name: layer.name,
      weightName: layer.weightName ?? null,
      dIn: layer.dIn,
      dOut: layer.dOut,
      hasBias: layer.hasBias,
      damping: layer.damping ?? null,
    })),
    strategy:
      typeof stored.result.config.strategy === 'string' ? stored.result.config.strategy : stored.summary.strategy,
    damping:
      damping?.kind === 'absolute'
        ? `absolute ${damping.value}`
        : damping?.kind === 'heuristic'
          ? `heuristic ${damping.factor} · mean(Λ) per layer`
          : 'not recorded',
    fisher: text(config.fisher, 'not recorded'),
    measurement: text(stored.result.config.measurement, 'not recorded'),
    backend: stored.summary.backend.description,
    perToken: stored.result.tauPerToken !== null,
    queries: stored.result.queries.length,
    train: stored.result.train.length,
    timings: stored.summary.timings.map((t) => ({ stage: t.stage, seconds: t.seconds, items: t.items ?? null })),
    peakGpuBytes: stored.summary.peakGpuBytes,
    importedFrom: imported,
  };
}

export function workspaceIndex(runId: string, stored: RunResults, imported: string | null): WorkspaceIndex {
  const { result, rows } = stored;
  return {
    runId,
    name: stored.name,
    imported: imported !== null,
    settings: settingsOf(stored, imported),
    benchmarks: [...new Set(result.queries.map(benchmarkOf))],
    queries: result.queries.map((q, i) => ({
      id: q.id,
      benchmark: benchmarkOf(q),
      prompt: rows.query[i]?.prompt ?? rows.query[i]?.text ?? '',
      response: rows.query[i]?.response ?? '',
      tokens: rows.query[i]?.tokens ?? null,
      tokenLoss: rows.query[i]?.tokenLoss ?? null,
      measured: rows.query[i]?.measured ?? null,
      // The data's segments cover the response: the first one starts at the first response token.
      ...(q.segments?.length ? { responseStart: Math.min(...q.segments.map((s) => s.start)) } : {}),
    })),
    train: result.train.map((example, n) => ({
      id: example.id,
      domain: example.domain ?? 'unknown',
      difficulty: example.difficulty ?? 'unknown',
      segments: [...new Set((example.segments ?? []).map((s) => s.label))],
      tokenCount: result.trainTokenCounts.length === result.train.length ? result.trainTokenCounts[n]! : null,
      selfInfluence: result.selfTau[n] ?? 0,
      prompt: stored.trainTexts[n]?.prompt ?? '',
      response: stored.trainTexts[n]?.response ?? '',
    })),
    hasPerToken: result.tauPerToken !== null,
    hasPerLayer: result.tauPerLayer.length > 0,
    normalizations: normalizationsOf(stored),
    hasAfterSegments: result.train.some(carriesAfterSegment),
  };
}

const overviews = new WeakMap<RunResults, Map<Normalization, OverviewData>>();
const draws = new WeakMap<RunResults, BootstrapDraws>();

function seedOf(stored: RunResults): number {
  return typeof stored.result.config.seed === 'number' ? stored.result.config.seed : 0;
}

/** Computed once per run and normalisation (precomputeWorkspace computes them before a view asks). */
export function workspaceOverview(stored: RunResults, normalization: Normalization): OverviewData {
  let cache = overviews.get(stored);
  if (!cache) overviews.set(stored, (cache = new Map()));
  let data = cache.get(normalization);
  if (!data) cache.set(normalization, (data = computeOverview(stored, normalization)));
  return data;
}

function computeOverview(stored: RunResults, normalization: Normalization): OverviewData {
  const { result } = stored;
  const view = viewOf(stored, normalization);
  const rows = benchmarkScores(view, result.queries);
  const seed = seedOf(stored);
  let picked = draws.get(stored);
  if (!picked) draws.set(stored, (picked = bootstrapDraws(result.train, seed)));
  const cells = crossDomainTable(view, result.queries, result.train).map((cell): CrossDomainEntry => ({
    ...cell,
    sum: cell.mean * cell.trainCount,
    ...bootstrapInterval(rows.get(cell.benchmark)!.scores, picked.get(columnKey(cell.domain, cell.difficulty))!),
  }));
  return {
    label: view.label,
    cells,
    bootstrap: { resamples: BOOTSTRAP_RESAMPLES, seed },
    benchmarkScores: [...rows].map(([benchmark, { scores }]) => ({ benchmark, scores })),
  };
}

function queryIndex(stored: RunResults, id: string): number {
  const q = stored.result.queries.findIndex((query) => query.id === id);
  if (q < 0) throw new Error(`no query has id "${id}"`);
  return q;
}

export function workspaceQueryScores(stored: RunResults, queryId: string): QueryScores {
  const q = queryIndex(stored, queryId);
  const n = stored.result.train.length;
  return {
    query: queryId,
    views: normalizationsOf(stored).map((normalization) => {
      const view = viewOf(stored, normalization);
      return { normalization, label: view.label, scores: view.values.slice(q * n, (q + 1) * n) };
    }),
  };
}

/** Whether the run has token scores for every benchmark: per-token scores, or one group token row per benchmark. */
export function hasTokenScores(result: RunResult): boolean {
  if (result.tauPerToken) return true;
  const groups = result.groupTokens?.groups.map((g) => g.name);
  return groups !== undefined && [...new Set(result.queries.map(benchmarkOf))].every((b) => groups.includes(b));
}

const NO_TOKEN_SCORES =
  'this run has no token scores (neither per-token nor group token scores: it was computed before they were ' +
  'kept, or with them turned off); run it again to see';

function targetQueries(stored: RunResults, target: InfluenceTarget): number[] {
  if ('query' in target) return [queryIndex(stored, target.query)];
  const queries = stored.result.queries.flatMap((query, q) => (benchmarkOf(query) === target.benchmark ? [q] : []));
  if (queries.length === 0) throw new Error(`no query belongs to benchmark "${target.benchmark}"`);
  return queries;
}

export function workspaceExample(stored: RunResults, trainId: string, target: InfluenceTarget): ExampleDetail {
  const { result, rows } = stored;
  const n = result.train.findIndex((example) => example.id === trainId);
  if (n < 0) throw new Error(`no training example has id "${trainId}"`);
  const queries = targetQueries(stored, target);
  const train = result.train.length;
  const pairs = result.queries.length * train;
  const influence = queries.reduce((sum, q) => sum + result.influence[q * train + n]!, 0) / queries.length;
  const scales = queryScales(result);
  const { values: tokenValues, source: tokenSource } = exampleTokens(stored, target, queries, n);
  const spans = result.train[n]!.segments ?? [];
  // The data's segments cover the response; what precedes the first one is the prompt (and bos).
  const first = Math.min(...spans.map((s) => s.start));
  const withPrompt = spans.length > 0 && first > 0 ? [{ label: 'prompt', start: 0, end: first }, ...spans] : spans;
  const segments = withPrompt.map(({ label, start, end }) => {
    let sum = 0;
    if (tokenValues) for (let t = start; t < Math.min(end, tokenValues.length); t++) sum += tokenValues[t]!;
    return { label, start, end, sum };
  });
  const layers =
    result.tauPerLayer.length === 0
      ? []
      : result.layers.map((layer, l) => ({
          name: layer.name,
          value:
            queries.reduce((sum, q) => sum + scales[q]! * result.tauPerLayer[l * pairs + q * train + n]!, 0) /
            queries.length,
        }));
  const storedTokens = rows.train[n]?.tokens ?? [];
  // Without token scores for this target the text is still shown, one cell per position.
  const length = tokenValues?.length ?? (storedTokens.length || (result.trainTokenCounts[n] ?? 0));
  return {
    trainId,
    target,
    influence,
    selfInfluence: result.selfTau[n] ?? 0,
    // A run without token texts still gets one cell per scored position.
    tokens:
      storedTokens.length === length ? storedTokens : Array.from({ length }, (_, t) => storedTokens[t] ?? `#${t}`),
    tokenValues,
    tokenSource,
    segments,
    layers,
  };
}

/**
 * A (query, example) pair's stored token scores (result.pairTokens: each query's top pairs, computed at run time),
 * credited to the predicted token as creditedTokenInfluence does; null when the run did not keep this pair.
 */
function storedPair(result: RunResult, q: number, n: number): Float64Array | null {
  const table = result.pairTokens;
  if (!table) return null;
  const p = table.queries.findIndex((query, i) => query === q && table.train[i] === n);
  if (p < 0) return null;
  const positions = table.values.subarray(table.offsets[p]!, table.offsets[p + 1]!);
  const credited = new Float64Array(positions.length);
  for (let t = 0; t + 1 < positions.length; t++) credited[t + 1] = positions[t]!;
  return credited;
}

/** An example's credited token influence on a target, from per-token scores, else its benchmark's group row. */
function exampleTokens(
  stored: RunResults,
  target: InfluenceTarget,
  queries: readonly number[],
  n: number,
): { values: Float64Array | null; source: ExampleDetail['tokenSource'] } {
  const { result } = stored;
  if (result.tauPerToken)
    return { values: creditedTokenInfluence(result, queries, n, 'next-token'), source: 'per-token' };
  const pair = 'query' in target ? storedPair(result, queries[0]!, n) : null;
  if (pair) return { values: pair, source: 'pair' };
  if ('benchmark' in target && hasTokenScores(result)) {
    return {
      values: creditedTokenInfluence(benchmarkResult(stored, target.benchmark), [0], n, 'next-token'),
      source: 'group',
    };
  }
  return { values: null, source: null };
}

/** Per domain, tokens (by text) ranked by their mean credited influence over every occurrence. */
function topTokens(stored: RunResults, queries: readonly number[]) {
  const byDomain = new Map<string, Map<string, { sum: number; count: number }>>();
  stored.result.train.forEach((example, n) => {
    const tokens = stored.rows.train[n]?.tokens;
    if (!tokens) return;
    const values = creditedTokenInfluence(stored.result, queries, n, 'next-token');
    const domain = example.domain ?? 'unknown';
    let table = byDomain.get(domain);
    if (!table) byDomain.set(domain, (table = new Map()));
    for (let t = 0; t < Math.min(values.length, tokens.length); t++) {
      const entry = table.get(tokens[t]!) ?? { sum: 0, count: 0 };
      entry.sum += values[t]!;
      entry.count++;
      table.set(tokens[t]!, entry);
    }
  });
  return [...byDomain]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([domain, table]) => {
      const ranked: TopToken[] = [...table]
        .filter(([, entry]) => entry.count >= MIN_TOKEN_COUNT)
        .map(([token, entry]) => ({ token, mean: entry.sum / entry.count, count: entry.count }));
      ranked.sort((a, b) => b.mean - a.mean || a.token.localeCompare(b.token));
      return {
        domain,
        helpful: ranked.filter((t) => t.mean > 0).slice(0, TOP_TOKENS),
        harmful: ranked
          .filter((t) => t.mean < 0)
          .reverse()
          .slice(0, TOP_TOKENS),
      };
    });
}

/**
 * The run reduced to one "query", the benchmark: its per-token row is the benchmark's mean of s_q · τ(q, n, t), summed
 * in the order tokenInfluence sums it (so every aggregate below equals the one over the benchmark's queries bit for
 * bit), with a unit scale ('summed-loss', one target token). The aggregations then read one row instead of hundreds.
 */
function benchmarkResult(stored: RunResults, benchmark: string): RunResult {
  const { result } = stored;
  const tokens = result.tauPerToken;
  if (!tokens) return groupResult(result, benchmark);
  const total = tokens.offsets[tokens.offsets.length - 1]!;
  const scales = queryScales(result);
  const row = new Float64Array(total);
  const queries = targetQueries(stored, { benchmark });
  for (const q of queries) {
    const source = tokens.values.subarray(q * total, (q + 1) * total);
    for (let t = 0; t < total; t++) row[t]! += (scales[q]! * source[t]!) / queries.length;
  }
  return {
    ...result,
    config: { ...result.config, measurement: 'summed-loss' },
    queries: [{ id: benchmark, benchmark }],
    queryTargetCounts: new Float64Array(1).fill(1),
    tauPerToken: { offsets: tokens.offsets, values: row },
  };
}

/**
 * The same reduction from the run's group token scores (src/influence/group-tokens.ts): the benchmark's row is, by
 * linearity, the mean over its queries of s_q · τ(q, n, t), computed by the engine from one summed query gradient.
 */
function groupResult(result: RunResult, benchmark: string): RunResult {
  if (!result.groupTokens?.groups.some((group) => group.name === benchmark)) throw new Error(NO_TOKEN_SCORES);
  return groupTokenResult(result, benchmark);
}

type BenchmarkAnalyses = AnalysesData['benchmarks'][number];

const groupDraws = new WeakMap<RunResults, Int32Array>();

/** Each segment label's and token category's bootstrap interval of its mean, on a benchmark's reduced row. */
function withIntervals(
  stored: RunResults,
  reduced: RunResult,
  segments: readonly GroupEntry[],
  categories: readonly GroupEntry[],
): { segments: GroupEntry[]; categories: GroupEntry[] } {
  const train = reduced.train.length;
  const bySegment = new MemberSums(train);
  const byCategory = new MemberSums(train);
  reduced.train.forEach((example, n) => {
    if (!example.segments?.length && !example.tokenCategories) return;
    const tokens = creditedTokenInfluence(reduced, [0], n, 'next-token');
    for (const segment of example.segments ?? []) {
      let sum = 0;
      for (let t = segment.start; t < segment.end; t++) sum += tokens[t]!;
      bySegment.add(segment.label, n, sum);
    }
    const categoryOf = example.tokenCategories;
    if (categoryOf)
      for (let t = 0; t < tokens.length; t++) byCategory.add(TOKEN_CATEGORIES[categoryOf[t]!]!, n, tokens[t]!);
  });
  let draws = groupDraws.get(stored);
  if (!draws) groupDraws.set(stored, (draws = trainingDraws(train, seedOf(stored))));
  const attach = (entries: readonly GroupEntry[], sums: MemberSums) => {
    const intervals = sums.intervals(draws);
    return entries.map((entry) => ({ ...entry, ...intervals.get(entry.label) }));
  };
  return { segments: attach(segments, bySegment), categories: attach(categories, byCategory) };
}

const analysesCache = new WeakMap<RunResults, Map<string, BenchmarkAnalyses>>();

function benchmarkAnalyses(stored: RunResults, benchmark: string): BenchmarkAnalyses {
  let cache = analysesCache.get(stored);
  if (!cache) analysesCache.set(stored, (cache = new Map()));
  let entry = cache.get(benchmark);
  if (!entry) {
    const reduced = benchmarkResult(stored, benchmark);
    entry = {
      benchmark,
      ...withIntervals(
        stored,
        reduced,
        segmentSummary(reduced, [0]),
        tokenCategorySummary(reduced, [0], TOKEN_CATEGORIES),
      ),
      topTokens: topTokens({ ...stored, result: reduced }, [0]),
    };
    cache.set(benchmark, entry);
  }
  return entry;
}

function benchmarksOf(stored: RunResults): string[] {
  return [...new Set(stored.result.queries.map(benchmarkOf))];
}

export function workspaceAnalyses(stored: RunResults): AnalysesData {
  if (!hasTokenScores(stored.result)) throw new Error(`${NO_TOKEN_SCORES} these analyses`);
  return {
    benchmarks: benchmarksOf(stored).map((benchmark) => benchmarkAnalyses(stored, benchmark)),
    minTokenCount: MIN_TOKEN_COUNT,
    bootstrap: { resamples: GROUP_RESAMPLES, seed: seedOf(stored) },
    source: stored.result.tauPerToken ? 'per-token' : 'group',
  };
}

const afterAnswers = new WeakMap<RunResults, AfterAnswerData>();

/**
 * The after-answer comparison, with the experiment's statistics (src/eval/segment-effects.ts) on each benchmark's
 * reduced row (benchmarkResult: the same sums as over its queries), computed once per run.
 */
export function workspaceAfterAnswer(stored: RunResults): AfterAnswerData {
  const cached = afterAnswers.get(stored);
  if (cached) return cached;
  const { result } = stored;
  if (!hasTokenScores(result)) throw new Error(`${NO_TOKEN_SCORES} the segment comparison`);
  const carriers = new Set(result.train.filter(carriesAfterSegment).map((e) => e.id));
  if (carriers.size === 0) {
    throw new Error(
      'no training example of this run ends with an after-answer segment (after_answer for math, after_code for ' +
        'code): run the after-answer demo variant (?demo=after) or data with such segments',
    );
  }
  const effects = benchmarksOf(stored).flatMap((benchmark) =>
    segmentEffects(
      segmentSums(benchmarkResult(stored, benchmark), (id) => carriers.has(id)),
      SEGMENT_SEED,
    ),
  );
  const domains = [...new Set(result.train.map((e) => e.domain ?? 'unknown'))];
  const data: AfterAnswerData = {
    effects,
    examples: domains.map((domain) => {
      const ofDomain = result.train.filter((e) => (e.domain ?? 'unknown') === domain);
      const withIt = ofDomain.filter((e) => carriers.has(e.id)).length;
      return { domain, with: withIt, without: ofDomain.length - withIt };
    }),
    bootstrap: { resamples: SEGMENT_RESAMPLES, seed: SEGMENT_SEED },
  };
  afterAnswers.set(stored, data);
  return data;
}

/**
 * What the views ask for that takes longer than a frame (the overview under each normalisation with its bootstrap,
 * the analyses per benchmark), computed right after a run is opened, one piece at a time with `pause()` between
 * pieces so a view's request that arrives meanwhile is answered after the piece in progress, not after all of them.
 */
export async function precomputeWorkspace(stored: RunResults, pause: () => Promise<void>): Promise<void> {
  for (const normalization of normalizationsOf(stored)) {
    workspaceOverview(stored, normalization);
    await pause();
  }
  if (!hasTokenScores(stored.result)) return;
  for (const benchmark of benchmarksOf(stored)) {
    benchmarkAnalyses(stored, benchmark);
    await pause();
  }
  if (stored.result.train.some(carriesAfterSegment)) workspaceAfterAnswer(stored);
}
