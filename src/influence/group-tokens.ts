/**
 * Group-level per-token influence by linearity. The per-token score of training token t of example n against query q
 * is τ_t(q, n) = Σ_layers g(n,t)ᵀ P_q ã(n,t), linear in the preconditioned query gradient P_q. So for a group of
 * queries with weights w_q,
 *
 *     Σ_q w_q τ_t(q, n) = Σ_layers g(n,t)ᵀ (Σ_q w_q P_q) ã(n,t),
 *
 * and one summed operator P_g = Σ_q w_q P_q per group and layer scores every training token against the whole group
 * at the cost of one extra query, instead of Q per-token rows (an exact identity, not an approximation).
 *
 * The weights are those of the analyses' aggregate: a group's influence is the mean of its queries' influence
 * I(q, n, t) = s_q τ_t(q, n) (s_q = 1/T_q for the mean log-likelihood, 1 for the summed loss; measurement.ts), so
 * w_q = s_q / |g|. The per-example normalisations (normalize.ts) divide every query's score of example n by the same
 * d_n (√τ(n, n) or T_n), so they commute with the group sum: the normalised group row is the row ÷ d_n
 * (groupTokenRow). With a low-rank query operator (config.queryRank) the group operators still sum the exact P_q.
 */
import type { Backend, Tensor } from '../linalg/backend';
import { benchmarkOf } from './aggregate';
import { assertFinite } from './errors';
import { measurementScale } from './measurement';
import type { Normalization } from './normalize';
import { prepareQueries, type QueryChunk } from './queries';
import { layerName, type ScoreContext } from './score-context';
import type { AttributionResult, ExampleMeta, QueryGroup } from './types';

/** The groups a run scores by default: one per benchmark (aggregate.ts's benchmarkOf), in order of first query. */
export function benchmarkGroups(queries: readonly ExampleMeta[]): QueryGroup[] {
  const groups = new Map<string, number[]>();
  queries.forEach((query, q) => {
    const name = benchmarkOf(query);
    let members = groups.get(name);
    if (!members) groups.set(name, (members = []));
    members.push(q);
  });
  return [...groups].map(([name, members]) => ({ name, queries: members }));
}

/**
 * P_g = Σ_q w_q P_q per layer, as [G, dOut, dIn'] tensors on the backend (the caller releases them). The queries are
 * prepared chunk by chunk with the run's query batch size and exact operators; `current` (a chunk the caller has
 * already prepared, starting at `currentStart`) is reused instead of preparing it again when its operators are exact.
 * The sum runs over queries in index order on the host in float64, so it does not depend on which chunk was at hand.
 */
export async function groupOperators(
  context: ScoreContext,
  groups: readonly QueryGroup[],
  querySize: number,
  current: { readonly chunk: QueryChunk; readonly start: number } | null,
): Promise<Tensor[]> {
  const { backend, config } = context;
  const exact: ScoreContext = { ...context, config: { ...config, queryRank: null } };
  const chunkSize = config.batchSizes.query;
  const groupOf = new Int32Array(querySize).fill(-1);
  groups.forEach((group, g) => group.queries.forEach((q) => (groupOf[q] = g)));
  let sums: Float64Array[] | null = null;
  let shapes: (readonly number[])[] = [];
  for (let start = 0; start < querySize; start += chunkSize) {
    const end = Math.min(querySize, start + chunkSize);
    const reuse =
      current !== null && current.start === start && current.chunk.operators.every((o) => o.kind === 'full');
    const chunk = reuse ? current.chunk : await prepareQueries(exact, start, end);
    try {
      for (let l = 0; l < chunk.operators.length; l++) {
        const operator = chunk.operators[l]!;
        if (operator.kind !== 'full') throw new Error('groupOperators: a query chunk has a low-rank operator');
        const [, dOut, width] = operator.p.shape as [number, number, number];
        const size = dOut * width;
        if (sums === null) {
          sums = chunk.operators.map(
            (o) => new Float64Array(groups.length * (o.kind === 'full' ? o.p.shape[1]! * o.p.shape[2]! : 0)),
          );
          shapes = chunk.operators.map((o) => (o.kind === 'full' ? [groups.length, o.p.shape[1]!, o.p.shape[2]!] : []));
        }
        const values = await backend.read(operator.p);
        const layerSums = sums[l]!;
        for (let qi = 0; qi < end - start; qi++) {
          const q = start + qi;
          const g = groupOf[q]!;
          if (g < 0) continue;
          const weight = measurementScale(config.measurement, chunk.targetCounts[qi]!) / groups[g]!.queries.length;
          const from = qi * size;
          const to = g * size;
          for (let i = 0; i < size; i++) layerSums[to + i]! += weight * values[from + i]!;
        }
      }
    } finally {
      if (!reuse) chunk.release();
    }
  }
  if (sums === null) return [];
  const tensors: Tensor[] = [];
  try {
    sums.forEach((data, l) => {
      assertFinite(data, 'query', layerName(context, l), 'the summed group operator Σ_q w_q P_q', 'every query group');
      tensors.push(backend.upload(data, shapes[l]!));
    });
  } catch (error) {
    backend.release(...tensors);
    throw error;
  }
  return tensors;
}

