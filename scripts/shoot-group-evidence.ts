/**
 * `npx tsx scripts/shoot-group-evidence.ts [BUNDLE.iwb] [OUT_DIR]`: screenshots of the Evidence panel under the
 * overview's heat table, for a demo bundle whose cells are the committed group-evidence records' (default:
 * tests/fixtures/sequences/run.iwb), first with --track mlp, then all. Needs the built page (`npx vite build`) with
 * public/experiments/groups-domain-difficulty-*.json in it.
 */
import { readFileSync } from 'node:fs';
import { openBundlePage } from './shoot-bundle';

const [bundlePath = 'tests/fixtures/sequences/run.iwb', out = 'docs/screenshots'] = process.argv.slice(2);
const { served, page } = await openBundlePage(readFileSync(bundlePath), out, { height: 1400 });
const panel = page.locator('group-evidence-panel[data-status="ready"]');
await panel.waitFor({ timeout: 600_000 });
await panel.scrollIntoViewIfNeeded();
await panel.screenshot({ path: `${out}/evidence-groups-mlp.png` });
const all = panel.locator('button[data-track="all"]');
if ((await all.count()) > 0) {
  await all.click();
  await panel.locator('button[data-track="all"][aria-pressed="true"]').waitFor();
  await panel.screenshot({ path: `${out}/evidence-groups-all.png` });
}
// The heat table and the panel together, as a reader sees them.
await page.locator('overview-view table[data-cross-domain]').scrollIntoViewIfNeeded();
await page.screenshot({ path: `${out}/evidence-overview.png`, fullPage: false });
await served.close();
console.log(`wrote ${out}/evidence-groups-mlp.png, evidence-groups-all.png, evidence-overview.png`);
