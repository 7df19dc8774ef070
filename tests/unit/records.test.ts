// Every committed experiment record is recomputed independently (tests/recompute/, no src/eval imports) and every
// figure a doc table quotes from a record is checked against the recomputation (issue 24 §1). A doc table that quotes
// a record starts with the comment `<!-- record: FILE -->` (FILE relative to docs/experiments/); its rows are parsed
// by `docFigures` below.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recomputeFlipRecord } from '../recompute/flip';
import { recomputeLdsRecord, type Check } from '../recompute/lds';
import { recomputeGroupRecord, type GroupRecord } from '../recompute/groups';
import { recomputeReweightingRecord } from '../recompute/reweighting';
import { recomputeSequencesRecord } from '../recompute/sequences';

const ROOT = path.resolve(__dirname, '../..');
const RECORDS = path.join(ROOT, 'docs/experiments/records');
const MAX_BYTES = 2 * 1024 * 1024;

function expectAgree(checks: readonly Check[]): void {
  expect(checks.length).toBeGreaterThan(0);
  const bad = checks.filter((c) =>
    c.recorded === null
      ? !Number.isNaN(c.recomputed)
      : !(Math.abs(c.recorded - c.recomputed) <= 1e-9 * Math.max(1, Math.abs(c.recorded))),
  );
  expect(bad.slice(0, 5)).toEqual([]);
}

// Records of other experiments, each recomputed by its own block below.
const OTHER_RECORDS = new Set(['flip.json']);
const ldsRecords = readdirSync(RECORDS)
  .filter((f) => f.endsWith('.json') && !OTHER_RECORDS.has(f))
  .map((f) => path.join(RECORDS, f));

/** `| strategy | 0.123 | [0.045, 0.210] | …` rows after `<!-- record: FILE -->`, until the table ends. */
function docFigures(doc: string, record: string): { label: string; numbers: number[] }[] {
  const text = readFileSync(path.join(ROOT, 'docs/experiments', doc), 'utf8');
  const at = text.indexOf(`<!-- record: ${record} -->`);
  if (at < 0) return [];
  const rows: { label: string; numbers: number[] }[] = [];
  for (const line of text.slice(at).split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (rows.length > 0 || line.trim() !== '') break;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.every((c) => /^[-: ]+$/.test(c))) continue;
    const numbers = cells.slice(1).flatMap((c) => (c.replace(/−/g, '-').match(/-?\d+\.\d+/g) ?? []).map(Number));
    if (numbers.length > 0) rows.push({ label: cells[0]!.replace(/\*/g, ''), numbers });
  }
  return rows;
}

