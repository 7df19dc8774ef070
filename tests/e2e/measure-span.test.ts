/**
 * A span measurement from the page: the micro demo run with "Measure on: the final answer" in the run options; the
 * query view of its workspace says which tokens were measured (the GSM8K query's number after "####") and T_q.
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

test('a page run measured on the final answer shows the measured tokens in the query view', async () => {
  const { context, page, errors } = await openMicroDemo(served);
  await page
    .locator('run-controls details')
    .first()
    .evaluate((d) => ((d as HTMLDetailsElement).open = true));
  const measure = page.locator('run-controls select#measure');
  expect(await measure.locator('option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual([
    'response',
    'final-answer',
    'spans',
  ]);
  await measure.selectOption('final-answer');
  await finishRun(page);
  const workspace = page.locator('results-workspace').first();
  await workspace.locator('overview-view[data-ready="none"]').waitFor({ timeout: 60_000 });
  await workspace.locator('[data-tab="query"]').click();
  await workspace.locator('query-view[data-ready]').waitFor({ timeout: 60_000 });
  const queryId = await workspace.locator('query-view [data-query-id]').textContent();
  expect(queryId).toMatch(/^gsm8k-/);
  const note = workspace.locator('query-view [data-query-measured="span"]');
  await note.waitFor();
  expect((await note.textContent())!.replace(/\s+/g, ' ')).toMatch(
    /Measured: only (\d+) tokens? \(positions [\d–, ]+; T_q = \1\)/,
  );
  // The measured text is the reference answer's final number (the micro query's "#### 720").
  const response = (await workspace.locator('query-view [data-query-response]').textContent())!;
  const answer = /####\s*(\S+)/.exec(response)![1]!;
  expect((await note.locator('[data-measured-text]').textContent())!.trim()).toBe(answer);
  expect(errors).toEqual([]);
  await context.close();
}, 420_000);
