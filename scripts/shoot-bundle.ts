/**
 * The screenshot scripts' shared start: serve the built page (tests/helpers/browser.ts), answer requests for
 * `shots/run.iwb` with the given bundle's bytes, and open the page on it. The caller waits for the view it shoots and
 * closes `served` when done. `openAnalysesTab` is the common first step of the scripts that shoot the analyses view.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { servePage } from '../tests/helpers/browser';

/** Serves the page, creates OUT_DIR, and opens `?bundle=shots/run.iwb` (plus `hash`) in a 1200-wide context. */
export async function openBundlePage(bytes: Buffer, out: string, options: { height: number; hash?: string }) {
  mkdirSync(out, { recursive: true });
  const served = await servePage();
  const context = await served.browser.newContext({
    serviceWorkers: 'block',
    viewport: { width: 1200, height: options.height },
  });
  await context.route('**/shots/run.iwb', (route) =>
    route.fulfill({ body: bytes, contentType: 'application/octet-stream' }),
  );
  const page = await context.newPage();
  await page.goto(`${served.url}?bundle=shots/run.iwb${options.hash ?? ''}`);
  return { served, context, page };
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
