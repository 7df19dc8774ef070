/**
 * The sequence-level question of the after-answer experiment (docs/experiments/sequences.md): per benchmark, does the
 * segment after the answer carry positive influence on held-out queries? From a run with per-token scores, each
 * training example's influence (mean over the benchmark's queries, credited to the predicted tokens as the page does)
 * is summed within each of its segments; then, per training domain, four groups are compared, each as a mean over
 * training examples with a seeded bootstrap 95 % interval (resampling examples):
 *   after   — the after-answer segment of the examples that carry one (after_answer for math, after_code for code);
 *   rest    — the other segments of the same examples, summed per example (the original response);
 *   without — the whole response of the examples without the segment (the same kind of text as `rest`);
 *   with    — the whole response of the examples with the segment (after + rest);
 *   labels  — each segment label of the examples with the segment, per occurrence.
 * and three differences, each with its own bootstrap interval: with − without (independent samples: does an example
 * that carries the segment help more?), rest − without (the same kind of text on either side), and after − rest
 * (paired per example: the segment against the rest of its own response). The page's "After the answer" view and
 * `npm run experiment:sequences` both call these functions.
 */
import { benchmarkOf, creditedTokenInfluence } from '../influence/aggregate';
import type { TokenScoredResult } from '../influence/normalize';
import type { ExampleMeta } from '../influence/types';
import { bootstrapMean, bootstrapMeanDifference } from '../core/stats';
import type { MeanInterval } from '../core/stats';

/** The bootstrap's seed and resamples unless told otherwise (the experiment's and the page's). */
export const SEGMENT_SEED = 20261201;
export const SEGMENT_RESAMPLES = 2000;

/** The label of the segment after the answer, per training domain (src/data/segments.ts). */
export const AFTER_LABEL: Readonly<Record<string, string>> = { math: 'after_answer', code: 'after_code' };

/**
 * Whether a training example carries an after-answer segment: its last segment has its domain's after label. In the
 * after-answer demo variant that is exactly the rows given one (the plain GSM8K and MBPP responses end at the answer
 * and at the code, so none of them gets that label from the segmenter; tests/unit/segment-effects.test.ts checks it).
 */
export function carriesAfterSegment(example: ExampleMeta): boolean {
  const label = AFTER_LABEL[example.domain ?? ''];
  return label !== undefined && example.segments?.at(-1)?.label === label;
}

/** The influence of one training example on one benchmark, summed per segment occurrence. */
export interface ExampleSegments {
  readonly id: string;
  readonly domain: string;
  /** Whether the example carries a generated after-answer segment (its last segment). */
  readonly carries: boolean;
  readonly segments: readonly { readonly label: string; readonly sum: number; readonly tokens: number }[];
}

/** Per benchmark (meta.benchmark, else domain), each training example's segment sums; needs per-token scores. */
export function segmentSums(
  result: TokenScoredResult,
  carries: (trainId: string) => boolean,
): Map<string, ExampleSegments[]> {
  const byBenchmark = new Map<string, number[]>();
  result.queries.forEach((q, i) => {
    const name = benchmarkOf(q);
    byBenchmark.set(name, [...(byBenchmark.get(name) ?? []), i]);
  });
  const out = new Map<string, ExampleSegments[]>();
  for (const [benchmark, queries] of byBenchmark) {
    out.set(
      benchmark,
      result.train.map((example, n) => {
        const tokens = creditedTokenInfluence(result, queries, n, 'next-token');
        const segments = (example.segments ?? []).map((s) => {
          let sum = 0;
          for (let t = s.start; t < s.end; t++) sum += tokens[t]!;
          return { label: s.label, sum, tokens: s.end - s.start };
        });
        return { id: example.id, domain: example.domain ?? 'unknown', carries: carries(example.id), segments };
      }),
    );
  }
  return out;
}

