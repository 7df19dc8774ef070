/**
 * The aggregations the paper's analyses need, on a ScoreView (normalize.ts) or on per-token scores:
 *  - example level: top helpful / harmful training examples per query and per benchmark (a benchmark's influence is
 *    the mean over its queries);
 *  - cross-domain: mean influence by (query benchmark) × (training domain) × (difficulty bucket), with counts;
 *  - sequence level: per-token influence summed within the training examples' response segments;
 *  - token level: per-token influence summed and averaged by token category.
 * A query's benchmark is its meta.benchmark, else its domain, else 'all'; a training example's missing domain or
 * difficulty is 'unknown'.
 */
import { compareLabels } from '../data/difficulty';
import { queryScales, type ScoreView, type TokenScoredResult } from './normalize';
import type { ExampleMeta } from './types';

export interface RankedExample {
  readonly index: number;
  readonly id: string;
  readonly score: number;
}

export interface TopExamples {
  readonly helpful: readonly RankedExample[];
  readonly harmful: readonly RankedExample[];
}

export function benchmarkOf(query: ExampleMeta): string {
  return query.benchmark ?? query.domain ?? 'all';
}

/** The k largest (helpful) and k smallest (harmful, most negative first) of one score row; ties keep index order. */
export function topExamples(scores: ArrayLike<number>, train: readonly ExampleMeta[], k: number): TopExamples {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  const rank = (i: number): RankedExample => ({ index: i, id: train[i].id, score: scores[i] });
  const helpful = [...order]
    .sort((a, b) => scores[b] - scores[a] || a - b)
    .slice(0, k)
    .filter((i) => scores[i] > 0);
  const harmful = [...order]
    .sort((a, b) => scores[a] - scores[b] || a - b)
    .slice(0, k)
    .filter((i) => scores[i] < 0);
  return { helpful: helpful.map(rank), harmful: harmful.map(rank) };
}

export function topExamplesForQuery(
  view: ScoreView,
  train: readonly ExampleMeta[],
  query: number,
  k: number,
): TopExamples {
  return topExamples(view.values.subarray(query * view.train, (query + 1) * view.train), train, k);
}

/** Per benchmark: the mean score row over its queries [N], and the query indices. */
export function benchmarkScores(
  view: ScoreView,
  queries: readonly ExampleMeta[],
): Map<string, { queries: number[]; scores: Float64Array }> {
  const out = new Map<string, { queries: number[]; scores: Float64Array }>();
  queries.forEach((query, q) => {
    const name = benchmarkOf(query);
    let entry = out.get(name);
    if (!entry) out.set(name, (entry = { queries: [], scores: new Float64Array(view.train) }));
    entry.queries.push(q);
    for (let n = 0; n < view.train; n++) entry.scores[n] += view.values[q * view.train + n];
  });
  for (const entry of out.values()) entry.scores.forEach((v, n) => (entry.scores[n] = v / entry.queries.length));
  return out;
}

export interface CrossDomainCell {
  readonly benchmark: string;
  readonly domain: string;
  readonly difficulty: string;
  /** Mean of the shown score over (queries of the benchmark) × (training examples of the domain and difficulty). */
  readonly mean: number;
  readonly trainCount: number;
  readonly queryCount: number;
}

/** The cross-domain table, sorted by benchmark, domain, difficulty, each in reading order (compareLabels). */
export function crossDomainTable(
  view: ScoreView,
  queries: readonly ExampleMeta[],
  train: readonly ExampleMeta[],
): CrossDomainCell[] {
  const groups = new Map<string, { domain: string; difficulty: string; members: number[] }>();
  train.forEach((example, n) => {
    const domain = example.domain ?? 'unknown';
    const difficulty = example.difficulty ?? 'unknown';
    const key = JSON.stringify([domain, difficulty]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { domain, difficulty, members: [] }));
    group.members.push(n);
  });
  const cells: CrossDomainCell[] = [];
  for (const [benchmark, { queries: members, scores }] of benchmarkScores(view, queries)) {
    for (const group of groups.values()) {
      const mean = group.members.reduce((sum, n) => sum + scores[n], 0) / group.members.length;
      cells.push({
        benchmark,
        domain: group.domain,
        difficulty: group.difficulty,
        mean,
        trainCount: group.members.length,
        queryCount: members.length,
      });
    }
  }
  // Reading order (compareLabels): easy → medium → hard, not alphabetical (which put "hard" before "medium").
  return cells.sort(
    (a, b) =>
      compareLabels(a.benchmark, b.benchmark) ||
      compareLabels(a.domain, b.domain) ||
      compareLabels(a.difficulty, b.difficulty),
  );
}

/**
 * Per-token influence of one training example for a set of queries (their mean), on the measurement's scale:
 * s_q · τ(q, n, t) averaged over the queries. Needs a run with perToken.
 */
