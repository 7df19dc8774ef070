/**
 * A group-evidence record (`iwb evaluate --groups … --out record.json`, docs/experiments/records/groups/) as the
 * page's Evidence panel reads it: only the fields it shows, each checked, so a damaged or older file gives one
 * message naming the field instead of a half-drawn panel. Per point (group × arm × benchmark) the mean actual change
 * over seeds with a Student-t 95 % interval is computed here (a few lines of float64; the statistics themselves are
 * the record's, computed by src/eval/group-evidence.ts and recomputed by tests/recompute/groups.ts).
 */

export interface EvidenceEstimate {
  readonly value: number;
  readonly low: number;
  readonly high: number;
}

export interface BenchmarkEvidence {
  readonly points: number;
  readonly seeds: number;
  readonly slopeThroughOrigin: EvidenceEstimate;
  readonly slope: EvidenceEstimate;
  readonly signAccuracy: EvidenceEstimate;
  readonly groupLds: EvidenceEstimate;
  readonly reliability: number;
  readonly normalisedLds: number | null;
}

export interface EvidencePoint {
  readonly group: string;
  readonly arm: string;
  readonly benchmark: string;
  readonly size: number;
  readonly predicted: number;
  /** Mean over seeds of arm − baseline, with a t 95 % interval (null for one seed). */
  readonly actual: number;
  readonly low: number | null;
  readonly high: number | null;
  readonly seeds: number;
}

export interface GroupEvidenceReport {
  readonly command: string;
  readonly groups: string;
  readonly track: string;
  readonly factor: number;
  readonly seeds: number;
  readonly retrained: string;
  readonly attributed: string;
  readonly benchmarks: readonly string[];
  readonly points: readonly EvidencePoint[];
  readonly evidence: Readonly<Record<string, BenchmarkEvidence>>;
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`group evidence record: ${path} is not an object`);
  return value as Json;
}
function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`group evidence record: ${path} is not a list`);
  return value;
}
function text(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new Error(`group evidence record: ${path} is not text`);
  return value;
}
function num(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`group evidence record: ${path} is not a finite number`);
  return value;
}
function estimate(value: unknown, path: string): EvidenceEstimate {
  const e = object(value, path);
  return { value: num(e.value, `${path}.value`), low: num(e.low, `${path}.low`), high: num(e.high, `${path}.high`) };
}

/** t_{0.975, df}, df = 1 … 30 (tables); beyond, the normal 1.96 is within 2 %. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function seedInterval(values: readonly number[]): { mean: number; low: number | null; high: number | null } {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, low: null, high: null };
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  const half = (T975[n - 2] ?? 1.96) * Math.sqrt(variance / n);
  return { mean, low: mean - half, high: mean + half };
}

export function readGroupEvidence(value: unknown): GroupEvidenceReport {
  const r = object(value, 'the file');
  if (r.schema !== 'iwb-group-evidence-record/1')
    throw new Error(`group evidence record: schema is ${JSON.stringify(r.schema)}, not "iwb-group-evidence-record/1"`);
  const settings = object(r.settings, 'settings');
  const models = object(r.models, 'models');
  const benchmarks = list(r.benchmarks, 'benchmarks').map((b, i) => text(b, `benchmarks[${i}]`));
  const seeds = list(r.seeds, 'seeds').length;
  const evidenceJson = r.evidence === null ? null : object(r.evidence, 'evidence');
  if (evidenceJson === null) throw new Error('group evidence record: evidence is null (fewer than 2 seeds complete)');
  const evidence: Record<string, BenchmarkEvidence> = {};
  for (const b of benchmarks) {
    const p = `evidence.${b}`;
    const e = object(evidenceJson[b], p);
    evidence[b] = {
      points: num(e.points, `${p}.points`),
      seeds: num(e.seeds, `${p}.seeds`),
      slopeThroughOrigin: estimate(e.slopeThroughOrigin, `${p}.slopeThroughOrigin`),
      slope: estimate(e.slope, `${p}.slope`),
      signAccuracy: estimate(e.signAccuracy, `${p}.signAccuracy`),
      groupLds: estimate(e.groupLds, `${p}.groupLds`),
      reliability: num(e.reliability, `${p}.reliability`),
      normalisedLds: e.normalisedLds === null ? null : num(e.normalisedLds, `${p}.normalisedLds`),
    };
  }
  const points: EvidencePoint[] = list(r.arms, 'arms').flatMap((value, i) => {
    const a = object(value, `arms[${i}]`);
    const predicted = object(a.predicted, `arms[${i}].predicted`);
    const actual = object(a.actual, `arms[${i}].actual`);
    return benchmarks.map((b) => {
      const values = list(actual[b], `arms[${i}].actual.${b}`).map((v, s) => num(v, `arms[${i}].actual.${b}[${s}]`));
      const t = seedInterval(values);
      return {
        group: text(a.group, `arms[${i}].group`),
        arm: text(a.arm, `arms[${i}].arm`),
        benchmark: b,
        size: num(a.size, `arms[${i}].size`),
        predicted: num(predicted[b], `arms[${i}].predicted.${b}`),
        actual: t.mean,
        low: t.low,
        high: t.high,
        seeds: values.length,
      };
    });
  });
  return {
    command: text(r.command, 'command'),
    groups: text(settings.groups, 'settings.groups'),
    track: text(settings.track, 'settings.track'),
    factor: num(settings.factor, 'settings.factor'),
    seeds,
    retrained: text(models.retrained, 'models.retrained'),
    attributed: text(models.attributed, 'models.attributed'),
    benchmarks,
    points,
    evidence,
  };
}

/** Small changes in nats: 3 significant digits, a true minus sign. */
export function formatChange(value: number | null): string {
  if (value === null) return '–';
  return Number(value.toPrecision(3)).toString().replace('-', '−');
}
