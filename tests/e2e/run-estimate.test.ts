/**
 * The run settings' estimate (issue 12 view 5): before starting, the page shows the memory plan and time estimate the
 * worker computes from the model's dims and the device's limits, and recomputes it when a setting changes.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openPage, servePage, type Served } from '../helpers/browser';

const SHOTS = 'test-results/run-estimate';
let served: Served;
let page: Page;
let errors: string[];

beforeAll(async () => {
  served = await servePage();
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await served?.close();
});

test('the estimate shows every stage of the plan, and follows the strategy and the batch size', async () => {
  ({ page, errors } = await openPage(served, '?demo=micro'));
  await page.locator('run-controls select#backend').selectOption('cpu');
  const estimate = page.locator('run-estimate [data-estimate]');
  const stages = () => estimate.locator('tr[data-stage]').evaluateAll((rows) => rows.map((r) => r.dataset.stage));
  await expect
    .poll(stages, { timeout: 120_000, interval: 250 })
    .toEqual(['prepare', 'covariance', 'eigen', 'lambda', 'query', 'scores', 'pair-tokens']);
  // The total counts preparing the model (onnxruntime's session at least: seconds), not only the engine's stages.
  const seconds = async (stage: string) =>
    Number(await estimate.locator(`tr[data-stage="${stage}"]`).getAttribute('data-stage-seconds'));
  expect(await seconds('prepare')).toBeGreaterThan(1);
  const total = Number(await estimate.locator('[data-total-seconds]').getAttribute('data-total-seconds'));
  expect(total).toBeGreaterThanOrEqual(await seconds('prepare'));
  expect(await estimate.textContent()).toMatch(/16 training examples × 4 queries on CPU float64/);
  expect(await estimate.textContent()).toMatch(/Batch 8 \(factors\) \/ 8 \(scores\), query chunk 16/);
  expect(await estimate.textContent()).toMatch(/\/h\.0\/mlp\/c_fc\/MatMul \[16 → 32\]/);
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls select#strategy').selectOption('identity');
  await expect.poll(stages, { timeout: 60_000, interval: 250 }).toEqual(['prepare', 'query', 'scores', 'pair-tokens']);
  await page.locator('run-controls input#batch-size').fill('3');
  await expect
    .poll(() => estimate.textContent(), { timeout: 60_000, interval: 250 })
    .toMatch(/Batch 3 \(factors\) \/ 3 \(scores\)/);
  await page.locator('run-controls').screenshot({ path: `${SHOTS}/run-estimate.png` });
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
});

test('the live demo says how long the whole demo would take here', async () => {
  ({ page, errors } = await openPage(served, ''));
  await page.locator('run-controls select#backend').selectOption('cpu');
  const full = page.locator('run-estimate [data-full-estimate]');
  await full.waitFor({ timeout: 300_000 });
  expect(await full.textContent()).toMatch(/whole demo\s+\(2,972 training examples × 400 queries\)/);
  const own = Number(await page.locator('run-estimate [data-total-seconds]').getAttribute('data-total-seconds'));
  expect(Number(await full.getAttribute('data-full-estimate'))).toBeGreaterThan(own);
  await page.locator('run-controls').screenshot({ path: `${SHOTS}/run-estimate-full.png` });
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
});
