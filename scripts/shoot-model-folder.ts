/**
 * Screenshot of the run settings with a model folder picked (docs/screenshots/model-folder.png): the variant chosen
 * beside the folder picker and the Layers panel with each layer's role, from the built page (npm run build first) in
 * headless Chromium, with tests/fixtures/models/folder-llama.
 * Usage: tsx scripts/shoot-model-folder.ts [outDir]
 */
import { mkdirSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const served = await servePage();
try {
  const page = await served.browser.newPage({ viewport: { width: 1320, height: 1300 } });
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  await page.goto(served.url + '?demo=micro');
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  // Playwright gives a directory to a webkitdirectory input as the browser would: every file with its relative path.
  await page.locator('run-controls input#model-dir').setInputFiles('tests/fixtures/models/folder-llama');
  await page.locator('model-layers-view [data-layers-summary]').waitFor({ timeout: 60_000 });
  const note = await page.locator('run-controls [data-folder-note]').textContent();
  console.log('note:', note);
  await page.locator('run-controls').screenshot({ path: `${out}/model-folder.png` });
  console.log('wrote', `${out}/model-folder.png`);
} finally {
  await served.close();
}
