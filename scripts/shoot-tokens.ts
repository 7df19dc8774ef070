/**
 * `npx tsx scripts/shoot-tokens.ts BUNDLE.iwb [OUT_DIR]`: the workspace's token views on a run WITHOUT per-token
 * scores (the default since group token scores, docs/token-analyses.md), e.g. from
 * `iwb attribute --demo after --sample 96 --sample-queries 16 --out run.iwb`: the Sequences-and-tokens view with
 * its intervals (tokens-analyses.png), the training-example heatmap on the first benchmark (tokens-heatmap.png), and
 * the After-the-answer view (tokens-after-answer.png). Needs the built page (`npm run build`).
 */
import { readFileSync } from 'node:fs';
import { openAnalysesTab, openBundlePage } from './shoot-bundle';

const [bundlePath, out = 'docs/screenshots'] = process.argv.slice(2);
if (!bundlePath) throw new Error('usage: shoot-tokens.ts BUNDLE.iwb [OUT_DIR]');
const bytes = readFileSync(bundlePath);
const { served, page } = await openBundlePage(bytes, out, { height: 1000 });
await openAnalysesTab(page);
await page.locator('analyses-view').screenshot({ path: `${out}/tokens-analyses.png` });
await page.locator('results-workspace [data-tab="example"]').click();
await page.locator('example-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('results-workspace').screenshot({ path: `${out}/tokens-heatmap.png` });
await page.locator('results-workspace [data-tab="after"]').click();
await page.locator('after-answer-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('results-workspace').screenshot({ path: `${out}/tokens-after-answer.png` });
await served.close();
console.log(`wrote ${out}/tokens-analyses.png, tokens-heatmap.png, tokens-after-answer.png`);
