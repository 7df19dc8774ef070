/**
 * `npx tsx scripts/shoot-ask-span.ts [OUT_DIR]`: "Attribute this span" and "Compare two responses" under a finished
 * micro demo run (CPU backend). Needs the built page (`npm run build`). Writes OUT_DIR/ask-span.png (tokens selected in
 * the query view), ask-span-done.png (the asked run's query view: the span and T_q), ask-compare.png (the two
 * responses typed) and ask-compare-done.png (the ranked difference). Default OUT_DIR: docs/screenshots.
 */
import { openMicroRun } from './shoot-bundle';

const [out = 'docs/screenshots'] = process.argv.slice(2);
const { served, page } = await openMicroRun(out);
const runId = (await page.locator('results-workspace').getAttribute('run-id'))!;
await page.locator('results-workspace [data-tab="query"]').click();
const picker = page.locator('results-workspace query-view span-picker');
await picker.locator('details').evaluate((d) => ((d as HTMLDetailsElement).open = true));
const tokens = picker.locator('[data-span-token]');
const count = await tokens.count();
await tokens.nth(count - 4).click();
await tokens.nth(count - 2).click();
await picker.screenshot({ path: `${out}/ask-span.png` });
await picker.locator('button[data-action="attribute-span"]').click();
await page.locator(`results-workspace:not([run-id="${runId}"])`).waitFor({ timeout: 600_000 });
const spanRunId = (await page.locator('results-workspace').getAttribute('run-id'))!;
await page.locator('results-workspace [data-tab="query"]').click();
await page.locator('query-view[data-ready]').waitFor({ timeout: 600_000 });
await page.locator('query-view [data-query-measured]').scrollIntoViewIfNeeded();
await page.screenshot({ path: `${out}/ask-span-done.png` });

const ask = page.locator('ask-question');
await ask.locator('details').evaluate((d) => ((d as HTMLDetailsElement).open = true));
await ask
  .locator('textarea[data-compare-prompt]')
  .fill('Question: Tom has 3 apples and buys 4 more. How many?\nAnswer:\n');
await ask.locator('textarea[data-compare-a]').fill('He has 3+4=7 apples.\n#### 7');
await ask.locator('textarea[data-compare-b]').fill('He has 3*4=12 apples.\n#### 12');
await ask.screenshot({ path: `${out}/ask-compare.png` });
await ask.locator('button[data-action="compare"]').click();
await page.locator(`results-workspace:not([run-id="${spanRunId}"])`).waitFor({ timeout: 600_000 });
await page.locator('response-comparison li').first().waitFor({ timeout: 600_000 });
await page.locator('response-comparison').screenshot({ path: `${out}/ask-compare-done.png` });
await served.close();
console.log(`wrote ${out}/ask-span.png, ask-span-done.png, ask-compare.png and ask-compare-done.png`);
