/**
 * A default live run (the micro demo, no per-token scores) shows the token views from its group token scores: the
 * Sequences-and-tokens tables with an interval and a verdict per row, and the training-example heatmap on a
 * benchmark, said to come from the benchmark's token scores; and for a single query, its top pair's token scores.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { servePage, type Served } from '../helpers/browser';
import { finishRun, openMicroDemo } from '../helpers/micro-run';

let served: Served;

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

test('a default run shows sequence and token analyses and the heatmaps without per-token scores', async () => {
  const { context, page, errors } = await openMicroDemo(served);
  expect(await page.locator('run-controls input#per-token').isChecked()).toBe(false);
  await finishRun(page);
  const live = page.locator('results-workspace:not([address])');
  await live.locator('overview-view[data-ready="none"]').waitFor({ timeout: 60_000 });

  await live.locator('[data-tab="analyses"]').click();
  await live.locator('analyses-view[data-ready]').waitFor({ timeout: 60_000 });
  expect(await live.locator('analyses-view [data-error]').count()).toBe(0);
  expect(await live.locator('analyses-view [data-analyses-source]').textContent()).toContain('group scores');
  const rows = live.locator('analyses-view table[data-table="segments"] tr[data-group]');
  expect(await rows.count()).toBeGreaterThan(0);
  for (const verdict of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-verdict'))))
    expect(['helps', 'harms', 'not resolved']).toContain(verdict);

  await live.locator('[data-tab="example"]').click();
  await live.locator('example-view[data-ready]').waitFor({ timeout: 60_000 });
  expect(await live.locator('example-view [data-heatmap]').count()).toBe(1);
  expect(await live.locator('example-view [data-token-source]').textContent()).toContain("benchmark's token scores");

  // A single query: its top training example (by |influence|) has its pair's token scores from the run.
  await live.locator('[data-tab="query"]').click();
  await live.locator('query-view[data-ready]').waitFor({ timeout: 60_000 });
  await live.locator('query-view lit-virtualizer').scrollIntoViewIfNeeded();
  const top = live.locator('query-view [data-row][data-rank="1"]');
  await top.waitFor();
  await top.click();
  await live.locator('example-view[data-ready]').waitFor({ timeout: 60_000 });
  const target = await live.locator('example-view select[data-example-target]').inputValue();
  expect(target.startsWith('query:')).toBe(true);
  expect(await live.locator('example-view [data-heatmap]').count()).toBe(1);
  expect(await live.locator('example-view [data-token-source]').textContent()).toContain('kept at run time');
  expect(errors).toEqual([]);
  await context.close();
});
