/**
 * The end-to-end rig: the built page (dist/) served on localhost by vite preview, driven in Debian's headless
 * Chromium by playwright-core with WebGPU on the SwiftShader adapter.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';

export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path))
    throw new Error(`e2e tests need Chromium at ${path} (apt-get install chromium), or set CHROMIUM_PATH`);
  return path;
}

export interface Served {
  readonly url: string;
  readonly browser: Browser;
  close(): Promise<void>;
}

/** Serve dist/ (run `npm run build` first) and launch Chromium. */
export async function servePage(): Promise<Served> {
  if (!existsSync('dist/index.html'))
    throw new Error('dist/index.html is missing: run `npm run build` before the e2e tests');
  const server: PreviewServer = await preview({
    preview: { port: 0, host: '127.0.0.1', strictPort: false },
    logLevel: 'warn',
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('preview server has no TCP address');
  const url = `http://127.0.0.1:${address.port}/`;
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS, headless: true });
  return {
    url,
    browser,
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
    },
  };
}

/** A page whose console errors and page errors are collected, so tests can assert there were none. */
export async function openPage(
  served: Served,
  path = '',
  options: { readonly init?: () => void } = {},
): Promise<{ page: Page; errors: string[] }> {
  const page = await served.browser.newPage();
  // A script that runs in the page before its own (e.g. to record what it posts to its workers).
  if (options.init) await page.addInitScript(options.init);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await page.goto(served.url + path);
  return { page, errors };
}

/** A page of a test's own context (routes, viewport) at served.url + path, with its page errors collected. */
export async function openInContext(
  context: BrowserContext,
  served: Served,
  path: string,
): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(served.url + path);
  return { page, errors };
}

/** The engine stage of the checkpoint IndexedDB holds for the page's one run (null: none). */
export function storedCheckpointStage(page: Page): Promise<string | null> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('influence-workbench');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    if (!db.objectStoreNames.contains('checkpoints')) return null;
    const all = await new Promise<{ stage: string }[]>((resolve) => {
      const request = db.transaction('checkpoints').objectStore('checkpoints').getAll();
      request.onsuccess = () => resolve(request.result as { stage: string }[]);
    });
    db.close();
    return all[0]?.stage ?? null;
  });
}
