/**
 * The difficulty-flip record (docs/experiments/records/flip.json, copied to public/experiments/flip.json by
 * scripts/experiment-flip.ts) as the experiments page reads it: only the fields the view shows, each checked, so a
 * damaged or older file gives one message naming the field instead of a half-drawn page.
 */

export interface FlipInterval {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
}

export interface FlipArmRow {
  readonly arm: string;
  readonly group: string;
  readonly seeds: number;
  readonly accuracy: FlipInterval;
  readonly logLikelihood: FlipInterval;
}

export interface FlipComparisonRow {
  readonly a: string;
  readonly b: string;
  readonly group: string;
  readonly metric: string;
  readonly seeds: number;
  readonly interval: FlipInterval;
  readonly p: number;
}

export interface FlipReport {
  readonly commit: string;
  readonly machine: string;
  readonly partial: { readonly runs: number; readonly of: number } | null;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly primaryText: string;
  readonly paperFlip: Readonly<Record<string, string>>;
  readonly influenceChoice: Readonly<Record<string, string | null>>;
  readonly seeds: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly summary: readonly FlipArmRow[];
  readonly comparisons: readonly FlipComparisonRow[];
}

type Json = Record<string, unknown>;
const FILE = 'flip.json';

function obj(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${FILE}: ${path} is not an object`);
  return value as Json;
}
function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${FILE}: ${path} is not a list`);
  return value;
}
function text(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new Error(`${FILE}: ${path} is not text`);
  return value;
}
function num(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${FILE}: ${path} is not a number`);
  return value;
}
function interval(value: unknown, path: string): FlipInterval {
  const v = obj(value, path);
  return { mean: num(v.mean, `${path}.mean`), low: num(v.low, `${path}.low`), high: num(v.high, `${path}.high`) };
}
function texts(value: unknown, path: string): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(value, path)).map(([k, v]) => [k, text(v, `${path}.${k}`)]));
}

export function readFlip(value: unknown): FlipReport {
  const root = obj(value, 'the file');
  const settings = obj(root.settings, 'settings');
  const training = obj(settings.training, 'settings.training');
  const attribution = obj(root.attribution, 'attribution');
  const choice = obj(attribution.choice, 'attribution.choice');
  const partial = root.partial === undefined ? null : obj(root.partial, 'partial');
  return {
    commit: text(root.commit, 'commit'),
    machine: text(root.machine, 'machine'),
    partial: partial ? { runs: num(partial.runs, 'partial.runs'), of: num(partial.of, 'partial.of') } : null,
    wallSeconds: num(root.wallSeconds, 'wallSeconds'),
    cpuSeconds: num(root.cpuSeconds, 'cpuSeconds'),
    primaryText: text(obj(root.preregistered, 'preregistered').primary, 'preregistered.primary'),
    paperFlip: texts(root.paperFlip, 'paperFlip'),
    influenceChoice: Object.fromEntries(
      Object.entries(choice).map(([k, v]) => [k, v === null ? null : text(v, `attribution.choice.${k}`)]),
    ),
    seeds: list(settings.seeds, 'settings.seeds').length,
    steps: num(training.steps, 'settings.training.steps'),
    batchSize: num(training.batchSize, 'settings.training.batchSize'),
    summary: list(root.summary, 'summary').map((r, i) => {
      const row = obj(r, `summary[${i}]`);
      const p = `summary[${i}]`;
      return {
        arm: text(row.arm, `${p}.arm`),
        group: text(row.group, `${p}.group`),
        seeds: num(row.seeds, `${p}.seeds`),
        accuracy: interval(row.accuracy, `${p}.accuracy`),
        logLikelihood: interval(row.logLikelihood, `${p}.logLikelihood`),
      };
    }),
    comparisons: list(root.comparisons, 'comparisons').map((c, i) => {
      const row = obj(c, `comparisons[${i}]`);
      const p = `comparisons[${i}]`;
      return {
        a: text(row.a, `${p}.a`),
        b: text(row.b, `${p}.b`),
        group: text(row.group, `${p}.group`),
        metric: text(row.metric, `${p}.metric`),
        seeds: list(row.seeds, `${p}.seeds`).length,
        interval: interval(row.interval, `${p}.interval`),
        p: num(row.p, `${p}.p`),
      };
    }),
  };
}
