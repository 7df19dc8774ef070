/**
 * Presentation shaping for the workspace views: colour scale, histogram bins, the concentration curve, and the
 * ranked list's sort and filters. The numbers themselves come from the worker (engine aggregations); nothing here
 * re-derives an influence, it only orders, bins and colours what it is given.
 */
import * as Plot from '@observablehq/plot';
import type { Normalization } from '../../worker/protocol';
import type { WorkspaceTrainExample } from '../../worker/workspace-protocol';
import { compareLabels } from '../../worker/label-order';

/**
 * The diverging scale every view shares: ColorBrewer PuOr (colour-blind safe), purple = helps, orange = harms,
 * symmetric about 0 so white means no influence.
 */
export function divergingColor(extent: number): { readonly options: Plot.ScaleOptions; apply(value: number): string } {
  const limit = extent > 0 && Number.isFinite(extent) ? extent : 1;
  const options: Plot.ScaleOptions = {
    type: 'diverging',
    scheme: 'PuOr',
    reverse: true,
    domain: [-limit, limit],
    clamp: true,
  };
  const scale = Plot.scale({ color: options });
  return { options, apply: (value) => String(scale.apply(value)) };
}

/** Black or white text, whichever contrasts more with an "rgb(r, g, b)" background (WCAG relative luminance). */
export function textColorOn(background: string): string {
  const [r, g, b] = (background.match(/\d+/g) ?? ['255', '255', '255']).map((c) => {
    const v = Number(c) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  // Contrast with black is (L + 0.05) / 0.05, with white 1.05 / (L + 0.05); they are equal at L ≈ 0.179.
  return luminance > 0.179 ? '#000' : '#fff';
}

/** Axis and legend ticks: three significant digits with a sign (d3-format), short enough not to collide. */
export const TICK_FORMAT = '+.3~g';

export function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  return max;
}

export function formatScore(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const text = abs !== 0 && (abs >= 1e4 || abs < 1e-3) ? value.toExponential(3) : value.toFixed(4);
  return value > 0 ? `+${text}` : text;
}

/**
 * The concentration curve: for k % of the examples taken in decreasing order of influence, the share of the total
 * positive influence they carry (examples with negative influence add nothing to it). Points at every 1 %.
 */
export function concentrationCurve(scores: ArrayLike<number>): { percent: number; share: number }[] {
  const positive = Array.from(scores)
    .filter((v) => v > 0)
    .sort((a, b) => b - a);
  const total = positive.reduce((sum, v) => sum + v, 0);
  const points = [{ percent: 0, share: 0 }];
  if (total === 0) return points;
  let carried = 0;
  let taken = 0;
  for (let percent = 1; percent <= 100; percent++) {
    const upTo = Math.round((percent / 100) * scores.length);
    while (taken < upTo && taken < positive.length) carried += positive[taken++]!;
    points.push({ percent, share: carried / total });
  }
  return points;
}

export type SortKey = 'shown' | 'raw' | 'self-influence' | 'token-count' | 'self';

export const SORT_LABELS: Readonly<Record<SortKey, string>> = {
  shown: 'shown score',
  raw: 'raw influence',
  'self-influence': 'influence ÷ √self-influence',
  'token-count': 'influence ÷ token count',
  self: 'self-influence',
};

export const NORMALIZATION_LABELS: Readonly<Record<Normalization, string>> = {
  none: 'raw influence',
  'self-influence': '÷ √self-influence',
  'token-count': '÷ token count',
};

export interface RankFilters {
  readonly domain: string;
  readonly difficulty: string;
  /** A segment label the example must have ('' for any). */
  readonly segment: string;
}

export interface RankedRow {
  readonly index: number;
  readonly rank: number;
  readonly shown: number;
}

/**
 * The ranked list: training examples passing the filters, ordered by the sort key (largest first, or smallest first
 * when `ascending`), ties by training order. `views` holds the query's scores under each normalisation it allows.
 */
export function rankExamples(
  train: readonly WorkspaceTrainExample[],
  views: ReadonlyMap<Normalization, Float64Array>,
  shown: Normalization,
  sort: SortKey,
  ascending: boolean,
  filters: RankFilters,
): RankedRow[] {
  const shownScores = views.get(shown) ?? views.get('none')!;
  const key: ArrayLike<number> =
    sort === 'shown'
      ? shownScores
      : sort === 'raw'
        ? views.get('none')!
        : sort === 'self'
          ? Float64Array.from(train, (t) => t.selfInfluence)
          : (views.get(sort) ?? shownScores);
  const indices: number[] = [];
  train.forEach((example, i) => {
    if (filters.domain && example.domain !== filters.domain) return;
    if (filters.difficulty && example.difficulty !== filters.difficulty) return;
    if (filters.segment && !example.segments.includes(filters.segment)) return;
    indices.push(i);
  });
  const sign = ascending ? 1 : -1;
  indices.sort((a, b) => sign * (key[a]! - key[b]!) || a - b);
  return indices.map((index, rank) => ({ index, rank: rank + 1, shown: shownScores[index]! }));
}

/** Distinct labels in reading order (compareLabels: easy < medium < hard, numbers by value, then the rest). */
export function distinct(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compareLabels);
}

/**
 * A bootstrap 95 % interval that contains 0 does not resolve the sign of its mean at this n: the views mute it and say
 * "n.s." (not significant) instead of colouring it as help or harm. Nor does one example (n = 1): resampling one value
 * gives a zero-width interval that says nothing about the spread.
 */
export function resolved(interval: { readonly low: number; readonly high: number }, n = 2): boolean {
  return n >= 2 && (interval.low > 0 || interval.high < 0);
}

/** One-line verdict of a mean with its interval over n examples: "helps", "harms", or "not resolved at n = …". */
export function verdict(interval: { readonly low: number; readonly high: number }, n: number): string {
  if (!resolved(interval, n)) return `not resolved at n = ${n}`;
  return interval.low > 0 ? 'helps' : 'harms';
}
