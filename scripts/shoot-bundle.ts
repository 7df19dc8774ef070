/**
 * The screenshot scripts' shared start: serve the built page (tests/helpers/browser.ts) and open it in a fresh
 * context — on a bundle (`openBundlePage`: requests for `shots/run.iwb` get the given bytes), on a finished micro demo
 * run (`openMicroRun`) or on any address (`openShotPage`). The caller waits for the view it shoots and closes `served`
 * when done. `openAnalysesTab` is the common first step of the scripts that shoot the analyses view.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { servePage } from '../tests/helpers/browser';

/** Serves the page, creates OUT_DIR, and opens `path` in a new context of the given size (1200 wide by default). */
export async function openShotPage(
  out: string,
  path: string,
  options: { height: number; width?: number; route?: (context: BrowserContext) => Promise<unknown> },
) {
  mkdirSync(out, { recursive: true });
  const served = await servePage();
  const context = await served.browser.newContext({
    serviceWorkers: 'block',
    viewport: { width: options.width ?? 1200, height: options.height },
  });
  await options.route?.(context);
  const page = await context.newPage();
  await page.goto(`${served.url}${path}`);
  return { served, context, page };
}

/** Serves the page, creates OUT_DIR, and opens `?bundle=shots/run.iwb` (plus `hash`) in a 1200-wide context. */
export async function openBundlePage(bytes: Buffer, out: string, options: { height: number; hash?: string }) {
  return openShotPage(out, `?bundle=shots/run.iwb${options.hash ?? ''}`, {
    height: options.height,
    route: (context) =>
      context.route('**/shots/run.iwb', (route) =>
        route.fulfill({ body: bytes, contentType: 'application/octet-stream' }),
      ),
  });
}

/** Opens the micro demo (1200 × 900), runs it on the CPU backend and waits for its workspace. */
export async function openMicroRun(out: string) {
  const opened = await openShotPage(out, '?demo=micro', { height: 900 });
  await opened.page.locator('run-controls select#backend').selectOption('cpu');
  await opened.page.locator('run-controls button[data-action="start"]').click();
  await opened.page.locator('results-workspace').waitFor({ timeout: 600_000 });
  return opened;
}

/** Opens the micro demo (1320 × 1000) with the model file `file` picked, and waits for its layer list. */
export async function openPickedModel(out: string, file: string) {
  const opened = await openShotPage(out, '?demo=micro', { height: 1000, width: 1320 });
  const { page } = opened;
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls input#model').setInputFiles({
    name: basename(file),
    mimeType: 'application/octet-stream',
    buffer: readFileSync(file),
  });
  await page.locator('model-layers-view [data-layers-summary]').waitFor({ timeout: 30_000 });
  return opened;
}

/** Waits for the overview, opens the Sequences-and-tokens (analyses) tab and unfolds its first details section. */
export async function openAnalysesTab(page: Page): Promise<void> {
  await page.locator('overview-view[data-ready="none"]').waitFor({ timeout: 600_000 });
  await page.locator('results-workspace [data-tab="analyses"]').click();
  await page.locator('analyses-view[data-ready]').waitFor({ timeout: 600_000 });
  await page
    .locator('analyses-view details')
    .first()
    .evaluate((d) => ((d as HTMLDetailsElement).open = true));
}
