/**
 * `npx tsx scripts/shoot-sequences.ts [BUNDLE.iwb] [OUT_DIR]`: the workspace's sequence analyses on a run of the
 * after-answer variant (default bench/sequences/run.iwb from `npm run experiment:sequences`), and the heatmap of
 * a training example that carries an after-answer segment, on GSM8K, and the "After the answer" view (with/without
 * and segment/rest comparisons). Needs the built page (`npm run build`). Writes OUT_DIR/sequences-after-answer.png,
 * OUT_DIR/sequences-after-answer-example.png and OUT_DIR/after-answer-view.png (default docs/screenshots).
 */
import { readFileSync } from 'node:fs';
import { openAnalysesTab, openBundlePage } from './shoot-bundle';

const [bundlePath = 'bench/sequences/run.iwb', out = 'docs/screenshots'] = process.argv.slice(2);
const bytes = readFileSync(bundlePath);
const carrying = readFileSync(bundlePath.replace(/run\.iwb$/, 'train.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { id: string; after_answer?: string })
  .find((r) => r.after_answer === 'gsm8k-recheck');
const { served, page } = await openBundlePage(bytes, out, { height: 1000 });
await openAnalysesTab(page);
await page.locator('analyses-view').screenshot({ path: `${out}/sequences-after-answer.png` });
await page.locator('results-workspace [data-tab="after"]').click();
await page.locator('after-answer-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('results-workspace').screenshot({ path: `${out}/after-answer-view.png` });
if (carrying) {
  const hash = `#view=example&example=${encodeURIComponent(carrying.id)}&target=benchmark:math`;
  await page.goto(`${served.url}?bundle=shots/run.iwb${hash}`);
  await page.locator(`example-view[data-ready^="${carrying.id}|"]`).waitFor({ timeout: 600_000 });
  await page.locator('results-workspace').screenshot({ path: `${out}/sequences-after-answer-example.png` });
}
await served.close();
console.log(
  `wrote ${out}/sequences-after-answer.png, after-answer-view.png${carrying ? ', sequences-after-answer-example.png' : ''}`,
);
