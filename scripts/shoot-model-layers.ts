/**
 * Screenshot of the run settings listing a picked model's layers (docs/screenshots/model-layers.png), from the built
 * page (npm run build first) in headless Chromium, with the dynamo-style GPT-2 test model (structure-only detection).
 * Usage: tsx scripts/shoot-model-layers.ts [outDir]
 */
import { openPickedModel } from './shoot-bundle';

const out = process.argv[2] ?? 'docs/screenshots';
const { served, page } = await openPickedModel(out, 'tests/fixtures/models/gpt2-dynamo-style.onnx');
try {
  await page.locator('run-controls').screenshot({ path: `${out}/model-layers.png` });
  console.log('wrote', `${out}/model-layers.png`);
} finally {
  await served.close();
}
