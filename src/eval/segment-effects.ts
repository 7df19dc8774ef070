/**
 * The sequence-level question of the after-answer experiment (docs/experiments/sequences.md): per benchmark, does the
 * segment after the answer carry positive influence on held-out queries? From a run with per-token scores, each
 * training example's influence (mean over the benchmark's queries, credited to the predicted tokens as the page does)
 * is summed within each of its segments; then, per training domain, four groups are compared, each as a mean over
 * training examples with a seeded bootstrap 95 % interval (resampling examples):
 *   after   — the after-answer segment of the examples that carry one (after_answer for math, after_code for code);
 *   rest    — the other segments of the same examples, summed per example (the original response);
 *   without — the whole response of the examples without the segment (the same kind of text as `rest`);
 *   labels  — each segment label of the examples with the segment, per occurrence.
 */
import { benchmarkOf, creditedTokenInfluence } from '../influence/aggregate';
import type { AttributionResult } from '../influence/types';
import { bootstrapMean } from './stats';
import type { MeanInterval } from './types';

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
  result: AttributionResult,
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
}

const AFTER_LABEL: Readonly<Record<string, string>> = { math: 'after_answer', code: 'after_code' };

function effect(group: string, members: readonly { sum: number; tokens: number }[], seed: number): GroupEffect {
  const interval = bootstrapMean(
    members.map((m) => m.sum),
    2000,
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
      const groups = [
        effect(
          `${afterLabel} (examples with the segment)`,
          carrying.map((e) => e.segments.at(-1)!),
          seed,
        ),
        effect(
          'rest of the same examples',
          carrying.map((e) => total(e.segments.slice(0, -1))),
          seed,
        ),
        effect(
          'whole response, examples without the segment',
          ofDomain.filter((e) => !e.carries).map((e) => total(e.segments)),
          seed,
        ),
      ];
      const labels = [...new Set(carrying.flatMap((e) => e.segments.slice(0, -1).map((s) => s.label)))].sort();
      for (const label of labels) {
        const members = carrying.flatMap((e) => e.segments.slice(0, -1).filter((s) => s.label === label));
        groups.push(effect(`${label} (per segment, examples with the segment)`, members, seed));
      }
      out.push({ benchmark, domain, afterLabel, groups });
    }
  }
  return out;
}
