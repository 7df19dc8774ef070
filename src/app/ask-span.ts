/**
 * The page's "Attribute this span" and "Compare two responses", apart from the comlink worker so Node tests run them:
 * a stored run's query as a pre-tokenized row measured on a token span, and two asked responses' attributions
 * compared per training example with the CLI's `--compare` function (app/generate.ts compareQueries).
 */
import { compareQueries } from './generate';
import { InputError } from './input-error';
import type { Example } from '../data/dataset';
import type { RunResults } from './run-results';

export interface SpanQueryRow {
  readonly id: string;
  readonly input_ids: number[];
  readonly prompt_len: number;
  /** In response tokens (0 = the token at prompt_len), as pre-tokenized rows' `measure` is (docs/data.md). */
  readonly measure: { start: number; end: number }[];
  /** The query's domain and benchmark, kept so the asked run groups it as the run did. */
  readonly domain?: string;
  readonly benchmark?: unknown;
}

/**
 * The query `queryId` of the run's inputs as a pre-tokenized row measuring only `spans` (positions [start, end) in
 * its input_ids). Its id names the span, e.g. `q7 [12, 15)`. A span outside the response is refused naming the query.
 */
export function spanQueryRow(
  queries: readonly Example[],
  queryId: string,
  spans: readonly { readonly start: number; readonly end: number }[],
): SpanQueryRow {
  const query = queries.find((q) => q.id === queryId);
  if (!query) throw new InputError(`query "${queryId}" is not among this run's queries`);
  const length = query.inputIds.length;
  if (spans.length === 0) throw new InputError(`query "${queryId}": select at least one response token to measure`);
  for (const { start, end } of spans) {
    if (!(Number.isInteger(start) && Number.isInteger(end) && query.promptLen <= start && start < end && end <= length))
      throw new InputError(
        `query "${queryId}": the selected tokens [${start}, ${end}) lie outside its response tokens ` +
          `[${query.promptLen}, ${length})`,
      );
  }
  const where = spans.map((s) => `[${s.start}, ${s.end})`).join(' ');
  return {
    id: `${queryId} ${where}`,
    input_ids: [...query.inputIds],
    prompt_len: query.promptLen,
    measure: spans.map((s) => ({ start: s.start - query.promptLen, end: s.end - query.promptLen })),
    ...(query.domain !== undefined ? { domain: query.domain } : {}),
    ...(query.extra.benchmark !== undefined ? { benchmark: query.extra.benchmark } : {}),
  };
}

export interface StoredComparison {
  readonly a: string;
  readonly b: string;
  /** Training examples ranked by I(n, a) − I(n, b): most toward a first, then most toward b first. */
  readonly towardA: readonly { readonly id: string; readonly difference: number }[];
  readonly towardB: readonly { readonly id: string; readonly difference: number }[];
}

/** Queries a and b of a stored run compared per training example (raw influence, as the CLI's --compare). */
export function storedComparison(results: RunResults, a: number, b: number, k: number): StoredComparison {
  const { result } = results;
  const queries = result.queries.length;
  if (!(a >= 0 && a < queries && b >= 0 && b < queries))
    throw new InputError(`compare: the run has ${queries} queries, not ${Math.max(a, b) + 1}`);
  const comparison = compareQueries(result.influence, result.train.length, a, b, k);
  const ranked = (list: readonly number[]) =>
    list.map((n) => ({ id: result.train[n]!.id, difference: comparison.difference[n]! }));
  return {
    a: result.queries[a]!.id,
    b: result.queries[b]!.id,
    towardA: ranked(comparison.towardA),
    towardB: ranked(comparison.towardB),
  };
}
