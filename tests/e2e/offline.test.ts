/**
 * The built page works offline after one visit: its service worker (vite-plugin-pwa / Workbox) precaches the app,
 * onnxruntime's wasm, the demo model, data and tokenizers. With the network cut (context.setOffline) a reload still
 * shows the page, every precached file still loads, and a micro-demo run completes on the CPU backend and opens in the
 * results workspace.
 */
import { readFileSync } from 'node:fs';
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

test('after the first visit, a reload with the network cut shows the page and runs the micro demo', async () => {
  const urls = precached();
  for (const needed of [
    'index.html',
    'models/demo/model.onnx',
    'models/demo-after/model.onnx',
    'data/after/train.jsonl',
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
  // Final state: the worker is installed (precache complete), active and controlling this page.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) =>
        navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }),
      );
    }
  });
  await context.setOffline(true);
  expect(
    await page.evaluate(() =>
      fetch('https://example.com/').then(
        () => 'online',
        () => 'offline',
      ),
    ),
  ).toBe('offline');
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