export function tokenInfluence(
  result: TokenScoredResult,
  queries: readonly number[],
  trainIndex: number,
): Float64Array {
  const tokens = result.tauPerToken;
  if (!tokens) throw new Error('token-level aggregation needs a run with perToken: true');
  const { offsets, values } = tokens;
  const rowLength = offsets[offsets.length - 1];
  const scales = queryScales(result);
  const out = new Float64Array(offsets[trainIndex + 1] - offsets[trainIndex]);
  for (const q of queries) {
    const base = q * rowLength + offsets[trainIndex];
    for (let t = 0; t < out.length; t++) out[t] += (scales[q] * values[base + t]) / queries.length;
  }
  return out;
}

export interface GroupSummary {
  readonly label: string;
  /** Σ over every member (segment occurrence or token) of every training example. */
  readonly sum: number;
  /** sum / count. */
  readonly mean: number;
  /** Segment occurrences, or tokens. */
  readonly count: number;
  /** Training examples with at least one member. */
  readonly examples: number;
}

function summarise(groups: Map<string, { sum: number; count: number; examples: Set<number> }>): GroupSummary[] {
  return [...groups].map(([label, g]) => ({
    label,
    sum: g.sum,
    mean: g.count > 0 ? g.sum / g.count : 0,
    count: g.count,
    examples: g.examples.size,
  }));
}

function addTo(
  groups: Map<string, { sum: number; count: number; examples: Set<number> }>,
  label: string,
  value: number,
  example: number,
): void {
  let group = groups.get(label);
  if (!group) groups.set(label, (group = { sum: 0, count: 0, examples: new Set() }));
  group.sum += value;
  group.count++;
  group.examples.add(example);
}

/**
 * Which token a position's per-token score is credited to. In a causal LM the gradient at position t is that of the
 * loss of predicting token t+1 (labels are shifted), so the score at t belongs to the predicted token t+1
 * ('next-token', the default: a segment or category is credited with the influence of learning to produce its
 * tokens). 'same-token' credits position t to token t (models whose loss at t is about token t itself).
 */
export type TokenAlignment = 'next-token' | 'same-token';

/** Per-token influence of one training example credited to tokens under the given alignment. */
export function creditedTokenInfluence(
  result: TokenScoredResult,
  queries: readonly number[],
  trainIndex: number,
  alignment: TokenAlignment,
): Float64Array {
  const positions = tokenInfluence(result, queries, trainIndex);
  if (alignment === 'same-token') return positions;
  const credited = new Float64Array(positions.length);
  for (let t = 0; t + 1 < positions.length; t++) credited[t + 1] = positions[t];
  // The last real position predicts nothing (its loss mask is 0), so its score is 0 for a causal LM; keep it visible
  // rather than dropping it if a source ever produces one.
  if (positions.length > 0 && positions[positions.length - 1] !== 0) {
    throw new Error(
      `training example ${trainIndex}: the last position has a non-zero per-token score, so it is not a causal-LM score; use alignment 'same-token'`,
    );
  }
  return credited;
}

/**
 * Sequence level: for the given queries (mean), the influence summed within each response segment of each training
 * example, then summarised per segment label (sum and mean over segment occurrences).
 */
export function segmentSummary(
  result: TokenScoredResult,
  queries: readonly number[],
  alignment: TokenAlignment = 'next-token',
): GroupSummary[] {
  const groups = new Map<string, { sum: number; count: number; examples: Set<number> }>();
  result.train.forEach((example, n) => {
    if (!example.segments || example.segments.length === 0) return;
    const tokens = creditedTokenInfluence(result, queries, n, alignment);
    for (const segment of example.segments) {
      if (segment.start < 0 || segment.end > tokens.length || segment.start > segment.end) {
        throw new Error(
          `training example "${example.id}": segment "${segment.label}" [${segment.start}, ${segment.end}) is outside its ${tokens.length} tokens`,
        );
      }
      let sum = 0;
      for (let t = segment.start; t < segment.end; t++) sum += tokens[t];
      addTo(groups, segment.label, sum, n);
    }
  });
  return summarise(groups);
}

/** Token level: for the given queries (mean), per-token influence summed and averaged by token category. */
export function tokenCategorySummary(
  result: TokenScoredResult,
  queries: readonly number[],
  categoryNames: readonly string[],
  alignment: TokenAlignment = 'next-token',
): GroupSummary[] {
  const groups = new Map<string, { sum: number; count: number; examples: Set<number> }>();
  result.train.forEach((example, n) => {
    if (!example.tokenCategories) return;
    const tokens = creditedTokenInfluence(result, queries, n, alignment);
    if (example.tokenCategories.length !== tokens.length) {
      throw new Error(
        `training example "${example.id}": ${example.tokenCategories.length} token categories for ${tokens.length} tokens`,
      );
    }
    for (let t = 0; t < tokens.length; t++) {
      const category = categoryNames[example.tokenCategories[t]];
      if (category === undefined)
        throw new Error(
          `training example "${example.id}": token ${t} has unknown category ${example.tokenCategories[t]}`,
        );
      addTo(groups, category, tokens[t], n);
    }
  });
  return summarise(groups);
}