describe('evaluation records (docs/experiments/records)', () => {
  it('there is at least one, and each is at most 2 MB', () => {
    expect(ldsRecords.length).toBeGreaterThan(0);
    for (const file of ldsRecords) expect(statSync(file).size).toBeLessThanOrEqual(MAX_BYTES);
  });

  for (const file of ldsRecords) {
    it(`${path.basename(file)}: every figure recomputes from the record alone`, () => {
      const record = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      expect(record.schema).toBe('iwb-evaluation-record/1');
      for (const key of ['git', 'machine', 'argv', 'wallSeconds', 'cpuSeconds', 'config', 'training'])
        expect(record[key], key).toBeTruthy();
      expectAgree(recomputeLdsRecord(record));
    });
  }

  it('a record with one retrained measurement or one choice changed no longer recomputes', () => {
    const record = JSON.parse(readFileSync(ldsRecords[0]!, 'utf8')) as Record<string, unknown> & {
      subsetMeasurements: number[];
      protocol: { strategies: { chosen: string; tuning: { candidate: string }[] }[] };
    };
    const disagree = (r: Record<string, unknown>) =>
      recomputeLdsRecord(r).filter(
        (c) =>
          c.recorded !== null && !(Math.abs(c.recorded - c.recomputed) <= 1e-9 * Math.max(1, Math.abs(c.recorded))),
      ).length;
    const moved = structuredClone(record);
    moved.subsetMeasurements[0] = moved.subsetMeasurements[0]! + 1;
    expect(disagree(moved)).toBeGreaterThan(0);
    const rechosen = structuredClone(record);
    const strategy = rechosen.protocol.strategies.find((s) => s.tuning.length > 1)!;
    strategy.chosen = strategy.tuning.find((t) => t.candidate !== strategy.chosen)!.candidate;
    expect(disagree(rechosen)).toBeGreaterThan(0);
  });

  for (const name of ['lds-micro.json', 'lds-demo32.json']) {
    it(`the held-out LDS and paired rows lds.md quotes are ${name}'s`, () => {
      const record = JSON.parse(readFileSync(path.join(RECORDS, name), 'utf8')) as {
        protocol: {
          strategies: { strategy: string; lds: { mean: number; low: number; high: number } }[];
          paired: { a: string; b: string; difference: { mean: number; low: number; high: number }; p: number }[];
        };
      };
      const rows = docFigures('lds.md', `records/${name}`);
      const round = (v: number) => Number(v.toFixed(3));
      let seen = 0;
      for (const s of record.protocol.strategies) {
        const row = rows.find((r) => r.label === s.strategy);
        if (!row) continue;
        seen++;
        expect(row.numbers.slice(0, 3)).toEqual([s.lds.mean, s.lds.low, s.lds.high].map(round));
      }
      for (const p of record.protocol.paired) {
        const row = rows.find((r) => r.label === `${p.a} − ${p.b}`);
        if (!row) continue;
        seen++;
        const expected = [p.difference.mean, p.difference.low, p.difference.high, p.p].map(round);
        expect(row.numbers.slice(0, 4)).toEqual(expected);
      }
      expect(seen).toBeGreaterThanOrEqual(6);
    });
  }
});

describe('MLP-only vs MLP + attention (docs/experiments/track-micro.json)', () => {
  type Interval = { mean: number; low: number; high: number };
  type Side = { chosen: string; lds: Interval; perQuery: number[] };
  const comparison = JSON.parse(readFileSync(path.join(ROOT, 'docs/experiments/track-micro.json'), 'utf8')) as {
    first: { record: string; tracked: string };
    second: { record: string; tracked: string };
    strategies: {
      strategy: string;
      first: Side;
      second: Side;
      difference: Interval & { perQuery: number[] };
      signFlip: { p: number };
      resolved: boolean;
    }[];
  };
  const record = (file: string) =>
    JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as {
      tracked: string;
      subsetMeasurements: number[];
      protocol: { strategies: { strategy: string; chosen: string; perQuery: number[]; lds: Interval }[] };
    };
  const first = record(comparison.first.record);
  const second = record(comparison.second.record);

  it('pairs two records of one set of retrains, each tracking as it says; each side is its record’s held-out LDS', () => {
    expect([first.tracked, second.tracked]).toEqual(['mlp', 'all']);
    expect(second.subsetMeasurements).toEqual(first.subsetMeasurements);
    // The records' own figures are recomputed independently above (every record in docs/experiments/records).
    for (const s of comparison.strategies) {
      for (const [side, rec] of [
        [s.first, first],
        [s.second, second],
      ] as const) {
        const own = rec.protocol.strategies.find((r) => r.strategy === s.strategy)!;
        expect(side.chosen).toBe(own.chosen);
        expect(side.perQuery).toEqual(own.perQuery);
        expect(side.lds.mean).toBeCloseTo(own.lds.mean, 12);
      }
      // The paired difference per held-out query (second − first), its mean, and whether its interval excludes 0.
      const d = s.second.perQuery.map((v, i) => v - s.first.perQuery[i]!);
      expect(s.difference.perQuery).toEqual(d);
      expect(s.difference.mean).toBeCloseTo(d.reduce((a, b) => a + b, 0) / d.length, 12);
      expect(s.difference.low).toBeLessThanOrEqual(s.difference.mean);
      expect(s.difference.high).toBeGreaterThanOrEqual(s.difference.mean);
      expect(s.resolved).toBe(s.difference.low > 0 || s.difference.high < 0);
    }
  });

  it('the rows lds.md quotes are the comparison’s', () => {
    const rows = docFigures('lds.md', 'track-micro.json');
    const round = (v: number) => Number(v.toFixed(3));
    expect(rows.map((r) => r.label)).toEqual(comparison.strategies.map((s) => s.strategy));
    for (const s of comparison.strategies) {
      const row = rows.find((r) => r.label === s.strategy)!;
      expect(row.numbers).toEqual(
        [s.first.lds.mean, s.second.lds.mean, s.difference.mean, s.difference.low, s.difference.high, s.signFlip.p].map(
          round,
        ),
      );
    }
  });
});

