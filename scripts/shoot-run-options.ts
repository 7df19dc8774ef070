/**
 * Screenshot of the run controls with Options open (docs/screenshots/run-options.png): every control drawn from the
 * options table (src/app/options.ts), with a refused damping value naming the control and the grammar. From the built
 * page (npm run build first) in headless Chromium. Usage: tsx scripts/shoot-run-options.ts [outDir]
 */
import { mkdirSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const served = await servePage();
try {
  const page = await served.browser.newPage({ viewport: { width: 1100, height: 1000 } });
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  await page.goto(served.url + '?demo=micro');
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls input#damping').fill('0x10');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('run-controls [data-problem]:not(:empty)').waitFor({ timeout: 30_000 });
  await page.locator('run-controls').screenshot({ path: `${out}/run-options.png` });
  console.log('wrote', `${out}/run-options.png`);
} finally {
  await served.close();
}
