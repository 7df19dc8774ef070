/**
 * Independent recomputation of the after-answer experiment's records (result.json from the sums in sums.json, in
 * bench/sequences and bench/sequences-48; docs/experiments/sequences.md), importing nothing from the project.
 * Per benchmark and training domain: the after segment of the examples that carry one (their last segment), the
 * rest of the same examples, the whole response of the examples without it and with it, each segment label per
 * occurrence; each a mean over members with the percentile bootstrap (2000 resamples, generator seeded by the
 * record's seed, one stream per group) — reproduced draw for draw — its sum and its per-token mean; and the three
 * differences (with − without and rest − without: independent samples, each resample drawing the left side then the
 * right; after − rest: paired).
 */
import type { Check } from './lds';
import { generator } from './rng';

type Json = Record<string, unknown>;
interface Segment {
  label: string;
  sum: number;
  tokens: number;
}
interface Example {
  domain: string;
  carries: boolean;
  segments: Segment[];
}

const AFTER: Record<string, string> = { math: 'after_answer', code: 'after_code' };
const RESAMPLES = 2000;

function percentileOf(sorted: number[], p: number): number {
  const position = p * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (position - below) * (sorted[above]! - sorted[below]!);
}

const average = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;

function bootstrap(values: number[], seed: number): { mean: number; low: number; high: number } {
  const u = generator(seed);
  const means: number[] = [];
  for (let s = 0; s < RESAMPLES; s++) {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[Math.floor(u() * values.length)]!;
    means.push(sum / values.length);
  }
  means.sort((a, b) => a - b);
  return { mean: average(values), low: percentileOf(means, 0.025), high: percentileOf(means, 0.975) };
}

function bootstrapDifference(a: number[], b: number[], seed: number): { mean: number; low: number; high: number } {
  const u = generator(seed);
  const draw = (x: number[]) => {
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += x[Math.floor(u() * x.length)]!;
    return sum / x.length;
  };
  const diffs: number[] = [];
  for (let s = 0; s < RESAMPLES; s++) diffs.push(draw(a) - draw(b));
  diffs.sort((x, y) => x - y);
  return { mean: average(a) - average(b), low: percentileOf(diffs, 0.025), high: percentileOf(diffs, 0.975) };
}

export function recomputeSequencesRecord(result: Json, sums: Record<string, Example[]>): Check[] {
  const checks: Check[] = [];
  const seed = result.seed as number;
  for (const effect of result.effects as Json[]) {
    const benchmark = effect.benchmark as string;
    const domain = effect.domain as string;
    const examples = sums[benchmark]!.filter((e) => e.domain === domain);
    const carrying = examples.filter((e) => e.carries);
    const total = (segs: Segment[]) => ({
      sum: segs.reduce((s, x) => s + x.sum, 0),
      tokens: segs.reduce((s, x) => s + x.tokens, 0),
    });
    const after = carrying.map((e) => e.segments[e.segments.length - 1]!);
    const rest = carrying.map((e) => total(e.segments.slice(0, -1)));
    const without = examples.filter((e) => !e.carries).map((e) => total(e.segments));
    const withIt = carrying.map((e) => total(e.segments));
    const members = new Map<string, { sum: number; tokens: number }[]>([
      [`${AFTER[domain]} (examples with the segment)`, after],
      ['rest of the same examples', rest],
      ['whole response, examples without the segment', without],
      ['whole response, examples with the segment', withIt],
    ]);
    for (const e of carrying)
      for (const s of e.segments.slice(0, -1)) {
        const key = `${s.label} (per segment, examples with the segment)`;
        members.set(key, [...(members.get(key) ?? []), s]);
      }
    const name = `${benchmark} ← ${domain}`;
    for (const group of effect.groups as Json[]) {
      const m = members.get(group.group as string);
      if (!m) throw new Error(`sequences record: no members for group "${group.group as string}"`);
      const sums_ = m.map((x) => x.sum);
      const b = bootstrap(sums_, seed);
      const total_ = sums_.reduce((s, v) => s + v, 0);
      const tokens = m.reduce((s, x) => s + x.tokens, 0);
      const at = `${name}, ${group.group as string}`;
      checks.push({ name: `${at}: count`, recorded: group.count as number, recomputed: m.length });
      checks.push({ name: `${at}: mean`, recorded: group.mean as number, recomputed: b.mean });
      checks.push({ name: `${at}: low`, recorded: group.low as number, recomputed: b.low });
      checks.push({ name: `${at}: high`, recorded: group.high as number, recomputed: b.high });
      checks.push({ name: `${at}: sum`, recorded: group.sum as number, recomputed: total_ });
      checks.push({ name: `${at}: per token`, recorded: group.perToken as number, recomputed: total_ / tokens });
    }
    const s = (x: { sum: number }[]) => x.map((v) => v.sum);
    const expected: Record<string, { mean: number; low: number; high: number }> = {
      'with − without': bootstrapDifference(s(withIt), s(without), seed),
      'rest − without': bootstrapDifference(s(rest), s(without), seed),
      'after − rest': bootstrap(
        after.map((a, i) => a.sum - rest[i]!.sum),
        seed,
      ),
    };
    for (const d of (effect.differences as Json[] | undefined) ?? []) {
      const e = expected[d.comparison as string]!;
      const at = `${name}, ${d.comparison as string}`;
      checks.push({ name: `${at}: mean`, recorded: d.mean as number, recomputed: e.mean });
      checks.push({ name: `${at}: low`, recorded: d.low as number, recomputed: e.low });
      checks.push({ name: `${at}: high`, recorded: d.high as number, recomputed: e.high });
    }
  }
  return checks;
}