export interface GroupEffect extends MeanInterval {
  readonly group: string;
  /** Σ over the group's members. */
  readonly sum: number;
  /** Mean per token: Σ influence / Σ tokens (a ratio, no interval). */
  readonly perToken: number;
}

export interface DomainEffects {
  readonly benchmark: string;
  readonly domain: string;
  readonly afterLabel: string;
  readonly groups: readonly GroupEffect[];
  readonly differences: readonly DifferenceEffect[];
}

export interface DifferenceEffect extends MeanInterval {
  /** "with − without", "rest − without" or "after − rest". */
  readonly comparison: string;
  /** What is compared, in words. */
  readonly detail: string;
  /** Whether the two sides are the same examples (a mean of per-example differences) or independent samples. */
  readonly paired: boolean;
}

function effect(group: string, members: readonly { sum: number; tokens: number }[], seed: number): GroupEffect {
  const interval = bootstrapMean(
    members.map((m) => m.sum),
    SEGMENT_RESAMPLES,
    seed,
  );
  const sum = members.reduce((s, m) => s + m.sum, 0);
  const tokens = members.reduce((s, m) => s + m.tokens, 0);
  return { group, ...interval, sum, perToken: tokens > 0 ? sum / tokens : NaN };
}

/** The four comparisons per benchmark × training domain (see the file's comment); seeded, so reproducible. */
export function segmentEffects(sums: ReadonlyMap<string, readonly ExampleSegments[]>, seed: number): DomainEffects[] {
  const out: DomainEffects[] = [];
  for (const [benchmark, examples] of sums) {
    for (const [domain, afterLabel] of Object.entries(AFTER_LABEL)) {
      const ofDomain = examples.filter((e) => e.domain === domain);
      if (ofDomain.length === 0) continue;
      const carrying = ofDomain.filter((e) => e.carries);
      const total = (segs: ExampleSegments['segments']) => ({
        sum: segs.reduce((s, x) => s + x.sum, 0),
        tokens: segs.reduce((s, x) => s + x.tokens, 0),
      });
      const after = carrying.map((e) => e.segments.at(-1)!);
      const rest = carrying.map((e) => total(e.segments.slice(0, -1)));
      const without = ofDomain.filter((e) => !e.carries).map((e) => total(e.segments));
      const withIt = carrying.map((e) => total(e.segments));
      const groups = [
        effect(`${afterLabel} (examples with the segment)`, after, seed),
        effect('rest of the same examples', rest, seed),
        effect('whole response, examples without the segment', without, seed),
        effect('whole response, examples with the segment', withIt, seed),
      ];
      const sums = (xs: readonly { sum: number }[]) => xs.map((x) => x.sum);
      const differences: DifferenceEffect[] = [
        {
          comparison: 'with − without',
          detail: 'whole response: examples with the segment − examples without',
          paired: false,
          ...bootstrapMeanDifference(sums(withIt), sums(without), SEGMENT_RESAMPLES, seed),
        },
        {
          comparison: 'rest − without',
          detail: 'the original response: examples with the segment (without it) − examples without',
          paired: false,
          ...bootstrapMeanDifference(sums(rest), sums(without), SEGMENT_RESAMPLES, seed),
        },
        {
          comparison: 'after − rest',
          detail: `per example with the segment: its ${afterLabel} − the rest of its response`,
          paired: true,
          ...bootstrapMean(
            after.map((a, i) => a.sum - rest[i]!.sum),
            SEGMENT_RESAMPLES,
            seed,
          ),
        },
      ];
      const labels = [...new Set(carrying.flatMap((e) => e.segments.slice(0, -1).map((s) => s.label)))].sort();
      for (const label of labels) {
        const members = carrying.flatMap((e) => e.segments.slice(0, -1).filter((s) => s.label === label));
        groups.push(effect(`${label} (per segment, examples with the segment)`, members, seed));
      }
      out.push({ benchmark, domain, afterLabel, groups, differences });
    }
  }
  return out;
}
