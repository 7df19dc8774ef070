/**
 * Screenshot of the run estimate with the token analyses (docs/screenshots/estimate-token-analyses.png), from the
 * built page (npm run build first) in headless Chromium: the planner's own plan (planMemory, estimateOf) for the demo
 * GPT's shapes on the CPU backend with the empirical Fisher, two query groups and the top 20 pairs' token scores,
 * handed to the page's estimate view. Usage: tsx scripts/shoot-estimate-analyses.ts [outDir]
 */
import { mkdirSync } from 'node:fs';
import { deviceProfile, estimateOf, THROUGHPUT, ORT_HEAP_BYTES } from '../src/app/run-plan';
import { planMemory } from '../src/influence/memory-plan';
import { DEFAULT_CONFIG } from '../src/influence/types';
import { servePage } from '../tests/helpers/browser';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const layers = [0, 1].flatMap((b) => [
  { name: `/h.${b}/mlp/fc/MatMul`, dIn: 128, dOut: 512, hasBias: true },
  { name: `/h.${b}/mlp/proj/MatMul`, dIn: 512, dOut: 128, hasBias: true },
]);
const graph = {
  vocab: 512,
  weightBytes: 4 * 600_000,
  linearWidth: 2 * (4 * 128 + 2 * (128 + 512)) + 512 + 128,
  heapBytes: ORT_HEAP_BYTES,
  flopsPerSecond: THROUGHPUT.ortWasm,
};
const device = deviceProfile({ kind: 'cpu' });
const data = {
  ...{ train: 32, queries: 4, maxTokens: 96, trainTokens: 32 * 70, queryTokens: 4 * 60 },
  ...{ queryGroups: 2, pairTokensTopK: 20 },
};
const plan = planMemory({ ...DEFAULT_CONFIG, fisher: 'empirical' }, layers, graph, data, device);
const estimate = estimateOf(
  { plan, device },
  layers.map(({ name, dIn, dOut }) => ({ name, dIn, dOut })),
  { train: data.train, queries: data.queries },
  'CPU float64',
);

const served = await servePage();
try {
  const page = await served.browser.newPage({ viewport: { width: 1320, height: 1000 } });
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  await page.goto(served.url + '?demo=micro');
  const view = page.locator('run-controls run-estimate');
  await view.locator('[data-estimate]').waitFor({ timeout: 60_000 });
  await view.evaluate((element, shown) => {
    const target = element as HTMLElement & { estimator: unknown; request: unknown };
    target.estimator = async () => shown;
    target.request = { ...(target.request as object) };
  }, estimate);
  await view.locator('[data-estimate-analyses]').waitFor({ timeout: 30_000 });
  await view.locator('[data-estimate-status]').waitFor({ state: 'detached', timeout: 60_000 });
  await view.screenshot({ path: `${out}/estimate-token-analyses.png` });
  console.log('wrote', `${out}/estimate-token-analyses.png`);
} finally {
  await served.close();
}
