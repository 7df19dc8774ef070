/**
 * `npx tsx scripts/shoot-ask.ts [OUT_DIR]`: "Ask another question" under a finished micro demo run (CPU backend):
 * the panel with a query typed, then the asked run's status line (only the scoring stage ran) and its query view.
 * Needs the built page (`npm run build`). Writes OUT_DIR/ask-another.png and OUT_DIR/ask-another-done.png (default
 * docs/screenshots).
 */
import { openMicroRun } from './shoot-bundle';

const [out = 'docs/screenshots'] = process.argv.slice(2);
const { served, page } = await openMicroRun(out);
const ask = page.locator('ask-question');
await ask.locator('details').evaluate((d) => ((d as HTMLDetailsElement).open = true));
const row = {
  id: 'my-question',
  prompt: 'Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:\n',
  response: 'He has 3+4=7 apples.\n#### 7',
};
await ask.locator('textarea[data-ask-queries]').fill(JSON.stringify(row));
await ask.locator('textarea[data-ask-prompt]').fill(row.prompt);
await ask.screenshot({ path: `${out}/ask-another.png` });
const firstRunId = await page.locator('results-workspace').getAttribute('run-id');
await ask.locator('button[data-action="ask"]').click();
await page.locator(`results-workspace:not([run-id="${firstRunId}"])`).waitFor({ timeout: 600_000 });
await page.locator('results-workspace [data-tab="query"]').click();
await page.locator('query-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('p[data-run="done"]').scrollIntoViewIfNeeded();
await page.screenshot({ path: `${out}/ask-another-done.png`, fullPage: false });
await served.close();
console.log(`wrote ${out}/ask-another.png and ${out}/ask-another-done.png`);
