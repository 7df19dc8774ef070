/**
 * Asking new questions of one fit through `iwb attribute`: `--save-factors DIR` keeps a run's factors with their
 * fingerprint, `--factors DIR` scores new queries against them exactly as a full run would (float64 scores compared
 * through --kronfluence-out's raw τ) and refuses them for other training data or settings, naming what differs;
 * `--measure final-answer` measures each query's answer only and keeps the tokens used in the bundle.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { attributeArgs, cli, microUserFiles, MICRO_DATA, readPairwiseScores } from '../helpers/cli';
import type { RunSummary } from '../../src/cli/summary';
import { decodeBundle } from '../../src/store/bundle';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-ask-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const errors = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('iwb:'));

test('factors saved once score new queries as a full run does (float64, 1e-10), without fitting', async () => {
  const files = microUserFiles(dir);
  const saved = path.join(dir, 'fit');
  const first = await cli(attributeArgs(files, '--quiet', '--save-factors', saved));
  expect(errors(first.stderr)).toEqual([]);
  expect(first.code).toBe(0);
  const fingerprint = JSON.parse(readFileSync(path.join(saved, 'iwb-factors.json'), 'utf8')) as Record<string, unknown>;
  expect(fingerprint).toMatchObject({ format: 'iwb-factors', strategy: 'ekfac', fisher: 'sampled' });
  expect((fingerprint.train as { examples: number }).examples).toBe(16);

  // New questions: two training rows asked as queries, which the fitting run never saw as queries.
  const newQueries = path.join(dir, 'new-queries.jsonl');
  writeFileSync(newQueries, readFileSync(MICRO_DATA.train, 'utf8').split('\n').slice(3, 5).join('\n') + '\n');
  const asked = { ...files, queries: newQueries };
  const full = path.join(dir, 'full');
  const reuse = path.join(dir, 'reuse');
  const json = path.join(dir, 'reuse.json');
  const fullRun = await cli(attributeArgs(asked, '--quiet', '--kronfluence-out', full));
  expect(fullRun.code).toBe(0);
  const reused = await cli(
    attributeArgs(asked, '--quiet', '--factors', saved, '--kronfluence-out', reuse, '--json', json),
  );
  expect(errors(reused.stderr)).toEqual([]);
  expect(reused.code).toBe(0);
  const stages = (JSON.parse(readFileSync(json, 'utf8')) as RunSummary).timings.map((t) => t.stage);
  expect(stages).toEqual(['query', 'scores']);
  const a = readPairwiseScores(full);
  const b = readPairwiseScores(reuse);
  expect(a.length).toBe(2 * 16);
  const scale = Math.max(...a.map(Math.abs));
  expect(scale).toBeGreaterThan(0);
  expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThanOrEqual(1e-10 * scale);

  // Other training data, or another strategy: refused before any pass, naming what differs.
  const fewer = await cli(attributeArgs(asked, '--quiet', '--factors', saved, '--limit-train', '8'));
  expect(fewer.code).not.toBe(0);
  expect(errors(fewer.stderr).join('\n')).toMatch(
    /--factors .*fit: the factors do not belong to this run: the training data \(fitted on 16 examples, sha256 [0-9a-f]{12}…; this run has 8/,
  );
  const empirical = await cli(attributeArgs(asked, '--quiet', '--factors', saved, '--fisher', 'empirical'));
  expect(errors(empirical.stderr).join('\n')).toMatch(
    /the fisher \(fitted with sampled; this run asks for empirical\); the seed \(fitted with 0; this run asks for null\)/,
  );

  // Factors without a fingerprint (kronfluence's layout, here --kronfluence-out's) are not re-saved as if fitted here.
  const resave = await cli(attributeArgs(asked, '--quiet', '--factors', full, '--save-factors', path.join(dir, 'x')));
  expect(errors(resave.stderr).join('\n')).toContain('which has no fingerprint');
}, 240_000);

test('--measure final-answer measures each query’s answer only; the bundle keeps the mode and the tokens measured', async () => {
  const files = microUserFiles(dir, 'micro-measure.onnx');
  const out = path.join(dir, 'answer.iwb');
  const run = await cli(attributeArgs(files, '--quiet', '--measure', 'final-answer', '--out', out));
  expect(errors(run.stderr)).toEqual([]);
  expect(run.code).toBe(0);
  const bundle = await decodeBundle(new Uint8Array(readFileSync(out)));
  expect(bundle.manifest.config.measure).toBe('final-answer');
  const rows = bundle.manifest.rows!.query;
  const counts = bundle.scores.queryTargetCounts!.data;
  rows.forEach((row, q) => {
    expect(row.measured, row.id).toBeDefined();
    const tokens = row.measured!.flatMap((s) => row.tokens!.slice(s.start, s.end)).join('');
    // GSM8K: the number after "####"; MBPP: the function bodies.
    if (row.id.startsWith('gsm8k')) expect(tokens.trim()).toMatch(/^\d+$/);
    else expect(tokens).toMatch(/return|=|for|if/);
    const measured = row.measured!.reduce((sum, s) => sum + s.end - s.start, 0);
    expect(counts[q]).toBe(measured);
    // The query's per-token loss is shown only where the measurement counted.
    row.tokenLoss!.forEach((loss, t) => {
      const inside = row.measured!.some((s) => t >= s.start && t < s.end);
      expect(loss === null, `${row.id} token ${t}`).toBe(!inside);
    });
  });
}, 120_000);
