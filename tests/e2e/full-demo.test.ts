/**
 * The first visit's offer of the precomputed full demo (issue 20 §2), against a small stand-in served under the full
 * demo's own paths (tests/fixtures/demo: the micro demo's page copy and manifest, built by the same code): the offer
 * says the download's size, "Open the full demo" opens the bundle's workspace with its sequence and token analyses
 * without computing anything, and "Not now" is remembered. The built service worker leaves .iwb bundles out of the
 * first paint's precache and caches them when first fetched.
 */
import { readFileSync } from 'node:fs';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { servePage, type Served } from '../helpers/browser';
import { fixturePath } from '../helpers/fixtures';

const bundle = readFileSync(fixturePath('demo/full-demo.iwb.gz'));
const manifest = readFileSync(fixturePath('demo/full-demo.json'), 'utf8');
let served: Served;
let context: BrowserContext;
/** Each request the page made for the demo bundle. */
const bundleRequests: string[] = [];

beforeAll(async () => {
  served = await servePage();
  context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 900 } });
  await context.route('**/demo/full-demo.json', (route) =>
    route.fulfill({ body: manifest, contentType: 'application/json' }),
  );
  await context.route('**/demo/full-demo.iwb.gz*', (route) => {
    bundleRequests.push(route.request().url());
    return route.fulfill({ body: bundle, contentType: 'application/gzip' });
  });
});
afterAll(async () => {
  await served?.close();
});

test('the offer says its size and opens the full demo workspace, with token analyses, without computing', async () => {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  await page.goto(`${served.url}?offer=full-demo`);
  await page.locator('full-demo-offer[data-state="offered"]').waitFor({ state: 'attached', timeout: 60_000 });
  const offer = page.locator('full-demo-offer [data-full-demo-offer]');
  expect(await offer.textContent()).toContain("Explore the full demo — computed with this page's engine");
  expect(await offer.locator('[data-full-demo-size]').textContent()).toBe(`${Math.round(bundle.byteLength / 1e3)} kB`);
  expect(bundleRequests).toEqual([]);

  await offer.locator('[data-action="open-full-demo"]').click();
  const workspace = page.locator('run-library results-workspace');
  await workspace.locator('overview-view[data-ready]').waitFor({ timeout: 60_000 });
  expect(bundleRequests).toHaveLength(1);
  // Its URL names the content's hash, so the service worker's cache of it is never stale.
  const sha = (JSON.parse(manifest) as { bundle: { sha256: string } }).bundle.sha256;
  expect(new URL(bundleRequests[0]!).searchParams.get('v')).toBe(sha.slice(0, 12));
  await page.locator('run-library [data-not-stored]').waitFor();
  // Nothing computed: no run started on this page, and the offer is gone (the address opens a bundle).
  expect(await page.locator('[data-run]').count()).toBe(0);
  expect(await page.locator('full-demo-offer [data-full-demo-offer]').count()).toBe(0);

  await workspace.locator('[data-tab="analyses"]').click();
  await workspace.locator('analyses-view[data-ready]').waitFor({ timeout: 60_000 });
  expect(await workspace.locator('analyses-view [data-analyses-source]').textContent()).toContain('group scores');
  expect(await workspace.locator('analyses-view table[data-table="segments"] tr[data-group]').count()).toBeGreaterThan(
    0,
  );
  await workspace.locator('[data-tab="example"]').click();
  await workspace.locator('example-view[data-ready]').waitFor({ timeout: 60_000 });
  expect(await workspace.locator('example-view [data-heatmap]').count()).toBe(1);
  expect(errors).toEqual([]);
  await page.close();
});

test('"Not now" hides the offer, and it stays hidden on the next visit', async () => {
  const page = await context.newPage();
  await page.goto(`${served.url}?offer=full-demo`);
  await page.locator('full-demo-offer [data-full-demo-offer]').waitFor({ timeout: 60_000 });
  await page.locator('full-demo-offer [data-action="dismiss-full-demo"]').click();
  expect(await page.locator('full-demo-offer [data-full-demo-offer]').count()).toBe(0);
  expect(await page.locator('full-demo-offer').getAttribute('data-state')).toBe('dismissed');
  await page.reload();
  await page.locator('full-demo-offer[data-state="not-offered"]').waitFor({ state: 'attached', timeout: 60_000 });
  expect(await page.locator('full-demo-offer [data-full-demo-offer]').count()).toBe(0);
  await page.close();
});

test('the service worker does not precache demo bundles and caches them at first fetch', () => {
  const sw = readFileSync('dist/sw.js', 'utf8');
  const precached = [...sw.matchAll(/url:"([^"]+)"/g)].map((m) => m[1]!);
  expect(precached).toContain('index.html');
  expect(precached.filter((url) => /\.iwb(\.gz)?$/.test(url))).toEqual([]);
  expect(sw).toContain('iwb-demo-bundles');
  expect(sw).toContain('CacheFirst');
});
