/**
 * `iwb evaluate`'s protocol (issue 24 §2) end to end on the micro demo with tiny settings: --holdout with two
 * dampings chooses on the tuning split and reports the held-out block; the text shows the two-way and paired lines;
 * --out JSON is a record the independent recomputation (tests/recompute/lds.ts) agrees with, figure for figure; several
 * settings without --holdout, and a bad --holdout, are usage errors naming the flag.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { cli } from '../helpers/cli';
import { recomputeLdsRecord } from '../recompute/lds';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-evaluate-protocol-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TINY = ['--limit-train', '6', '--limit-queries', '4', '--subsets', '8', '--steps', '3', '--batch-size', '2'];

test('--holdout with two dampings: chosen on the tuning split, reported held out, recorded and recomputed', async () => {
  const out = path.join(dir, 'record.json');
  const args = ['evaluate', ...TINY, '--strategies', 'identity,ekfac', '--damping', 'heuristic:0.01,0.5'];
  const run = await cli([...args, '--holdout', 'queries=0.5,subsets=0.5', '--out', out]);
  expect(run.stderr.split('\n').filter((l) => l.startsWith('iwb'))).toEqual([]);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/held-out report: 2 of 4 queries × 4 of 8 subsets/);
  expect(run.stdout).toMatch(/^ekfac +-?\d\.\d{3} +\[.*damping (heuristic:0\.01|0\.5), fisher sampled \(tuning LDS/m);
  expect(run.stdout).toMatch(/^identity − ekfac +-?\d\.\d{3} +\[.*\] +p = \d\.\d{4} \(exact\), 2 queries/m);

  const record = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown> & {
    candidates: { label: string; strategies: { influence: unknown[] | null }[] }[];
    protocol: { split: { heldOutQueries: number[] }; strategies: { tuning: unknown[] }[] };
    git: unknown;
  };
  expect(record.schema).toBe('iwb-evaluation-record/1');
  expect(record.argv).toEqual([...args, '--holdout', 'queries=0.5,subsets=0.5', '--out', out]);
  expect(record.candidates.map((c) => c.label)).toEqual([
    'damping heuristic:0.01, fisher sampled',
    'damping 0.5, fisher sampled',
  ]);
  expect(record.candidates[0]!.strategies[1]!.influence).toHaveLength(4 * 6);
  expect(record.protocol.split.heldOutQueries).toHaveLength(2);
  expect(record.protocol.strategies[1]!.tuning).toHaveLength(2);
  const checks = recomputeLdsRecord(record);
  const bad = checks.filter((c) =>
    c.recorded === null ? !Number.isNaN(c.recomputed) : !(Math.abs(c.recorded - c.recomputed) <= 1e-9),
  );
  expect(checks.length).toBeGreaterThan(100);
  expect(bad).toEqual([]);
});

test('several settings without --holdout, and a malformed --holdout, are usage errors naming the flag', async () => {
  const several = await cli(['evaluate', ...TINY, '--fisher', 'sampled,empirical']);
  expect(several.code).toBe(2);
  expect(several.stderr).toMatch(/2 damping\/Fisher settings .* give --holdout/);
  const bad = await cli(['evaluate', ...TINY, '--holdout', '1.5']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--holdout: the held-out share "1\.5"/);
  const fisher = await cli(['evaluate', ...TINY, '--fisher', 'sampled,exact']);
  expect(fisher.code).toBe(2);
  expect(fisher.stderr).toMatch(/--fisher/);
});