describe('reweighting record (public/experiments/reweighting.json)', () => {
  const record = JSON.parse(readFileSync(path.join(ROOT, 'public/experiments/reweighting.json'), 'utf8'));
  const { checks, flippedMinusRandom } = recomputeReweightingRecord(record);

  it('is at most 2 MB, and each arm’s mean, t interval and paired difference recompute from its runs', () => {
    expect(statSync(path.join(ROOT, 'public/experiments/reweighting.json')).size).toBeLessThanOrEqual(MAX_BYTES);
    expectAgree(checks);
  });

  it('the flipped − random figures reweighting.md quotes are the record’s', () => {
    const rows = docFigures('reweighting.md', '../../public/experiments/reweighting.json');
    const round = (v: number) => Number(v.toFixed(3));
    for (const benchmark of ['GSM8K', 'MBPP']) {
      const t = flippedMinusRandom[benchmark] as { mean: number; low: number; high: number };
      const row = rows.find((r) => r.label === benchmark);
      expect(row, benchmark).toBeDefined();
      expect(row!.numbers.slice(0, 3)).toEqual([t.mean, t.low, t.high].map(round));
    }
  });
});

describe('difficulty-flip record (docs/experiments/records/flip.json)', () => {
  const file = path.join(RECORDS, 'flip.json');
  const record = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const recomputed = recomputeFlipRecord(record);

  it('is complete, at most 2 MB, with its configuration, pre-registration, commit and machine', () => {
    expect(statSync(file).size).toBeLessThanOrEqual(MAX_BYTES);
    for (const key of ['commit', 'machine', 'settings', 'preregistered', 'attribution', 'cpuSeconds', 'runs'])
      expect(record[key], key).toBeTruthy();
    expect(record.partial).toBeUndefined();
    const settings = record.settings as { seeds: number[]; arms: string[] };
    expect(settings.seeds.length).toBeGreaterThanOrEqual(20);
    expect((record.runs as unknown[]).length).toBe(settings.seeds.length * settings.arms.length);
    expect(recomputed.primary.seeds).toBe(settings.seeds.length);
    // The experiments page reads this copy.
    expect(readFileSync(path.join(ROOT, 'public/experiments/flip.json'), 'utf8')).toBe(readFileSync(file, 'utf8'));
  });

  it('every run, arm mean, interval, paired difference and p-value recomputes from the runs', () => {
    expectAgree(recomputed.checks);
    const bad = recomputed.approximate.filter((c) => !(Math.abs(c.recorded! - c.recomputed) <= c.tolerance));
    expect(bad.slice(0, 5)).toEqual([]);
    expect(recomputed.approximate.length).toBeGreaterThan(0);
  });

  it('a record with one measurement changed no longer recomputes', () => {
    const moved = structuredClone(record) as { runs: { scores: { all: { accuracy: number } } }[] };
    moved.runs[1]!.scores.all.accuracy += 0.01;
    expect(() => expectAgree(recomputeFlipRecord(moved as unknown as Record<string, unknown>).checks)).toThrow();
  });

  it('the primary comparison reweighting.md quotes is the recomputed one', () => {
    const rows = docFigures('reweighting.md', 'records/flip.json');
    const row = rows.find((r) => r.label === 'flip − random (primary)');
    expect(row).toBeDefined();
    const p = recomputed.primary;
    expect(row!.numbers.slice(0, 4)).toEqual([p.mean, p.low, p.high, p.p].map((v) => Number(v.toFixed(3))));
  });
});

