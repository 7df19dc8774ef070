/**
 * What the page and the CLI show of a finished run, on top of the engine's aggregations (src/influence/aggregate.ts):
 * the top helpful and harmful training examples of a query or a benchmark, with their text. Scores are the
 * engine's ScoreView: influence (positive = helps), raw or normalised, always with the label that says which.
 */
import { benchmarkScores, topExamples, topExamplesForQuery, type RankedExample } from '../influence/aggregate';
import { scoreView, type Normalization, type ScoredResult } from '../influence/normalize';

export type { Normalization } from '../influence/normalize';

export type InfluenceTarget = { readonly query: string } | { readonly benchmark: string };

export interface InfluenceRow {
  readonly trainId: string;
  readonly score: number;
  readonly prompt: string;
  readonly response: string;
  readonly domain: string | null;
  readonly difficulty: string | null;
}

export interface TopInfluences {
  readonly target: InfluenceTarget;
  /** What the scores are: measurement, sign, normalisation. */
  readonly label: string;
  /** Largest positive influence first. */
  readonly helpful: readonly InfluenceRow[];
  /** Most negative influence first. */
  readonly harmful: readonly InfluenceRow[];
}

export interface ExampleText {
  readonly prompt: string;
  readonly response: string;
  /** What the workspace's token views need (src/app/token-rows.ts); kept in stored rows and bundles. */
  readonly tokens?: readonly string[];
  readonly tokenCategories?: readonly number[];
  readonly segments?: readonly { readonly label: string; readonly start: number; readonly end: number }[];
  /**
   * A query's loss per token, credited to the token predicted (token t carries −log p(token t | tokens < t)); null for
   * tokens the measurement does not count (the prompt). Queries only; absent when the run did not record it.
   */
  readonly tokenLoss?: readonly (number | null)[];
  /** A query's measured token spans [start, end) over its positions, when its measurement counted only them. */
  readonly measured?: readonly { readonly start: number; readonly end: number }[];
}

export function topInfluences(
  result: ScoredResult,
  texts: readonly ExampleText[],
  target: InfluenceTarget,
  k: number,
  normalization: Normalization = 'none',
): TopInfluences {
  const view = scoreView(result, normalization);
  let top;
  if ('query' in target) {
    const query = result.queries.findIndex((q) => q.id === target.query);
    if (query < 0) throw new Error(`no query has id "${target.query}"`);
    top = topExamplesForQuery(view, result.train, query, k);
  } else {
    const benchmark = benchmarkScores(view, result.queries).get(target.benchmark);
    if (!benchmark) throw new Error(`no query belongs to benchmark "${target.benchmark}"`);
    top = topExamples(benchmark.scores, result.train, k);
  }
  const row = (ranked: RankedExample): InfluenceRow => {
    const meta = result.train[ranked.index]!;
    return {
      trainId: ranked.id,
      score: ranked.score,
      prompt: texts[ranked.index]?.prompt ?? '',
      response: texts[ranked.index]?.response ?? '',
      domain: meta.domain ?? null,
      difficulty: meta.difficulty ?? null,
    };
  };
  return { target, label: view.label, helpful: top.helpful.map(row), harmful: top.harmful.map(row) };
}
