/**
 * `npx tsx scripts/shoot-evaluation.ts [BUNDLE.iwb] [OUT_DIR]`: screenshots of the Evaluation view (with its paired
 * differences) of a bundle with an evaluation (default: tests/fixtures/evaluation/micro.iwb), and of the evaluation
 * panel's size advice at the page's defaults and after "Use that size". Needs the built page (`npx vite build`).
 */
import { readFileSync } from 'node:fs';
import { openBundlePage } from './shoot-bundle';

const [bundlePath = 'tests/fixtures/evaluation/micro.iwb', out = 'docs/screenshots'] = process.argv.slice(2);
const bytes = readFileSync(bundlePath);
const { served, page } = await openBundlePage(bytes, out, { height: 900, hash: '#view=evaluation' });
await page.locator('evaluation-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('evaluation-view table[data-paired-table]').waitFor();
await page.locator('evaluation-view').screenshot({ path: `${out}/evaluation-paired.png` });

const panel = page.locator('evaluation-panel');
await panel.locator('[data-eval-advice]').scrollIntoViewIfNeeded();
await panel.screenshot({ path: `${out}/evaluation-advice.png` });
await panel.locator('button[data-eval-preset]').click();
await panel.locator('[data-eval-advice="resolves"]').waitFor();
await panel.screenshot({ path: `${out}/evaluation-advice-preset.png` });
await served.close();
console.log(`wrote ${out}/evaluation-paired.png, evaluation-advice.png, evaluation-advice-preset.png`);
