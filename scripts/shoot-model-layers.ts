/**
 * Screenshot of the run settings listing a picked model's layers (docs/screenshots/model-layers.png), from the built
 * page (npm run build first) in headless Chromium, with the dynamo-style GPT-2 test model (structure-only detection).
 * Usage: tsx scripts/shoot-model-layers.ts [outDir]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const served = await servePage();
try {
  const page = await served.browser.newPage({ viewport: { width: 1320, height: 1000 } });
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  await page.goto(served.url + '?demo=micro');
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  const model = 'tests/fixtures/models/gpt2-dynamo-style.onnx';
  await page.locator('run-controls input#model').setInputFiles({
    name: 'gpt2-dynamo-style.onnx',
    mimeType: 'application/octet-stream',
    buffer: readFileSync(model),
  });
  await page.locator('model-layers-view [data-layers-summary]').waitFor({ timeout: 30_000 });
  await page.locator('run-controls').screenshot({ path: `${out}/model-layers.png` });
  console.log('wrote', `${out}/model-layers.png`);
} finally {
  await served.close();
}