/**
 * One batch's group per-token scores of one layer, added into `rows` ([G × Σ_n T_n], training examples at
 * `offsets`): the backend's token-form scores of the group operators, [G, B, T] (padding 0).
 */
export async function addGroupTokenScores(
  backend: Backend,
  operator: Tensor,
  batch: Parameters<Backend['scores']>[1],
  indices: readonly number[],
  offsets: Int32Array,
  rows: Float64Array,
  check: (values: Float64Array) => void,
): Promise<void> {
  const tensor = backend.scores(operator, batch, true);
  const values = await backend.read(tensor);
  backend.release(tensor);
  check(values);
  const groups = operator.shape[0]!;
  const b = indices.length;
  const t = values.length / (groups * b);
  const rowLength = offsets[offsets.length - 1]!;
  for (let g = 0; g < groups; g++) {
    for (let bi = 0; bi < b; bi++) {
      const n = indices[bi]!;
      const length = offsets[n + 1]! - offsets[n]!;
      const base = (g * b + bi) * t;
      const row = g * rowLength + offsets[n]!;
      for (let ti = 0; ti < length; ti++) rows[row + ti]! += values[base + ti]!;
    }
  }
}

/**
 * Group g's per-token influence of training example n under a normalisation: the row's slice ÷ d_n, with d_n the
 * divisor normalize.ts applies to every query's score of n (0 where d_n is 0, as there).
 */
export function groupTokenRow(
  result: Pick<AttributionResult, 'selfTau' | 'trainTokenCounts' | 'groupTokens'>,
  group: number,
  trainIndex: number,
  normalization: Normalization = 'none',
): Float64Array {
  if (!result.groupTokens) throw new Error('group token scores: this run has none (config.groupTokens was false)');
  const { offsets, values } = result.groupTokens;
  const rowLength = offsets[offsets.length - 1]!;
  const start = group * rowLength + offsets[trainIndex]!;
  const row = values.slice(start, start + offsets[trainIndex + 1]! - offsets[trainIndex]!);
  if (normalization === 'none') return row;
  const divisor =
    normalization === 'self-influence'
      ? Math.sqrt(Math.max(result.selfTau[trainIndex]!, 0))
      : result.trainTokenCounts[trainIndex]!;
  for (let t = 0; t < row.length; t++) row[t] = divisor > 0 ? row[t]! / divisor : 0;
  return row;
}

/**
 * The run reduced to one "query", group `name`: its per-token row is the group's row, on a unit scale ('summed-loss',
 * one target token), so the aggregations (aggregate.ts: segmentSummary, tokenCategorySummary) read it as they would
 * the group's queries' mean.
 */
export function groupTokenResult<
  R extends Pick<AttributionResult, 'groupTokens' | 'queries' | 'queryTargetCounts' | 'tauPerToken'> & {
    readonly config: Pick<AttributionResult['config'], 'measurement'>;
  },
>(result: R, name: string): R {
  const groups = result.groupTokens;
  const g = groups?.groups.findIndex((group) => group.name === name) ?? -1;
  if (!groups || g < 0) throw new Error(`group token scores: this run has none for "${name}"`);
  const total = groups.offsets[groups.offsets.length - 1]!;
  return {
    ...result,
    config: { ...result.config, measurement: 'summed-loss' },
    queries: [{ id: name, benchmark: name }],
    queryTargetCounts: new Float64Array(1).fill(1),
    tauPerToken: { offsets: groups.offsets, values: groups.values.subarray(g * total, (g + 1) * total) },
  };
}
