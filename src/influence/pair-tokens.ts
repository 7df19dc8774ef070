/**
 * Per-token scores of chosen (query, training example) pairs, on demand, from a finished run's fitted factors: the
 * fitting stages are skipped (runAttribution with `factors`), and only the chosen query and training examples are
 * run through the gradient source, with per-token output. The preconditioner is the run's own (the same
 * eigenbases, Λ and, for heuristic damping, the same δ from the same Λ), so the values are the ones a full per-token
 * run would have given those pairs (tests/unit/pair-tokens.test.ts). Labels of the scored gradients are the data's,
 * as in every score pass, so the subset's indices are mapped back to the run's (a source seeds per original index).
 */
import { runAttribution } from './pipeline';
import { measurementScale } from './measurement';
import type { AttributionConfig, Backend, GradientBatch, GradientRequest, GradientSource, RunOptions } from './types';
import type { ModelFactors } from '../core/schema';

/** A source that shows the run's examples `train` and `query` (original indices) as 0, 1, … of each role. */
class SubsetSource implements GradientSource {
  constructor(
    private readonly inner: GradientSource,
    private readonly indices: { readonly train: readonly number[]; readonly query: readonly number[] },
  ) {}

  get layers() {
    return this.inner.layers;
  }

  sequenceLength(role: 'train' | 'query', index: number): number {
    return this.inner.sequenceLength(role, this.original(role, index));
  }

  gradients(request: GradientRequest, backend: Backend): Promise<GradientBatch> {
    return this.inner.gradients(
      { ...request, indices: request.indices.map((i) => this.original(request.role, i)) },
      backend,
    );
  }

  private original(role: 'train' | 'query', index: number): number {
    const original = this.indices[role][index];
    if (original === undefined) throw new Error(`pair token scores: no ${role} example ${index} in the subset`);
    return original;
  }
}

/** One query's per-token influence on each chosen training example: s_q · τ_t(q, n), one row per example. */
export interface PairTokenScores {
  readonly query: number;
  readonly train: readonly number[];
  /** Per chosen training example, its per-token influence (positions as the engine scores them). */
  readonly values: readonly Float64Array[];
}

/**
 * Per-token influence of query `query` on the training examples `train` (original indices) under `config` and the
 * run's `factors`. Costs one query gradient and |train| training gradients (plus their self-influence, which the
 * pipeline computes from the same gradients).
 */
export async function pairTokenScores(
  config: AttributionConfig,
  inputs: { readonly backend: Backend; readonly source: GradientSource; readonly factors: ModelFactors },
  query: number,
  train: readonly number[],
  options: RunOptions = {},
): Promise<PairTokenScores> {
  if (train.length === 0) return { query, train, values: [] };
  const source = new SubsetSource(inputs.source, { train, query: [query] });
  const result = await runAttribution(
    { ...config, perToken: true, groupTokens: false, queryRank: null },
    {
      backend: inputs.backend,
      source,
      factors: inputs.factors,
      trainSet: { role: 'train', examples: train.map((n) => ({ id: `train ${n}` })) },
      querySet: { role: 'query', examples: [{ id: `query ${query}` }] },
    },
    // No checkpoint: a pair is quick, and its run is not the run whose checkpoint a caller may hold.
    { onProgress: options.onProgress, signal: options.signal },
  );
  const { offsets, values } = result.tauPerToken!;
  const scale = measurementScale(config.measurement, result.queryTargetCounts[0]!);
  return {
    query,
    train,
    values: train.map((_, i) => values.slice(offsets[i]!, offsets[i + 1]!).map((tau) => scale * tau)),
  };
}

/** Pair token scores of several queries, flat: pair p is (queries[p], train[p]) with values at offsets[p] … [p+1]. */
export interface PairTokenTable {
  readonly queries: Int32Array;
  readonly train: Int32Array;
  readonly offsets: Int32Array;
  readonly values: Float64Array;
}

/** The k training examples with the largest |influence| on each query (ties by index), as [query][k]. */
export function topPairs(influence: Float64Array, queries: number, k: number): number[][] {
  const train = queries === 0 ? 0 : influence.length / queries;
  return Array.from({ length: queries }, (_, q) => {
    const row = influence.subarray(q * train, (q + 1) * train);
    return Array.from({ length: train }, (_, n) => n)
      .sort((a, b) => Math.abs(row[b]!) - Math.abs(row[a]!) || a - b)
      .slice(0, k);
  });
}

/**
 * Per-token influence of every query on its k training examples of largest |influence| (what a bundle opened without
 * factors shows in the heatmap for a single query): one pairTokenScores call per query, so the cost is Q query
 * gradients and Q·k training gradients, whatever N is.
 */
export async function topPairTokenScores(
  config: AttributionConfig,
  inputs: { readonly backend: Backend; readonly source: GradientSource; readonly factors: ModelFactors },
  influence: Float64Array,
  queries: number,
  k: number,
  options: RunOptions = {},
): Promise<PairTokenTable> {
  const chosen = topPairs(influence, queries, k);
  const rows: { q: number; n: number; values: Float64Array }[] = [];
  for (let q = 0; q < queries; q++) {
    const scores = await pairTokenScores(config, inputs, q, chosen[q]!, options);
    scores.values.forEach((values, i) => rows.push({ q, n: chosen[q]![i]!, values }));
  }
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((row, p) => (offsets[p + 1] = offsets[p]! + row.values.length));
  const values = new Float64Array(offsets[rows.length]!);
  rows.forEach((row, p) => values.set(row.values, offsets[p]!));
  return {
    queries: Int32Array.from(rows, (r) => r.q),
    train: Int32Array.from(rows, (r) => r.n),
    offsets,
    values,
  };
}
