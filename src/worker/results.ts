/**
 * Views of a finished run that the page and the CLI share: top helpful/harmful training examples for a query or a
 * benchmark, and the cross-domain table. All of them read `influence` (positive = the training example raises the
 * query's measurement), never kronfluence's raw τ.
 */
import type { AttributionResult } from '../influence/types';
import type { InfluenceRow, InfluenceTarget, TopInfluences } from './protocol';

export interface ExampleText {
  readonly prompt: string;
  readonly response: string;
}

/** Influence of every training example on one query, or the mean over a benchmark's queries. */
export function influenceOn(result: AttributionResult, target: InfluenceTarget): Float64Array {
  const train = result.train.length;
  const rows =
    'query' in target
      ? result.queries.flatMap((q, i) => (q.id === target.query ? [i] : []))
      : result.queries.flatMap((q, i) => (benchmarkOf(q) === target.benchmark ? [i] : []));
  if (rows.length === 0) {
    throw new Error('query' in target ? `no query has id "${target.query}"` : `no query belongs to benchmark "${target.benchmark}"`);
  }
  const out = new Float64Array(train);
  for (const q of rows) for (let n = 0; n < train; n++) out[n]! += result.influence[q * train + n]! / rows.length;
  return out;
}

export function benchmarkOf(query: { readonly benchmark?: string; readonly domain?: string }): string {
  return query.benchmark ?? query.domain ?? 'queries';
}

export function topInfluences(
  result: AttributionResult,
  texts: readonly ExampleText[],
  target: InfluenceTarget,
  k: number,
): TopInfluences {
  const scores = influenceOn(result, target);
  const order = [...scores.keys()];
  const row = (n: number): InfluenceRow => {
    const meta = result.train[n]!;
    return {
      trainId: meta.id,
      score: scores[n]!,
      prompt: texts[n]?.prompt ?? '',
      response: texts[n]?.response ?? '',
      domain: meta.domain ?? null,
      difficulty: meta.difficulty ?? null,
    };
  };
  // Ties broken by index so the ranking is deterministic.
  const helpful = order.filter((n) => scores[n]! > 0).sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, k);
  const harmful = order.filter((n) => scores[n]! < 0).sort((a, b) => scores[a]! - scores[b]! || a - b).slice(0, k);
  return { target, helpful: helpful.map(row), harmful: harmful.map(row) };
}

export interface CrossDomainCell {
  readonly benchmark: string;
  readonly domain: string;
  readonly difficulty: string;
  /** Mean over the cell's training examples of their influence on the benchmark (itself a mean over its queries). */
  readonly meanInfluence: number;
  /** Training examples in the cell. */
  readonly count: number;
}

/** Mean influence by (query benchmark) × (training domain) × (difficulty bucket), with counts. */
export function crossDomainTable(result: AttributionResult): CrossDomainCell[] {
  const benchmarks = [...new Set(result.queries.map(benchmarkOf))];
  const cells: CrossDomainCell[] = [];
  for (const benchmark of benchmarks) {
    const scores = influenceOn(result, { benchmark });
    const groups = new Map<string, { domain: string; difficulty: string; sum: number; count: number }>();
    result.train.forEach((meta, n) => {
      const domain = meta.domain ?? '(none)';
      const difficulty = meta.difficulty ?? '(none)';
      const key = `${domain}\u0000${difficulty}`;
      const group = groups.get(key) ?? { domain, difficulty, sum: 0, count: 0 };
      group.sum += scores[n]!;
      group.count += 1;
      groups.set(key, group);
    });
    const sorted = [...groups.values()].sort((a, b) => a.domain.localeCompare(b.domain) || a.difficulty.localeCompare(b.difficulty));
    for (const g of sorted) cells.push({ benchmark, domain: g.domain, difficulty: g.difficulty, meanInfluence: g.sum / g.count, count: g.count });
  }
  return cells;
}

export const SCORE_MEANING =
  'Influence on the query’s mean response log-likelihood (positive = the training example helps), unnormalised raw sums over training tokens.';
