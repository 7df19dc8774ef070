/**
 * `npx tsx scripts/shoot-ux.ts [DEMO_RUN.iwb]`: screenshots of the views issue 20 changed, into docs/screenshots/
 * (needs the built page, `npm run build`): the run settings' estimate with its 'prepare' stage and the whole demo's
 * time; a micro run's progress while the model is prepared; its "Done in"; the stored runs after a reload of the
 * address it left (its stored copy, reopened) and a second import of the same bundle; the After the answer view's
 * verdicts (tests/fixtures/sequences/run.iwb); with DEMO_RUN.iwb (`iwb attribute --demo demo --out …`), the overview's
 * heat table with its unresolved cells.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';

const OUT = 'docs/screenshots';
const [demoRun] = process.argv.slice(2);
mkdirSync(OUT, { recursive: true });
const served = await servePage();
try {
  const context = await served.browser.newContext({ viewport: { width: 1200, height: 900 } });
  const after = readFileSync('tests/fixtures/sequences/run.iwb');
  await context.route('**/shots/after.iwb', (r) => r.fulfill({ body: after, contentType: 'application/octet-stream' }));
  if (demoRun) {
    const bytes = readFileSync(demoRun);
    await context.route('**/shots/demo.iwb', (r) =>
      r.fulfill({ body: bytes, contentType: 'application/octet-stream' }),
    );
  }
  const page = await context.newPage();

  await page.goto(`${served.url}`);
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-estimate [data-full-estimate]').waitFor({ timeout: 600_000 });
  await page.locator('run-estimate [data-estimate-status]').waitFor({ state: 'detached', timeout: 600_000 });
  await page.locator('run-controls').screenshot({ path: `${OUT}/run-estimate-prepare.png` });

  await page.goto(`${served.url}?demo=micro`);
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-estimate [data-total-seconds][data-device="cpu"]').waitFor({ timeout: 300_000 });
  await page.locator('run-estimate [data-estimate-status]').waitFor({ state: 'detached', timeout: 300_000 });
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('attribution-progress progress[data-stage="preparing the model"]').waitFor({ timeout: 120_000 });
  await page.waitForTimeout(2500);
  await page.locator('attribution-progress').screenshot({ path: `${OUT}/progress-preparing.png` });
  await page.locator('[data-run="done"]').waitFor({ timeout: 600_000 });
  await page.locator('[data-run="done"]').screenshot({ path: `${OUT}/done-wall-time.png` });

  await page.reload();
  const section = page.locator('run-library section[data-viewed-run]');
  await section.locator('overview-view[data-ready]').waitFor({ timeout: 120_000 });
  await page.locator('run-library').screenshot({ path: `${OUT}/stored-run-reopened.png` });
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('run-library tr[data-run-id] button[data-action="export"]').first().click(),
  ]);
  const bundle = readFileSync((await download.path())!);
  for (const name of ['shared.iwb', 'shared again.iwb']) {
    await page.locator('run-library input[data-import]').setInputFiles({ name, mimeType: 'x', buffer: bundle });
    await page.locator('run-library section[data-viewed-run] overview-view[data-ready]').waitFor({ timeout: 120_000 });
  }
  await page.locator('run-library [data-already-stored]').waitFor({ timeout: 60_000 });
  await page.locator('run-library').screenshot({ path: `${OUT}/import-already-stored.png` });

  await page.goto(`${served.url}?bundle=shots/after.iwb#view=after`);
  await page.locator('after-answer-view[data-ready]').waitFor({ timeout: 120_000 });
  await page.locator('results-workspace').screenshot({ path: `${OUT}/after-answer-view.png` });

  if (demoRun) {
    await page.goto(`${served.url}?bundle=shots/demo.iwb`);
    await page.locator('overview-view[data-ready="none"]').waitFor({ timeout: 600_000 });
    await page.locator('results-workspace').screenshot({ path: `${OUT}/overview.png` });
  }
  console.log(`wrote screenshots to ${OUT}/`);
} finally {
  await served.close();
}
