/**
 * Workspace addresses and ?bundle= links on the built page: a bundle opened from a link is viewed without being
 * stored until "Keep a copy"; a live run's workspace and a linked bundle's share one page, each keeps its own view in
 * the hash under its own address, and each one's "Link to this view" reopens that workspace in that view.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { servePage, type Served } from '../helpers/browser';

const small = readFileSync('tests/fixtures/workspace/small.iwb');
const digest = createHash('sha256').update(small).digest('hex').slice(0, 12);
let served: Served;
let context: BrowserContext;

beforeAll(async () => {
  served = await servePage();
  context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 900 } });
  await context.route('**/fixtures/small.iwb', (route) =>
    route.fulfill({ body: small, contentType: 'application/octet-stream' }),
  );
});
afterAll(async () => {
  await served?.close();
});

test('a ?bundle= link opens the bundle without storing it; "Keep a copy" stores it', async () => {
  const page = await context.newPage();
  await page.goto(`${served.url}?bundle=fixtures/small.iwb`);
  await page.locator('run-library overview-view[data-ready="none"]').waitFor({ timeout: 60_000 });
  await page.locator('run-library [data-not-stored]').waitFor();
  expect(await page.locator('run-library [data-run-id]').count()).toBe(0);
  await page.locator('run-library button[data-action="keep"]').click();
  await page.locator('run-library [data-run-id][data-status="imported"]').waitFor({ timeout: 60_000 });
  expect(await page.locator('run-library [data-not-stored]').count()).toBe(0);
  expect(await page.locator('run-library [data-run-name]').textContent()).toBe(`small · ${digest}`);
  // The next visit of the link opens the stored copy (not a second one) and offers nothing to keep.
  await page.reload();
  await page.locator('run-library overview-view[data-ready="none"]').waitFor({ timeout: 60_000 });
  expect(await page.locator('run-library [data-not-stored]').count()).toBe(0);
  expect(await page.locator('run-library [data-run-id]').count()).toBe(1);
  await page.close();
});

test("a live run's workspace and a linked bundle's keep their own views; each link restores its own", async () => {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${served.url}?demo=micro&bundle=fixtures/small.iwb#bundle=${digest}&view=query&query=q3`);
  const linked = page.locator(`results-workspace[address="bundle=${digest}"]`);
  await linked.locator('query-view[data-ready="q3|none|shown"]').waitFor({ timeout: 60_000 });
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"], [data-run="failed"]').first().waitFor({ timeout: 240_000 });
  expect(await page.locator('[data-run="failed"]').count()).toBe(0);
  // The live run's workspace: no address attribute (its own is run=<id>); the hash is the bundle's, so not its.
  const live = page.locator('results-workspace:not([address])');
  await live.locator('overview-view[data-ready="none"]').waitFor({ timeout: 60_000 });
  await live.locator('[data-tab="example"]').click();
  await live.locator('example-view[data-ready]').waitFor({ timeout: 60_000 });
  expect(new URL(page.url()).hash).toMatch(/^#run=run-[^&]+&view=example/);
  // The linked workspace did not follow, and moving it leaves the live one where it was.
  expect(await linked.locator('query-view[data-ready="q3|none|shown"]').count()).toBe(1);
  await linked.locator('[data-tab="analyses"]').click();
  await linked.locator('analyses-view[data-ready]').waitFor({ timeout: 60_000 });
  expect(new URL(page.url()).hash).toBe(`#bundle=${digest}&view=analyses&query=q3`);
  expect(await live.locator('example-view[data-ready]').count()).toBe(1);

  const liveLink = (await live.locator('[data-view-link]').getAttribute('href'))!;
  const linkedLink = (await linked.locator('[data-view-link]').getAttribute('href'))!;
  expect(liveLink).not.toContain('bundle=');
  await page.goto(new URL(liveLink, served.url).href);
  // Opened from the store as the library's workspace, under the same address, in the example view.
  const reopened = page.locator('run-library results-workspace');
  await reopened.locator('example-view[data-ready]').waitFor({ timeout: 60_000 });
  await page.goto(new URL(linkedLink, served.url).href);
  await page.locator(`results-workspace[address="bundle=${digest}"] analyses-view[data-ready]`).waitFor({
    timeout: 60_000,
  });
  expect(errors).toEqual([]);
  await page.close();
});
