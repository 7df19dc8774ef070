/**
 * Screenshot of the run estimate when an eigendecomposition splits (docs/screenshots/estimate-eigh-split.png),
 * from the built page (npm run build first) in headless Chromium. The estimate is the planner's own (planRun's
 * planMemory and runEstimate's fields) for one GPT-2-XL-wide block (d 1,600, MLP 6,400) on a WebGPU adapter with the
 * default 128 MiB binding: no model that wide ships with the tests, so it is handed to the page's estimate view.
 * Usage: tsx scripts/shoot-eigh-split.ts [outDir]
 */
import { mkdirSync } from 'node:fs';
import { deviceProfile, estimateOf, THROUGHPUT, ORT_HEAP_BYTES } from '../src/app/run-plan';
import { planMemory } from '../src/influence/memory-plan';
import { DEFAULT_CONFIG } from '../src/influence/types';
import { servePage } from '../tests/helpers/browser';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const layers = [
  { name: '/h.0/mlp/c_fc/MatMul', dIn: 1600, dOut: 6400, hasBias: true },
  { name: '/h.0/mlp/c_proj/MatMul', dIn: 6400, dOut: 1600, hasBias: true },
];
const params = 50257 * 1600 + 1024 * 1600 + 12 * 1600 * 1600 + 2 * 1600 * 6400;
const graph = {
  vocab: 50257,
  weightBytes: 4 * params,
  linearWidth: 4 * 1600 + 3 * 1600 + 2 * (1600 + 6400) + 50257 + 1600,
  heapBytes: ORT_HEAP_BYTES,
  flopsPerSecond: THROUGHPUT.ortWasm,
};
const device = deviceProfile({ kind: 'webgpu', maxBindingBytes: 128 * 1024 ** 2, memoryBudgetBytes: 4 * 1024 ** 3 });
const data = { train: 64, queries: 8, maxTokens: 512, trainTokens: 64 * 400, queryTokens: 8 * 400 };
const plan = planMemory(DEFAULT_CONFIG, layers, graph, data, device);
const estimate = estimateOf(
  { plan, device },
  layers.map(({ name, dIn, dOut }) => ({ name, dIn, dOut })),
  { train: data.train, queries: data.queries },
  'WebGPU float32 (a 128 MiB binding)',
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
  await view.locator('[data-estimate-notes]').waitFor({ timeout: 30_000 });
  await view.locator('[data-estimate-status]').waitFor({ state: 'detached', timeout: 60_000 });
  await view.screenshot({ path: `${out}/estimate-eigh-split.png` });
  console.log('wrote', `${out}/estimate-eigh-split.png`);
} finally {
  await served.close();
}
