/**
 * `npx tsx scripts/shoot-largest-model.ts`: the micro demo's run estimate (CPU backend) with the largest model the
 * backend takes, into docs/screenshots/estimate-largest-model.png (needs the built page, `npm run build`).
 */
import { mkdirSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';

const OUT = 'docs/screenshots';
mkdirSync(OUT, { recursive: true });
const served = await servePage();
try {
  const context = await served.browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${served.url}?demo=micro`);
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-estimate [data-total-seconds][data-device="cpu"]').waitFor({ timeout: 300_000 });
  await page.locator('run-estimate [data-estimate-status]').waitFor({ state: 'detached', timeout: 300_000 });
  await page.locator('run-estimate [data-estimate-largest]').waitFor({ timeout: 60_000 });
  await page.locator('run-estimate').screenshot({ path: `${OUT}/estimate-largest-model.png` });
} finally {
  await served.close();
}
