/**
 * `npx tsx scripts/shoot-experiments.ts [OUT_DIR]`: a screenshot of the experiments page's difficulty-flip section
 * (public/experiments/flip.json) → OUT_DIR/flip.png (default docs/screenshots). Needs the built page (vite build).
 */
import { openPage, servePage } from '../tests/helpers/browser';

const [out = 'docs/screenshots'] = process.argv.slice(2);
const served = await servePage();
try {
  const { page, errors } = await openPage(served, 'experiments.html');
  await page.setViewportSize({ width: 1150, height: 900 });
  await page.waitForSelector('flip-view[data-status="ready"]', { timeout: 120_000 });
  await page.locator('flip-view').screenshot({ path: `${out}/flip.png` });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log(`wrote ${out}/flip.png`);
} finally {
  await served.close();
}
