/**
 * The evaluation protocol a reviewer accepts (issue 24 §2), on evaluations that share ONE set of retrains:
 *
 * 1. Split (optional, `--holdout`): the queries and the subsets are each shuffled by a seeded generator and a share
 *    of each is held out; the rest is the tuning split.
 * 2. Tuning: every hyperparameter candidate (a damping, a Fisher, …: one attribution each, scored on the same
 *    retrains) is scored per strategy by its LDS on the tuning block (tuning queries × tuning subsets); the best
 *    (ties: the first given) is chosen. With one candidate nothing is chosen.
 * 3. Report on the held-out block (held-out queries × held-out subsets; without a split, all of them): each
 *    strategy's LDS at its chosen candidate with a two-way (queries × subsets) bootstrap interval, and every pair of
 *    strategies compared paired, per query, with the difference's two-way interval and a sign-flip p-value
 *    (src/eval/two-way.ts). Nothing chosen is ever scored on the block it was chosen on.
 */
import { seededUniform } from '../core/random';
import type { Strategy } from '../core/strategy';
import type { EvaluationResult } from './types';
import {
  blockSpearman,
  differences,
  finiteMean,
  signFlipPValue,
  twoWayBootstrap,
  type Interval,
  type SignFlip,
} from './two-way';

/** Shares held out: of the queries and of the subsets, each in (0, 1). */
export interface HoldoutSpec {
  readonly queries: number;
  readonly subsets: number;
}

export interface HoldoutSplit {
  readonly tuningQueries: readonly number[];
  readonly heldOutQueries: readonly number[];
  readonly tuningSubsets: readonly number[];
  readonly heldOutSubsets: readonly number[];
}

/** `0.5` (both shares) or `queries=0.5,subsets=0.25` (either may be left out: 0.5). */
export function parseHoldout(text: string): HoldoutSpec {
  const share = (value: string, what: string) => {
    const parsed = Number(value);
    if (!/^(?:0?\.[0-9]+|0)$/.test(value.trim()) || !(parsed > 0 && parsed < 1))
      throw new Error(`--holdout: the ${what} share "${value}" is not a decimal between 0 and 1 (exclusive)`);
    return parsed;
  };
  if (!text.includes('=')) {
    const both = share(text, 'held-out');
    return { queries: both, subsets: both };
  }
  const spec = { queries: 0.5, subsets: 0.5 };
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const [key, value, extra] = part.split('=');
    if ((key !== 'queries' && key !== 'subsets') || value === undefined || extra !== undefined)
      throw new Error(`--holdout: "${part}" is not queries=SHARE or subsets=SHARE`);
    if (seen.has(key)) throw new Error(`--holdout: ${key} is given twice`);
    seen.add(key);
    spec[key] = share(value, key);
  }
  return spec;
}

