/**
 * `iwb attribute` in-process on micro inputs: the demo path, the user-files path, the --json summary and the .iwb
 * bundle.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { attributeArgs, cli, microUserFiles } from '../helpers/cli';
import type { RunSummary } from '../../src/cli/summary';
import { decodeBundle } from '../../src/store/bundle';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('user files: --json has per-query top 10 helpful and harmful ids, the cross-domain table and stage timings; --out is a valid bundle', async () => {
  const files = microUserFiles(dir);
  const json = path.join(dir, 'summary.json');
  const out = path.join(dir, 'result.iwb');
  const { code, stdout, stderr } = await cli(attributeArgs(files, '--json', json, '--out', out));
  expect(stderr.split('\n').filter((l) => l.startsWith('iwb:'))).toEqual([]);
  // Not a terminal: one progress line per engine stage, the query stage's included, each at its total.
  const progress = stderr.split('\n').filter((l) => /^[a-z]+: \d+\/\d+ /.test(l));
  expect(progress.map((l) => l.slice(0, l.indexOf(':')))).toEqual(['covariance', 'eigen', 'lambda', 'query', 'scores']);
  expect(progress[3]).toMatch(/^query: 4\/4 queries \([\d.e+]+ queries\/s, 0 s left\)$/);
  expect(code).toBe(0);
  expect(stdout).toMatch(/4 queries x 16 training examples, 2 tracked layers, strategy ekfac/);
  // Each output named with the bytes written (issue 20 §5).
  expect(stdout).toContain(`wrote --out ${out} (${statSync(out).size} bytes)`);
  expect(stdout).toContain(`wrote --json ${json} (${statSync(json).size} bytes)`);

  const summary = JSON.parse(readFileSync(json, 'utf8')) as RunSummary;
  expect(summary.backend).toMatchObject({ kind: 'cpu', reason: 'CPU backend requested' });
  expect(summary.queries.map((q) => q.id)).toEqual(['gsm8k-test-00134', 'gsm8k-test-00190', 'mbpp-234', 'mbpp-268']);
  for (const query of summary.queries) {
    // 16 training examples: every one is helpful or harmful, and each list holds at most 10.
    expect(query.helpful.length).toBeLessThanOrEqual(10);
    expect(query.harmful.length).toBeLessThanOrEqual(10);
    expect(query.helpful.length + query.harmful.length).toBeGreaterThanOrEqual(Math.min(16, 10));
    expect(
      query.helpful.every((r, i) => r.influence > 0 && (i === 0 || r.influence <= query.helpful[i - 1]!.influence)),
    ).toBe(true);
    expect(
      query.harmful.every((r, i) => r.influence < 0 && (i === 0 || r.influence >= query.harmful[i - 1]!.influence)),
    ).toBe(true);
  }
  // Self-influence comes out of the scores pass (the same training gradients), not a pass of its own.
  expect(summary.timings.map((t) => t.stage)).toEqual(['covariance', 'eigen', 'lambda', 'query', 'scores']);
  expect(summary.timings.find((t) => t.stage === 'scores')).toMatchObject({ items: 64, unit: 'pairs' });
  const cells = summary.crossDomain;
  expect(new Set(cells.map((c) => c.benchmark))).toEqual(new Set(['math', 'code']));
  for (const benchmark of ['math', 'code']) {
    expect(cells.filter((c) => c.benchmark === benchmark).reduce((n, c) => n + c.trainCount, 0)).toBe(16);
  }

  // The bundle carries the same influence the summary ranked.
  const bundle = await decodeBundle(readFileSync(out));
  expect(bundle.manifest.scores).toMatchObject({ queries: 4, train: 16, measurement: 'mean-log-likelihood' });
  expect(bundle.manifest.model?.name).toBe(files.model);
  expect(bundle.manifest.stages).toEqual(['covariance', 'eigen', 'lambda', 'scores', 'self']);
  const trainIds = bundle.manifest.rows!.train.map((r) => r.id);
  const best = summary.queries[0]!.helpful[0]!;
  const influence = bundle.scores.influence!;
  expect(influence.data[trainIds.indexOf(best.id)]).toBeCloseTo(best.influence, 5);
  // Token analyses by default (group token scores, docs/token-analyses.md): in the summary and the bundle.
  expect(bundle.manifest.scores!.tokenGroups).toEqual(['math', 'code']);
  expect(summary.tokenAnalyses!.map((t) => t.benchmark)).toEqual(['math', 'code']);
  for (const analysis of summary.tokenAnalyses!) expect(analysis.segments.length).toBeGreaterThan(0);
  // And each query's top pairs' token scores (k = 20 > 16 examples: every pair), each summing to its influence.
  const pairs = bundle.scores.pairTokens!;
  expect(pairs.pairs.length / 2).toBe(4 * 16);
  for (let p = 0; p < 64; p += 9) {
    const [q, n] = [pairs.pairs[2 * p]!, pairs.pairs[2 * p + 1]!];
    const row = pairs.values.data.subarray(pairs.offsets[p]!, pairs.offsets[p + 1]!);
    const total = row.reduce((a, b) => a + b, 0);
    // onnxruntime's float32 gradients of a batch of one vs a batch of several: float32-level agreement.
    const largest = Math.max(...influence.data.subarray(q * 16, q * 16 + 16).map(Math.abs));
    expect(Math.abs(total - influence.data[q * 16 + n]!)).toBeLessThanOrEqual(1e-6 * largest);
  }
});

test('no inputs: the built-in demo (micro variant), limited and stratified, says what it subsampled', async () => {
  const json = path.join(dir, 'demo.json');
  const { code, stderr } = await cli([
    'attribute',
    '--demo',
    'micro',
    '--backend',
    'cpu',
    '--limit-train',
    '6',
    '--limit-queries',
    '2',
    '--strategy',
    'kfac',
    '--quiet',
    '--json',
    json,
  ]);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const summary = JSON.parse(readFileSync(json, 'utf8')) as RunSummary;
  expect(summary.counts).toEqual({ train: 6, queries: 2, layers: 2 });
  expect(summary.strategy).toBe('kfac');
  expect(summary.subsample).toMatch(/6 of 16 training examples and 2 of 4 queries, stratified by domain/);
  // The demo's queries carry their benchmarks' names (user rows without a `benchmark` field fall back to the domain).
  expect(summary.queries.map((q) => q.benchmark).sort()).toEqual(['GSM8K', 'MBPP']);
  expect(summary.timings.map((t) => t.stage)).not.toContain('lambda');
});
