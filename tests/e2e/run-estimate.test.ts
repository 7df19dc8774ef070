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
    .toEqual(['covariance', 'eigen', 'lambda', 'query', 'scores']);
  expect(await estimate.textContent()).toMatch(/16 training examples × 4 queries on CPU float64/);
  expect(await estimate.textContent()).toMatch(/Batch 8 \(factors\) \/ 8 \(scores\), query chunk 16/);
  expect(await estimate.textContent()).toMatch(/\/h\.0\/mlp\/c_fc\/MatMul \[16 → 32\]/);
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls select#strategy').selectOption('identity');
  await expect.poll(stages, { timeout: 60_000, interval: 250 }).toEqual(['query', 'scores']);
  await page.locator('run-controls input#batch-size').fill('3');
  await expect
    .poll(() => estimate.textContent(), { timeout: 60_000, interval: 250 })
    .toMatch(/Batch 3 \(factors\) \/ 3 \(scores\)/);
  await page.locator('run-controls').screenshot({ path: `${SHOTS}/run-estimate.png` });
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
});
