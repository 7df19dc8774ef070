/**
 * Screenshot of the page's factors folder picker with kronfluence's own token_lm factors picked
 * (docs/screenshots/factors-folder.png), from the built page (npm run build first) in headless Chromium.
 * Usage: tsx scripts/shoot-factors-folder.ts [outDir]
 */
import { mkdirSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';
import { KRONFLUENCE_FIXTURES } from '../tests/helpers/fixtures';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const served = await servePage();
try {
  const page = await served.browser.newPage({ viewport: { width: 1320, height: 900 } });
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  await page.goto(served.url + '?demo=micro');
  await page.locator('run-controls input[data-source="files"]').check();
  await page
    .locator('run-controls input#factors-dir')
    .setInputFiles(`${KRONFLUENCE_FIXTURES}/token_lm/kronfluence/token_lm`);
  await page.locator('run-controls [data-factors-note]').filter({ hasText: 'factors_ekfac' }).waitFor();
  await page
    .locator('run-controls fieldset')
    .first()
    .screenshot({ path: `${out}/factors-folder.png` });
  console.log('wrote', `${out}/factors-folder.png`);
} finally {
  await served.close();
}
