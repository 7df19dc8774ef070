/**
 * `npx tsx scripts/shoot-evaluation.ts [BUNDLE.iwb] [OUT_DIR]`: screenshots of the Evaluation view (with its paired
 * differences) of a bundle with an evaluation (default: tests/fixtures/evaluation/micro.iwb), and of the evaluation
 * panel's size advice at the page's defaults and after "Use that size". Needs the built page (`npx vite build`).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';

const [bundlePath = 'tests/fixtures/evaluation/micro.iwb', out = 'docs/screenshots'] = process.argv.slice(2);
const bytes = readFileSync(bundlePath);
mkdirSync(out, { recursive: true });
const served = await servePage();
const context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1200, height: 900 } });
await context.route('**/shots/run.iwb', (route) =>
  route.fulfill({ body: bytes, contentType: 'application/octet-stream' }),
);
const page = await context.newPage();
await page.goto(`${served.url}?bundle=shots/run.iwb#view=evaluation`);
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
