/**
 * The Evaluation view's paired comparison (issue 24 §2): every pair of strategies compared on the SAME retrains, per
 * query (ρ_a − ρ_b), with a two-way (queries × subsets) bootstrap interval and a sign-flip permutation p-value
 * (src/eval/two-way.ts), and each strategy's LDS with its two-way interval — computed in the worker from the stored
 * tensors (subset measurements and predictions), seeded by the evaluation's own seed, so a run shows the same numbers
 * every time it is opened.
 */
import { differences, signFlipPValue, twoWayBootstrap } from '../eval/two-way';
import type { EvaluationPaired } from './evaluation-types';

/** Sign patterns drawn when there are more than 16 queries (exact enumeration below). */
const PERMUTATIONS = 10_000;

export function pairedComparisons(
  strategies: readonly {
    readonly strategy: string;
    readonly perQuery: Float64Array;
    readonly predictions: Float64Array;
  }[],
  measured: Float64Array,
  querySize: number,
  subsetCount: number,
  samples: number,
  seed: number,
): EvaluationPaired | null {
  if (subsetCount < 3 || querySize < 1 || strategies.length === 0) return null;
  const queries = Array.from({ length: querySize }, (_, q) => q);
  const subsets = Array.from({ length: subsetCount }, (_, m) => m);
  const pairs: [number, number][] = [];
  for (let a = strategies.length - 1; a >= 0; a--) for (let b = a - 1; b >= 0; b--) pairs.push([a, b]);
  // The same offset as `iwb evaluate`'s protocol report: the view and the CLI give one interval for one evaluation.
  const boot = twoWayBootstrap(
    strategies.map((s) => s.predictions),
    measured,
    querySize,
    queries,
    subsets,
    pairs,
    samples,
    seed + 15485863,
  );
  return {
    samples,
    twoWay: strategies.map((s, k) => ({ strategy: s.strategy, ...boot.lds[k]! })),
    pairs: pairs.map(([a, b], k) => {
      const d = differences(strategies[a]!.perQuery, strategies[b]!.perQuery);
      const flip = signFlipPValue(d, PERMUTATIONS, seed + 104729 * (k + 1));
      return {
        a: strategies[a]!.strategy,
        b: strategies[b]!.strategy,
        ...boot.differences[k]!,
        p: flip.p,
        exact: flip.exact,
      };
    }),
  };
}
