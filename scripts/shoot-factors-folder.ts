/**
 * Screenshots of the page's factors folder picker with kronfluence's own token_lm factors picked
 * (docs/screenshots/factors-folder.png), and of kronfluence's token_lm scores opened read-only with their JSONL
 * (docs/screenshots/scores-folder.png), from the built page (npm run build first) in headless Chromium.
 * Usage: tsx scripts/shoot-factors-folder.ts [outDir]
 */
import { mkdirSync, readFileSync } from 'node:fs';
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

  const data = JSON.parse(readFileSync(`${KRONFLUENCE_FIXTURES}/token_lm/data.json`, 'utf8')) as Record<
    string,
    unknown[]
  >;
  const jsonl = (name: string, rows: unknown[]) => ({
    name,
    mimeType: 'application/json',
    buffer: Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'),
  });
  const box = page.locator('run-library [data-score-folder]');
  await box.locator('summary').click();
  await box
    .locator('[data-score-dir]')
    .setInputFiles(`${KRONFLUENCE_FIXTURES}/token_lm/kronfluence/token_lm/scores_pairwise`);
  await box.locator('[data-score-train]').setInputFiles(jsonl('train.jsonl', data.train!));
  await box.locator('[data-score-queries]').setInputFiles(jsonl('queries.jsonl', data.queries!));
  await box.locator('button[data-action="open-scores"]').click();
  await page.locator('run-library [data-viewed-run]').waitFor({ timeout: 60_000 });
  await page.locator('run-library results-workspace').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(1500);
  await page.locator('run-library').screenshot({ path: `${out}/scores-folder.png` });
  console.log('wrote', `${out}/scores-folder.png`);
} finally {
  await served.close();
}
