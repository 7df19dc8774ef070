/**
 * A kronfluence factors folder picked in the page (headless Chromium, CPU float64): kronfluence 1.0.1's own token_lm
 * factors (tests/fixtures/kronfluence) score its model without fitting, to kronfluence's own pairwise scores; the
 * mlp_classifier's factors offered for the same model are refused, naming the module. The folder goes to the worker
 * as File handles from a directory picker (`<input webkitdirectory>`).
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildKronfluenceTokenLm } from '../../src/models/kronfluence';
import { serializeModel } from '../../src/onnx/protobuf';
import { decodeBundle } from '../../src/store/bundle';
import { openPage, servePage, type Served } from '../helpers/browser';
import { maxRelativeError } from '../helpers/exact-dense';
import { fixtureData, fixtureWeights, kronfluenceReference, FIXTURES } from '../helpers/exact-kronfluence';

let served: Served;
beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

const bytes = (name: string, buffer: Buffer | Uint8Array) => ({
  name,
  mimeType: 'application/octet-stream',
  buffer: Buffer.from(buffer),
});

/** The token LM as ONNX (float32 weights) with its pre-tokenized data, CPU backend, every linear layer tracked. */
async function pickTokenLm(page: Page): Promise<void> {
  // onnxruntime-web in the page has no float64 MatMul kernel: the weights go in as float32 (the engine's CPU backend
  // still computes in float64; only the forward and backward passes see the rounded weights).
  const weights = Object.fromEntries(
    Object.entries(await fixtureWeights('token_lm')).map(([k, w]) => [
      k,
      { dims: w.dims, data: Float32Array.from(w.data) },
    ]),
  );
  const model = serializeModel(buildKronfluenceTokenLm(weights));
  const data = (await fixtureData('token_lm')) as Record<'train' | 'queries', unknown[]>;
  const jsonl = (rows: unknown[]) => Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls input#model').setInputFiles([bytes('token_lm.onnx', model)]);
  await page.locator('run-controls input#train').setInputFiles(bytes('train.jsonl', jsonl(data.train)));
  await page.locator('run-controls input#queries').setInputFiles(bytes('queries.jsonl', jsonl(data.queries)));
  await page.locator('run-controls input#track').fill('.');
}

test("kronfluence's own factors folder scores its model in the page to kronfluence's pairwise scores", async () => {
  const { page, errors } = await openPage(served, '?demo=micro');
  page.on('dialog', (dialog) => void dialog.accept());
  await pickTokenLm(page);
  await page.locator('run-controls input#factors-dir').setInputFiles(`${FIXTURES}/token_lm/kronfluence/token_lm`);
  await expect
    .poll(() => page.locator('run-controls [data-factors-note]').textContent())
    .toMatch(/files \(factors_ekfac\): the run scores with these factors instead of fitting/);
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"], [data-run="failed"]').first().waitFor({ timeout: 240_000 });
  expect(await page.locator('[data-run="failed"]').allTextContents()).toEqual([]);

  const row = page.locator('run-library tr[data-run-id]').first();
  await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('complete');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.locator('button[data-action="export"]').click(),
  ]);
  const bundle = await decodeBundle(new Uint8Array(readFileSync((await download.path())!)));
  // Nothing was fitted here: the bundle's factors are kronfluence's (its Λ count: the 40 training sequences).
  expect(bundle.factors.layers.map((l) => l.lambdaCount)).toEqual([40, 40, 40]);
  const reference = await kronfluenceReference('token_lm');
  const tau = bundle.scores.tau!;
  expect(tau.shape).toEqual([6, 40]);
  const error = maxRelativeError(Float64Array.from(tau.data), reference.pairwise[0]!.total.data);
  // Measured 4.7e-7 here: the float32 weights' rounding (6e-8) carried through the gradients and the preconditioner.
  expect(error).toBeLessThan(1e-5);
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
  await page.close();
}, 400_000);

test("another model's factors folder is refused, naming the layer and the modules the folder has", async () => {
  const { page } = await openPage(served, '?demo=micro');
  await pickTokenLm(page);
  await page
    .locator('run-controls input#factors-dir')
    .setInputFiles(`${FIXTURES}/mlp_classifier/kronfluence/mlp_classifier`);
  await page.locator('run-controls button[data-action="start"]').click();
  const failed = page.locator('[data-run="failed"]');
  await failed.waitFor({ timeout: 240_000 });
  expect(await failed.textContent()).toMatch(
    /factors folder mlp_classifier: no factors for layer ".*" \(module "(?:up|down|unembed)"\); the files have fc1, fc2, fc3/,
  );
  await page.close();
}, 300_000);

test("kronfluence's own scores folder opens read-only in the workspace with the JSONL rows it scored", async () => {
  const { page, errors } = await openPage(served, '?demo=micro');
  const data = (await fixtureData('token_lm')) as Record<'train' | 'queries', unknown[]>;
  const jsonl = (rows: unknown[]) => Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const box = page.locator('run-library [data-score-folder]');
  await box.locator('summary').click();
  await box.locator('[data-score-dir]').setInputFiles(`${FIXTURES}/token_lm/kronfluence/token_lm/scores_pairwise`);
  await box.locator('[data-score-train]').setInputFiles(bytes('train.jsonl', jsonl(data.train)));
  await box.locator('[data-score-queries]').setInputFiles(bytes('queries.jsonl', jsonl(data.queries.slice(1))));
  await box.locator('button[data-action="open-scores"]').click();
  // Five query rows for six scored queries: refused with both counts.
  const problem = page.locator('run-library [data-library-error]');
  await problem.waitFor({ timeout: 60_000 });
  expect(await problem.textContent()).toContain('scores 6 queries, queries.jsonl has 5 rows');

  await box.locator('[data-score-queries]').setInputFiles(bytes('queries.jsonl', jsonl(data.queries)));
  await box.locator('button[data-action="open-scores"]').click();
  const viewed = page.locator('run-library [data-viewed-run]');
  await viewed.waitFor({ timeout: 60_000 });
  expect(await viewed.locator('h2').textContent()).toContain('kronfluence scores_pairwise');
  expect(await viewed.textContent()).toContain('6 queries × 40 training examples');
  await page.locator('run-library results-workspace').waitFor({ timeout: 60_000 });
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
  await page.close();
}, 300_000);
