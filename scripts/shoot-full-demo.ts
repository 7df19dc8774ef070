/**
 * `npx tsx scripts/shoot-full-demo.ts [DIR] [OUT_DIR] [PREFIX]`: the first visit's offer of the full demo and the
 * workspace it opens, with DIR/full-demo.iwb.gz and DIR/full-demo.json served under the page's demo/ paths (default
 * DIR: public/demo
 * when it has the bundle, else the micro stand-in tests/fixtures/demo). Needs the built page (`npm run build`). Writes
 * OUT_DIR/PREFIX-offer.png, -overview.png (with the heat table), -analyses.png (sequences and tokens), -after.png (when
 * the run has After the answer), -example.png (a training example's heatmap). Defaults: docs/screenshots, full-demo.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';

const args = process.argv.slice(2);
const dir = args[0] ?? (existsSync('public/demo/full-demo.iwb.gz') ? 'public/demo' : 'tests/fixtures/demo');
const [, out = 'docs/screenshots', prefix = 'full-demo'] = args;
mkdirSync(out, { recursive: true });
const bundle = readFileSync(`${dir}/full-demo.iwb.gz`);
const manifest = readFileSync(`${dir}/full-demo.json`, 'utf8');
const served = await servePage();
const context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 1000 } });
await context.route('**/demo/full-demo.json', (route) =>
  route.fulfill({ body: manifest, contentType: 'application/json' }),
);
await context.route('**/demo/full-demo.iwb.gz*', (route) =>
  route.fulfill({ body: bundle, contentType: 'application/octet-stream' }),
);
const page = await context.newPage();
await page.goto(`${served.url}?offer=full-demo`);
await page.locator('full-demo-offer[data-state="offered"]').waitFor({ state: 'attached', timeout: 60_000 });
await page.screenshot({ path: `${out}/${prefix}-offer.png`, clip: { x: 0, y: 0, width: 1280, height: 520 } });
await page.locator('full-demo-offer [data-action="open-full-demo"]').click();
const workspace = page.locator('run-library results-workspace');
await workspace.locator('overview-view[data-ready]').waitFor({ timeout: 300_000 });
await workspace.scrollIntoViewIfNeeded();
await page.locator('run-library').screenshot({ path: `${out}/${prefix}-overview.png` });
const shots = [`${prefix}-offer.png`, `${prefix}-overview.png`];
for (const [tab, ready, name] of [
  ['analyses', 'analyses-view[data-ready]', 'analyses'],
  ['after', 'after-answer-view[data-ready]', 'after'],
  ['example', 'example-view[data-ready]', 'example'],
] as const) {
  const button = workspace.locator(`[data-tab="${tab}"]`);
  if ((await button.count()) === 0) continue;
  await button.click();
  await workspace.locator(ready).waitFor({ timeout: 300_000 });
  await workspace.screenshot({ path: `${out}/${prefix}-${name}.png` });
  shots.push(`${prefix}-${name}.png`);
}
await served.close();
console.log(`from ${dir}: wrote ${shots.map((s) => `${out}/${s}`).join(', ')}`);
