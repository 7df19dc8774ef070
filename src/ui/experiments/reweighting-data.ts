/**
 * The reweighting experiment's result file (public/experiments/reweighting.json, written by
 * scripts/experiment-reweight.ts) as the page reads it: only the fields the view shows, each checked, so a damaged
 * or older file gives one message naming the field instead of a half-drawn page.
 */

export interface Interval {
  readonly mean: number;
  /** null: one seed only, no interval. */
  readonly low: number | null;
  readonly high: number | null;
  readonly n: number;
}

export interface ArmRow {
  readonly arm: string;
  readonly benchmark: string;
  readonly seeds: number;
  readonly logLikelihood: Interval;
  readonly exactMatch: Interval;
  readonly vsOriginal: Interval | null;
}

export interface CellRow {
  readonly domain: string;
  readonly difficulty: string;
  readonly boosted: boolean;
  readonly score: number;
  readonly weight: number;
  readonly originalShare: number;
  readonly share: number;
}

export interface ReweightingReport {
  readonly command: string;
  readonly machine: string;
  /** null: a partial report written while the experiment was still running. */
  readonly wallSeconds: number | null;
  readonly cpuSeconds: number | null;
  readonly partial: { readonly runs: number; readonly of: number } | null;
  readonly loads: readonly string[];
  readonly models: { readonly attributed: string; readonly retrained: string };
  readonly rule: { readonly boost: number; readonly text: string };
  readonly training: { readonly steps: number; readonly batchSize: number };
  readonly poolSize: number;
  readonly heldOut: Readonly<Record<string, number>>;
  readonly tableQueries: Readonly<Record<string, number>>;
  readonly subsetSize: number;
  readonly arms: readonly { readonly arm: string; readonly description: string }[];
  readonly cells: readonly CellRow[];
  readonly summary: readonly ArmRow[];
}

type Json = Record<string, unknown>;

function field(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`reweighting.json: ${path} is not an object`);
  return value as Json;
}
function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`reweighting.json: ${path} is not a list`);
  return value;
}
function text(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new Error(`reweighting.json: ${path} is not text`);
  return value;
}
function num(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`reweighting.json: ${path} is not a number`);
  return value;
}
function numOrNull(value: unknown, path: string): number | null {
  return value === null ? null : num(value, path);
}
function counts(value: unknown, path: string): Record<string, number> {
  const record = field(value, path);
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, num(v, `${path}.${k}`)]));
}
function interval(value: unknown, path: string): Interval {
  const v = field(value, path);
  return {
    mean: num(v.mean, `${path}.mean`),
    low: numOrNull(v.low, `${path}.low`),
    high: numOrNull(v.high, `${path}.high`),
    n: num(v.n, `${path}.n`),
  };
}

export function readReweighting(value: unknown): ReweightingReport {
  const root = field(value, 'the file');
  const settings = field(root.settings, 'settings');
  const rule = field(settings.rule, 'settings.rule');
  const training = field(settings.training, 'settings.training');
  const segments = list(root.segments, 'segments').map((s, i) => field(s, `segments[${i}]`));
  const models = field(root.models, 'models');
  return {
    command: text(root.command, 'command'),
    machine: text(root.machine, 'machine'),
    wallSeconds: numOrNull(root.wallSeconds, 'wallSeconds'),
    cpuSeconds: numOrNull(root.cpuSeconds, 'cpuSeconds'),
    partial:
      root.partial === undefined
        ? null
        : {
            runs: num(field(root.partial, 'partial').runs, 'partial.runs'),
            of: num(field(root.partial, 'partial').of, 'partial.of'),
          },
    loads: segments.map((s, i) => {
      const before = list(s.loadBefore, `segments[${i}].loadBefore`).map((v) => num(v, `segments[${i}].loadBefore`));
      const after = list(s.loadAfter, `segments[${i}].loadAfter`).map((v) => num(v, `segments[${i}].loadAfter`));
      return `${before.join(' / ')} → ${after.join(' / ')}`;
    }),
    models: {
      attributed: text(models.attributed, 'models.attributed'),
      retrained: text(models.retrained, 'models.retrained'),
    },
    rule: { boost: num(rule.boost, 'settings.rule.boost'), text: text(rule.text, 'settings.rule.text') },
    training: {
      steps: num(training.steps, 'settings.training.steps'),
      batchSize: num(training.batchSize, 'settings.training.batchSize'),
    },
    poolSize: num(field(root.pool, 'pool').size, 'pool.size'),
    heldOut: counts(root.heldOutQueries, 'heldOutQueries'),
    tableQueries: counts(root.tableQueries, 'tableQueries'),
    subsetSize: num(field(root.topSubset, 'topSubset').size, 'topSubset.size'),
    arms: list(root.arms, 'arms').map((a, i) => {
      const arm = field(a, `arms[${i}]`);
      return { arm: text(arm.arm, `arms[${i}].arm`), description: text(arm.description, `arms[${i}].description`) };
    }),
    cells: list(root.cells, 'cells').map((c, i) => {
      const cell = field(c, `cells[${i}]`);
      const p = `cells[${i}]`;
      return {
        domain: text(cell.domain, `${p}.domain`),
        difficulty: text(cell.difficulty, `${p}.difficulty`),
        boosted: cell.boosted === true,
        score: num(cell.score, `${p}.score`),
        weight: num(cell.weight, `${p}.weight`),
        originalShare: num(cell.originalShare, `${p}.originalShare`),
        share: num(cell.share, `${p}.share`),
      };
    }),
    summary: list(root.summary, 'summary').map((r, i) => {
      const row = field(r, `summary[${i}]`);
      const p = `summary[${i}]`;
      return {
        arm: text(row.arm, `${p}.arm`),
        benchmark: text(row.benchmark, `${p}.benchmark`),
        seeds: num(row.seeds, `${p}.seeds`),
        logLikelihood: interval(row.logLikelihood, `${p}.logLikelihood`),
        exactMatch: interval(row.exactMatch, `${p}.exactMatch`),
        vsOriginal: row.vsOriginal === null ? null : interval(row.vsOriginal, `${p}.vsOriginal`),
      };
    }),
  };
}

/** How the view writes a number (the e2e test formats the JSON's numbers the same way). */
export function formatValue(value: number | null, digits = 4): string {
  return value === null ? '–' : value.toFixed(digits).replace('-', '−');
}
