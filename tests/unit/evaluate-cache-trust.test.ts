/**
 * `iwb evaluate --checkpoint` trusts nothing it did not save (issue 25 §6, §10): a cached attribution bundle swapped
 * for another run's is refused naming both files, and saved influence of the wrong size names its file.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { cli } from '../helpers/cli';
import { fixturePath } from '../helpers/fixtures';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-eval-trust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SMALL = ['--limit-train', '6', '--limit-queries', '2', '--subsets', '3', '--steps', '3', '--batch-size', '2'];

test('a swapped cached bundle and influence of the wrong size are refused, naming the file', async () => {
  const checkpoint = path.join(dir, 'ck.json');
  const args = ['evaluate', ...SMALL, '--strategies', 'identity,ekfac', '--checkpoint', checkpoint, '--quiet'];
  const first = await cli([...args, '--out', path.join(dir, 'a.iwb')]);
  expect(first.code).toBe(0);
  const cached = readdirSync(dir).find((f) => /^ck\.json\.influence\.[0-9a-f]{16}\.iwb$/.test(f))!;
  expect(cached).toBeDefined();
  // Another run's bundle (a valid one) in its place.
  copyFileSync(fixturePath('workspace/small.iwb'), path.join(dir, cached));
  const swapped = await cli([...args, '--out', path.join(dir, 'b.iwb')]);
  expect(swapped.code).toBe(1);
  expect(swapped.stderr).toContain(
    `${path.join(dir, cached)}: not the attribution this checkpoint saved for this model, data and configuration ` +
      `(its sha256 is not the one ${checkpoint}.influence.json records); delete it to attribute again`,
  );
  // Influence of the wrong size in the JSON file.
  const influenceFile = `${checkpoint}.influence.json`;
  const saved = JSON.parse(readFileSync(influenceFile, 'utf8')) as Record<string, unknown>;
  const identityKey = Object.keys(saved).find((k) => k.includes('"identity"') && !k.startsWith('bundle:'))!;
  writeFileSync(influenceFile, JSON.stringify({ ...saved, [identityKey]: [1] }));
  const short = await cli([...args, '--out', path.join(dir, 'c.json')]);
  expect(short.code).toBe(1);
  expect(short.stderr).toContain(
    `${influenceFile}: the saved identity influence has 1 values, not 2 queries × 6 training examples`,
  );
}, 300_000);
