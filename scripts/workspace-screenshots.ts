/**
 * `npx tsx scripts/workspace-screenshots.ts BUNDLE.iwb [OUT_DIR]`: screenshots of the workspace's overview, query and
 * heatmap views of a bundle (docs/workspace.md's come from a real demo run: `iwb attribute --demo demo --per-token
 * --out`). Needs the built page (`npm run build`). The heatmap shows the top-ranked training example of the first
 * query.
 */
import { readFileSync } from 'node:fs';
import { openBundlePage } from './shoot-bundle';

const [bundlePath, out = 'docs/screenshots'] = process.argv.slice(2);
if (!bundlePath) throw new Error('usage: workspace-screenshots.ts BUNDLE.iwb [OUT_DIR]');
const bytes = readFileSync(bundlePath);
const { served, page } = await openBundlePage(bytes, out, { height: 900 });
await page.locator('overview-view[data-ready="none"]').waitFor({ timeout: 600_000 });
await page.locator('results-workspace').screenshot({ path: `${out}/overview.png` });
await page.locator('results-workspace [data-tab="query"]').click();
await page.locator('query-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('query-view lit-virtualizer').scrollIntoViewIfNeeded();
const top = page.locator('query-view [data-row][data-rank="1"]');
await top.waitFor();
await page.locator('results-workspace').screenshot({ path: `${out}/query.png` });
const trainId = await top.getAttribute('data-train-id');
await top.click();
await page.locator(`example-view[data-ready^="${trainId}|"]`).waitFor({ timeout: 600_000 });
await page.locator('results-workspace').screenshot({ path: `${out}/heatmap.png` });
await page.locator('results-workspace [data-tab="analyses"]').click();
await page.locator('analyses-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('results-workspace').screenshot({ path: `${out}/analyses.png` });
await served.close();
console.log(`wrote ${out}/overview.png, query.png, heatmap.png, analyses.png`);
