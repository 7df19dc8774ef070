/** `iwb attribute --plan` (the memory plan, nothing run or written) and --sample recorded in the bundle's manifest. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import type { RunSummary } from '../../src/cli/summary';
import { decodeBundle } from '../../src/store/bundle';
import { attributeArgs, cli, microUserFiles } from '../helpers/cli';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('--plan prints the tracked layers, the batch sizes and every stage, and runs nothing', async () => {
  const files = microUserFiles(dir);
  const out = path.join(dir, 'never.iwb');
  const { code, stdout, stderr } = await cli(attributeArgs(files, '--plan', '--batch-size', '4', '--out', out));
  expect(code).toBe(0);
  expect(stderr).toBe('');
  expect(stdout).toMatch(/16 training examples x 4 queries; 2 tracked layers:/);
  expect(stdout).toMatch(/\/h\.0\/mlp\/c_fc\/MatMul \[16 → 32 \+ bias\]/);
  expect(stdout).toMatch(/^plan: batch 4 \(factors\) \/ 4 \(scores\), query chunk 16/m);
  for (const stage of ['covariance', 'eigen', 'lambda', 'query', 'scores']) {
    expect(stdout).toMatch(new RegExp(`^  ${stage} +peak +[0-9.]+ MiB +about `, 'm'));
  }
  expect(existsSync(out)).toBe(false);
});

test('--sample: the run logs its plan, and the summary and the bundle record the seed, N and strata', async () => {
  const files = microUserFiles(dir);
  const json = path.join(dir, 'sample.json');
  const out = path.join(dir, 'sample.iwb');
  const flags = ['--sample', '6', '--sample-queries', '2', '--seed', '3', '--strategy', 'identity'];
  const { code, stderr } = await cli(attributeArgs(files, ...flags, '--json', json, '--out', out));
  expect(code).toBe(0);
  expect(stderr).toMatch(/^plan: batch 8 \(factors\) \/ 8 \(scores\)/m);
  const summary = JSON.parse(readFileSync(json, 'utf8')) as RunSummary;
  expect(summary.counts).toMatchObject({ train: 6, queries: 2 });
  expect(summary.sample?.train).toMatchObject({ seed: 3, requested: 6, chosen: 6, by: ['domain', 'difficulty'] });
  const bundle = await decodeBundle(readFileSync(out));
  const sample = bundle.manifest.config.sample as RunSummary['sample'];
  expect(sample).toEqual(summary.sample);
  expect(sample!.train!.strata.reduce((sum, s) => sum + s.chosen, 0)).toBe(6);
  expect(bundle.manifest.config.limits).toEqual({ train: 6, queries: 2, sample: true });
});
