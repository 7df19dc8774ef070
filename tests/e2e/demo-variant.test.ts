/**
 * The run controls' demo choice in headless Chromium: the after-answer variant can be picked (or preselected with
 * ?demo=after), and the run it starts asks for that variant. The request is read from the start-attribution event the
 * controls fire, so the test does not wait for the run itself.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openPage, servePage, type Served } from '../helpers/browser';

let served: Served;
beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

/** Clicks "Attribute" and returns the source of the request the controls fired. */
async function startedSource(page: Page): Promise<unknown> {
  const fired = page.evaluate(
    () =>
      new Promise((resolve) =>
        document.addEventListener('start-attribution', (e) => resolve((e as CustomEvent).detail.source), {
          once: true,
        }),
      ),
  );
  await page.locator('run-controls button[data-action="start"]').click();
  return fired;
}

test('the demo choice offers the after-answer variant and starts a run on it', async () => {
  const { page, errors } = await openPage(served, '');
  const select = page.locator('run-controls select#demo-variant');
  expect(await select.inputValue()).toBe('demo');
  expect(await select.locator('option').allTextContents()).toEqual([
    'GSM8K + MBPP',
    expect.stringMatching(/after-answer segments/),
    expect.stringMatching(/^micro: untrained smoke test/),
  ]);
  await select.selectOption('after');
  expect(await startedSource(page)).toEqual({ kind: 'demo', variant: 'after' });
  expect(errors).toEqual([]);
  await page.close();
});

test('?demo=after and ?demo=micro preselect their variant; the micro demo is in the list', async () => {
  const after = await openPage(served, '?demo=after');
  expect(await after.page.locator('run-controls select#demo-variant').inputValue()).toBe('after');
  await after.page.close();
  const micro = await openPage(served, '?demo=micro');
  await micro.page.locator('run-controls button[data-action="start"]').waitFor();
  expect(await micro.page.locator('run-controls select#demo-variant').inputValue()).toBe('micro');
  expect(await startedSource(micro.page)).toEqual({ kind: 'demo', variant: 'micro' });
  await micro.page.close();
});

test('the Attribute and Evaluate panels name the demos alike', async () => {
  const { page, errors } = await openPage(served, '');
  const attribute = await page.locator('run-controls select#demo-variant option').allTextContents();
  const evaluate = await page.locator('evaluation-panel select[name="variant"] option').allTextContents();
  expect(evaluate.length).toBeGreaterThan(0);
  for (const name of evaluate) expect(attribute).toContain(name.trim());
  expect(errors).toEqual([]);
  await page.close();
});
