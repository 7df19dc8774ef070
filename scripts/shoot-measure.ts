/**
 * `npx tsx scripts/shoot-measure.ts BUNDLE.iwb [OUT_DIR]`: the workspace's query view of a span-measured run (made with
 * `iwb attribute --demo micro --measure final-answer --out BUNDLE.iwb`), showing which tokens were measured, and the
 * run controls' options with the "Measure on" choice. Needs the built page (`npm run build`). Writes
 * OUT_DIR/query-measured.png and OUT_DIR/run-options-measure.png (default docs/screenshots).
 */
import { readFileSync } from 'node:fs';
import { openBundlePage } from './shoot-bundle';

const [bundlePath, out = 'docs/screenshots'] = process.argv.slice(2);
if (!bundlePath) throw new Error('usage: shoot-measure.ts BUNDLE.iwb [OUT_DIR]');
const bytes = readFileSync(bundlePath);
const { served, context, page } = await openBundlePage(bytes, out, { height: 1000 });
await page.locator('overview-view[data-ready="none"]').waitFor({ timeout: 600_000 });
await page.locator('results-workspace [data-tab="query"]').click();
await page.locator('query-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('query-view [data-query-measured="span"]').waitFor();
await page.locator('query-view').screenshot({ path: `${out}/query-measured.png` });
const options = await context.newPage();
await options.goto(served.url);
await options
  .locator('run-controls details')
  .first()
  .evaluate((d) => ((d as HTMLDetailsElement).open = true));
await options.locator('run-controls #measure').waitFor();
await options.locator('run-controls #options').screenshot({ path: `${out}/run-options-measure.png` });
await served.close();
console.log(`wrote ${out}/query-measured.png and ${out}/run-options-measure.png`);
