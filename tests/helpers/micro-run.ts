/**
 * The e2e files' shared steps around a live micro demo run: a fresh context on `?demo=micro` with the CPU backend
 * chosen, the run started and awaited, and a run asked after it (span, comparison, question) awaited.
 */
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Served } from './browser';

/** A new context (1280 wide) on the micro demo with the CPU backend chosen; its page errors are collected. */
export async function openMicroDemo(
  served: Served,
  height = 900,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${served.url}?demo=micro`);
  await page.locator('run-controls select#backend').selectOption('cpu');
  return { context, page, errors };
}

/** Starts the run set up on `page`, waits until it is done (or failed), checks it did not fail; returns its run id. */
export async function finishRun(page: Page): Promise<string> {
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"], [data-run="failed"]').first().waitFor({ timeout: 300_000 });
  expect(await page.locator('[data-run="failed"]').count()).toBe(0);
  return (await page.locator('results-workspace').getAttribute('run-id'))!;
}

/** Waits for the run asked after `runId` to replace it; checks it did not fail and only the scoring pass ran. */
export async function askedRun(page: Page, runId: string): Promise<Locator> {
  await page
    .locator(`results-workspace:not([run-id="${runId}"]), [data-run="failed"]`)
    .first()
    .waitFor({ timeout: 300_000 });
  expect(await page.locator('[data-run="failed"]').count()).toBe(0);
  expect(await page.locator('p[data-run="done"] [data-stages-run]').getAttribute('data-stages-run')).toBe('scores');
  return page.locator('results-workspace').first();
}

/** Unfolds the "Ask another question" panel and returns it. */
export async function openAsk(page: Page): Promise<Locator> {
  const ask = page.locator('ask-question');
  await ask.locator('details').evaluate((d) => ((d as HTMLDetailsElement).open = true));
  return ask;
}