describe('after-answer records (bench/sequences, bench/sequences-48)', () => {
  for (const dir of ['bench/sequences', 'bench/sequences-48']) {
    it(`${dir}: every group and difference (mean, bootstrap interval, sum, per token) recomputes from sums.json`, () => {
      const read = (file: string) => JSON.parse(readFileSync(path.join(ROOT, dir, file), 'utf8'));
      for (const file of ['result.json', 'sums.json'])
        expect(statSync(path.join(ROOT, dir, file)).size).toBeLessThanOrEqual(MAX_BYTES);
      expectAgree(recomputeSequencesRecord(read('result.json'), read('sums.json')));
    });
  }
});

describe('group-evidence records (docs/experiments/records/groups, iwb evaluate --groups)', () => {
  const dir = path.join(RECORDS, 'groups');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => path.join(dir, f));
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as GroupRecord & Record<string, unknown>;

  it('there is at least one, each at most 2 MB', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(statSync(file).size).toBeLessThanOrEqual(MAX_BYTES);
  });

  for (const file of [...files, path.join(ROOT, 'tests/fixtures/groups/record.json')]) {
    it(`${path.basename(file)}: predictions, paired changes and every statistic recompute from the record alone`, () => {
      const record = read(file);
      expect(record.schema).toBe('iwb-group-evidence-record/1');
      for (const key of ['git', 'machine', 'command', 'settings', 'models', 'evidence'])
        expect(record[key], key).toBeTruthy();
      expectAgree(recomputeGroupRecord(record).checks);
    });
  }

  it('the page reads exact copies (public/experiments/groups-*.json), and groups.md quotes each record’s figures', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const name of files.map((f) => path.basename(f))) {
      const record = readFileSync(path.join(dir, name), 'utf8');
      expect(readFileSync(path.join(ROOT, `public/experiments/groups-${name}`), 'utf8')).toBe(record);
      const { evidence } = recomputeGroupRecord(JSON.parse(record) as GroupRecord);
      const rows = docFigures('groups.md', `records/groups/${name}`);
      const round = (v: number | null) => (v === null ? [] : [Number(v.toFixed(3))]);
      for (const [benchmark, e] of Object.entries(evidence)) {
        const row = rows.find((r) => r.label === benchmark);
        expect(row, `${name} ${benchmark}`).toBeDefined();
        const estimates = [e.slopeThroughOrigin, e.slope, e.signAccuracy, e.groupLds];
        expect(row!.numbers).toEqual([
          ...estimates.flatMap((x) => [x.value, x.low, x.high].flatMap(round)),
          ...round(e.reliability),
          ...round(e.normalisedLds),
        ]);
      }
    }
  });

  it('a record with one retrained measurement or one influence value changed no longer recomputes', () => {
    const record = read(path.join(ROOT, 'tests/fixtures/groups/record.json'));
    const disagree = (r: GroupRecord) =>
      recomputeGroupRecord(r).checks.filter(
        (c) =>
          c.recorded !== null && !(Math.abs(c.recorded - c.recomputed) <= 1e-9 * Math.max(1, Math.abs(c.recorded))),
      ).length;
    const moved = structuredClone(record);
    const run = moved.runs.find((r) => r.key !== 'baseline')!;
    run.byBenchmark[moved.benchmarks[0]!] = run.byBenchmark[moved.benchmarks[0]!]! + 0.01;
    expect(disagree(moved)).toBeGreaterThan(0);
    const influenced = structuredClone(record);
    influenced.influence[influenced.benchmarks[0]!]![0] = influenced.influence[influenced.benchmarks[0]!]![0]! + 1;
    expect(disagree(influenced)).toBeGreaterThan(0);
  });
});