/** Seeded split; each side keeps at least 1 query and 3 subsets (a rank correlation over fewer says nothing). */
export function holdoutSplit(querySize: number, subsetCount: number, spec: HoldoutSpec, seed: number): HoldoutSplit {
  if (querySize < 2) throw new Error(`--holdout: ${querySize} query cannot be split into tuning and held-out queries`);
  if (subsetCount < 6)
    throw new Error(
      `--holdout: ${subsetCount} subsets cannot be split into two blocks of at least 3; use --subsets 6+`,
    );
  // Streams of their own: the split does not move when the subsets or the bootstrap change.
  const uniform = seededUniform((seed ^ 0x5eed) >>> 0);
  const part = (count: number, share: number, minimum: number) => {
    const order = Array.from({ length: count }, (_, i) => i);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(uniform() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const held = Math.min(count - minimum, Math.max(minimum, Math.round(share * count)));
    const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
    return { tuning: sorted(order.slice(held)), heldOut: sorted(order.slice(0, held)) };
  };
  const q = part(querySize, spec.queries, 1);
  const m = part(subsetCount, spec.subsets, 3);
  return { tuningQueries: q.tuning, heldOutQueries: q.heldOut, tuningSubsets: m.tuning, heldOutSubsets: m.heldOut };
}

/** One hyperparameter setting's evaluation; every candidate's result must come from the same retrains. */
export interface Candidate {
  /** E.g. "damping heuristic:0.001, fisher empirical". */
  readonly label: string;
  /** What the candidate sets, as recorded (damping, fisher …). */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly result: EvaluationResult;
}

export interface ProtocolOptions {
  readonly split: HoldoutSplit | null;
  readonly samples: number;
  readonly seed: number;
  /** Random sign patterns when there are more than 16 queries to test (exact enumeration below). */
  readonly permutations: number;
}

export interface StrategyReport {
  readonly strategy: Strategy;
  /** The candidate chosen on the tuning block (the only one without candidates to choose from). */
  readonly chosen: string;
  /** Tuning-block LDS of every candidate (empty without a split). */
  readonly tuning: readonly { readonly candidate: string; readonly lds: number }[];
  /** ρ per reported query (the held-out queries, in order), NaN where undefined. */
  readonly perQuery: Float64Array;
  readonly lds: Interval;
}

export interface PairedReport {
  readonly a: Strategy;
  readonly b: Strategy;
  /** ρ_a − ρ_b per reported query. */
  readonly perQuery: Float64Array;
  readonly difference: Interval;
  readonly signFlip: SignFlip;
}

export interface ProtocolReport {
  readonly split: HoldoutSplit | null;
  /** The block reported: queries and subsets (the held-out ones, or all). */
  readonly queries: readonly number[];
  readonly subsets: readonly number[];
  readonly bootstrapSamples: number;
  readonly seed: number;
  readonly strategies: readonly StrategyReport[];
  readonly paired: readonly PairedReport[];
}

/** Seed means [M × Q] from the result's [M × R × Q] measurements. */
export function measuredMeans(result: EvaluationResult): Float64Array {
  const { subsets: m, seedsPerSubset: r } = result.config;
  const q = result.querySize;
  const out = new Float64Array(m * q);
  for (let i = 0; i < m; i++)
    for (let s = 0; s < r; s++)
      for (let j = 0; j < q; j++) out[i * q + j]! += result.subsetMeasurements[(i * r + s) * q + j]! / r;
  return out;
}

export function runProtocol(candidates: readonly Candidate[], options: ProtocolOptions): ProtocolReport {
  if (candidates.length === 0) throw new Error('protocol: no evaluation to report');
  const first = candidates[0]!.result;
  for (const c of candidates) {
    const same =
      c.result.subsetMeasurements.length === first.subsetMeasurements.length &&
      c.result.subsetMeasurements.every((v, i) => v === first.subsetMeasurements[i]);
    if (!same) throw new Error(`protocol: candidate "${c.label}" was not scored on the same retrains as the first`);
  }
  if (candidates.length > 1 && options.split === null)
    throw new Error(
      `protocol: choosing among ${candidates.length} settings on the reported queries and subsets would overstate ` +
        'the LDS; give a held-out split (--holdout)',
    );
  const querySize = first.querySize;
  const measured = measuredMeans(first);
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const split = options.split;
  const queries = split ? split.heldOutQueries : all(querySize);
  const subsets = split ? split.heldOutSubsets : all(first.config.subsets);

  const strategies = first.strategies.map((s) => s.strategy);
  const chosen = strategies.map((strategy) => {
    const scored = candidates.map((c) => {
      const entry = c.result.strategies.find((s) => s.strategy === strategy);
      if (!entry) throw new Error(`protocol: candidate "${c.label}" has no ${strategy} result`);
      const lds = split
        ? finiteMean(blockSpearman(entry.predictions, measured, querySize, split.tuningQueries, split.tuningSubsets))
        : NaN;
      return { candidate: c.label, lds, predictions: entry.predictions };
    });
    // The best tuning LDS; NaN (no rankable query) never wins; ties keep the first.
    let best = scored[0]!;
    for (const s of scored) if (s.lds > best.lds || (Number.isNaN(best.lds) && !Number.isNaN(s.lds))) best = s;
    return { strategy, best, tuning: split ? scored.map(({ candidate, lds }) => ({ candidate, lds })) : [] };
  });
  const pairs: [number, number][] = [];
  for (let a = 0; a < strategies.length; a++) for (let b = a + 1; b < strategies.length; b++) pairs.push([a, b]);
  const predictions = chosen.map((c) => c.best.predictions);
  const boot = twoWayBootstrap(
    predictions,
    measured,
    querySize,
    queries,
    subsets,
    pairs,
    options.samples,
    options.seed,
  );
  const perQuery = predictions.map((p) => blockSpearman(p, measured, querySize, queries, subsets));
  return {
    split,
    queries,
    subsets,
    bootstrapSamples: options.samples,
    seed: options.seed,
    strategies: chosen.map((c, k) => ({
      strategy: c.strategy,
      chosen: c.best.candidate,
      tuning: c.tuning,
      perQuery: perQuery[k]!,
      lds: boot.lds[k]!,
    })),
    paired: pairs.map(([a, b], k) => {
      const d = differences(perQuery[a]!, perQuery[b]!);
      return {
        a: strategies[a]!,
        b: strategies[b]!,
        perQuery: d,
        difference: boot.differences[k]!,
        signFlip: signFlipPValue(d, options.permutations, options.seed + 104729 * (k + 1)),
      };
    }),
  };
}
