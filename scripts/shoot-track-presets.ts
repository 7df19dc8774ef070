/**
 * Screenshot of the run settings with the tracked layers chosen by a preset (docs/screenshots/track-presets.png):
 * `attention` typed in the Tracked layers field marks the GPT-2 test model's attention projections. From the built
 * page (npm run build first) in headless Chromium. Usage: tsx scripts/shoot-track-presets.ts [outDir]
 */
import { openPickedModel } from './shoot-bundle';

const out = process.argv[2] ?? 'docs/screenshots';
const { served, page } = await openPickedModel(out, 'tests/fixtures/models/gpt2-torchscript.onnx');
try {
  await page.locator('run-controls input#track').fill('attention');
  // The layer list follows the field: wait until it counts the four attention projections (2,176 parameters).
  await page
    .locator('model-layers-view [data-layers-summary]', { hasText: '4 of 9 linear layers tracked (2,176' })
    .waitFor({ timeout: 30_000 });
  await page.locator('run-controls').screenshot({ path: `${out}/track-presets.png` });
  console.log('wrote', `${out}/track-presets.png`);
} finally {
  await served.close();
}
