/**
 * The gradient graph on onnxruntime-web's WebGPU EP in headless Chromium, its a/g outputs kept as GPUBuffers and fed
 * straight into the WebGPU covariance kernel, against the wasm EP + CPU float64 backend on the same graph and batch
 * (tests/e2e/pages/gradients.ts). The page is served by a Vite dev server of its own (own dependency cache, so the
 * first load is not interrupted by a re-optimisation reload), so it needs no build input.
 */
import { chromium, type Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CHROMIUM_FLAGS, chromiumPath } from '../helpers/browser';
import type { GradientsResult } from './pages/gradients';

let server: ViteDevServer;
let browser: Browser;

beforeAll(async () => {
  server = await createServer({
    server: { port: 0, host: '127.0.0.1', strictPort: false },
    logLevel: 'warn',
    cacheDir: 'node_modules/.vite-e2e-gradients',
  });
  await server.listen();
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test('a and g stay on the GPU and give the CPU float64 covariances', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.resolvedUrls!.local[0]}tests/e2e/pages/gradients.html`);
  await page.waitForFunction(() => window.gradientsResult !== undefined, undefined, { timeout: 240_000 });
  const result = (await page.evaluate(() => window.gradientsResult)) as GradientsResult;
  expect(result.error).toBeUndefined();
  expect(errors).toEqual([]);
  expect(result.adapter.toLowerCase()).toContain('swiftshader');
  expect(result.layers.map((l) => l.node)).toEqual(['/up/MatMul', '/down/MatMul']);
  for (const layer of result.layers) {
    expect(layer.locations).toEqual(['gpu-buffer', 'gpu-buffer']);
    expect(layer.gradientScale).toBeGreaterThan(0);
    // float32 graph and kernel against float64 on the wasm EP's float32 outputs: relative to the largest entry.
    expect(layer.activationCovarianceError).toBeLessThan(1e-4);
    expect(layer.gradientCovarianceError).toBeLessThan(1e-4);
  }
});
