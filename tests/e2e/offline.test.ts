/**
 * The built pages work offline after one visit: the service worker (vite-plugin-pwa / Workbox) precaches the app,
 * onnxruntime's wasm, the demo model, data and tokenizers, and the teaching lab with its worker and KaTeX fonts. With
 * the network cut (context.setOffline) a reload still shows the page, every precached file still loads, a micro-demo
 * run completes on the CPU backend and opens in the results workspace, and the lab trains a model and shows scores.
 */
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { servePage, type Served } from '../helpers/browser';

let served: Served;

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

/** The URLs Workbox precaches, read from the built service worker. */
function precached(): string[] {
  return [...readFileSync('dist/sw.js', 'utf8').matchAll(/url:"([^"]+)"/g)].map((m) => m[1]!);
}

/** Final state: the worker is installed (precache complete), active and controlling this page. */
async function controlled(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) =>
        navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }),
      );
    }
  });
}

/** Cuts the network and checks that it is cut. */
async function goOffline(context: BrowserContext, page: Page): Promise<void> {
  await context.setOffline(true);
  expect(
    await page.evaluate(() =>
      fetch('https://example.com/').then(
        () => 'online',
        () => 'offline',
      ),
    ),
  ).toBe('offline');
}

test('after the first visit, a reload with the network cut shows the page and runs the micro demo', async () => {
  const urls = precached();
  for (const needed of [
    'index.html',
    'models/demo/model.onnx',
    'data/micro/train.jsonl',
    'data/train.jsonl',
    'tokenizer/tokenizer.json',
  ]) {
    expect(urls).toContain(needed);
  }
  expect(urls.some((url) => url.endsWith('.wasm'))).toBe(true);
  const context = await served.browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${served.url}?demo=micro`);
  await controlled(page);
  await goOffline(context, page);
  await page.reload();
  await page.locator('run-controls button[data-action="start"]').waitFor({ timeout: 60_000 });
  const statuses = await page.evaluate(
    async (paths) =>
      Promise.all(
        paths.map(async (path) => {
          const response = await fetch(path);
          return [path, response.status, (await response.arrayBuffer()).byteLength] as const;
        }),
      ),
    urls,
  );
  for (const [path, status, bytes] of statuses) {
    expect(status, path).toBe(200);
    expect(bytes, path).toBeGreaterThan(0);
  }
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"], [data-run="failed"]').first().waitFor({ timeout: 240_000 });
  expect(await page.locator('[data-run="failed"]').count()).toBe(0);
  // The live run's results open in the workspace (from the stored run the worker kept).
  await page.locator('workbench-app results-workspace overview-view[data-ready="none"]').waitFor({ timeout: 60_000 });
  expect(await page.locator('workbench-app results-workspace td[data-cell]').count()).toBeGreaterThan(0);
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
  await context.close();
});

test('the teaching lab reloads with the network cut, trains the MLP and shows its scores and formulas', async () => {
  const urls = precached();
  expect(urls).toContain('teach.html');
  expect(urls.some((url) => /lab\.worker-.*\.js$/.test(url))).toBe(true);
  expect(urls.some((url) => /KaTeX_Main-Regular-.*\.woff2$/.test(url))).toBe(true);
  const context = await served.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${served.url}teach.html?model=mlp&q=2`);
  await controlled(page);
  await goOffline(context, page);
  // From here on (after the deliberate failed probe) any failed request means something was not cached.
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('requestfailed', (request) => errors.push(`failed: ${request.url()}`));
  await page.reload();
  // A finished run raises data-generation; 'ready' says its numbers belong to the state in the URL.
  await page.waitForFunction(
    () => {
      const app = document.querySelector('teach-app') as HTMLElement | null;
      return app !== null && Number(app.dataset.generation ?? 0) >= 1 && app.dataset.status === 'ready';
    },
    undefined,
    { timeout: 180_000 },
  );
  const pearsons = await page.$$eval('lab-methods tr[data-method]', (rows) =>
    rows.map((row) => Number((row as HTMLElement).dataset.pearson)),
  );
  expect(pearsons).toHaveLength(5);
  expect(pearsons.every(Number.isFinite)).toBe(true);
  const values = await page.$$eval('lab-plot g.train', (gs) => gs.map((g) => Number((g as HTMLElement).dataset.value)));
  expect(values.length).toBeGreaterThan(0);
  expect(values.every(Number.isFinite)).toBe(true);
  // The formulas are typeset with KaTeX's own fonts, from the cache.
  await page.locator('lab-inside .katex').first().waitFor();
  const fonts = await page.evaluate(async () => {
    await document.fonts.ready;
    const katex = [...document.fonts].filter((f) => f.family.includes('KaTeX'));
    return {
      loaded: katex.filter((f) => f.status === 'loaded').length,
      failed: katex.filter((f) => f.status === 'error').length,
    };
  });
  expect(fonts.loaded).toBeGreaterThan(0);
  expect(fonts.failed).toBe(0);
  expect(errors).toEqual([]);
  await context.close();
});
