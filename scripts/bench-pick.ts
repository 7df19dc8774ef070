/**
 * `npx tsx scripts/bench-pick.ts [--layers 2] [--out bench/pick.json]`: what picking a large model costs the page.
 * A GPT-2-small-shaped graph (scripts/gpt2-small-inputs.ts's shapes, `--layers` blocks, seeded random weights) is
 * written to a temporary folder and picked in the built page (headless Chromium, `npm run build` first); measured:
 * the time until Options → Layers lists it and until the first estimate appears, and the longest the page's main
 * thread was unable to run a task meanwhile (the largest gap of a 10 ms heartbeat; checked against a 150 ms busy loop,
 * as Chromium's 'longtask' entries did not appear headless). For comparison, parsing the same bytes once in Node
 * (readModel): the work the page's main thread did before parsing moved to the worker. A benchmark, not a test:
 * machine and load are recorded with the figures.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readModel } from '../src/app/inputs';
import { buildGptForward, initGptWeights } from '../src/models/gpt';
import { serializeModel } from '../src/onnx/protobuf';
import { servePage } from '../tests/helpers/browser';
import { MICRO_DATA } from '../tests/helpers/cli';
import { GPT2_SMALL } from './gpt2-small-inputs';

const { values: args } = parseArgs({
  options: { layers: { type: 'string', default: '2' }, out: { type: 'string', default: 'bench/pick.json' } },
});
const config = { ...GPT2_SMALL, nLayer: Number(args.layers) };
const loadBefore = loadavg();
const bytes = serializeModel(buildGptForward(config, initGptWeights(config, 0, 'float32')));
const dir = mkdtempSync(path.join(tmpdir(), 'iwb-pick-'));
const modelPath = path.join(dir, 'gpt2-shaped.onnx');
writeFileSync(modelPath, bytes);

const parseStart = performance.now();
const cpuStart = process.cpuUsage();
readModel('gpt2-shaped.onnx', bytes);
const cpu = process.cpuUsage(cpuStart);
const nodeParse = { wallMs: performance.now() - parseStart, cpuMs: (cpu.user + cpu.system) / 1000 };

const served = await servePage();
const page = await served.browser.newPage();
// A heartbeat every 10 ms: the longest gap between beats is the longest time the main thread could not run a task.
await page.addInitScript(() => {
  const state = { last: performance.now(), maxGap: 0 };
  (window as unknown as { __beat: typeof state }).__beat = state;
  setInterval(() => {
    const now = performance.now();
    state.maxGap = Math.max(state.maxGap, now - state.last);
    state.last = now;
  }, 10);
});
type Beat = { last: number; maxGap: number };
const maxGap = () => page.evaluate(() => (window as unknown as { __beat: Beat }).__beat.maxGap);
const resetGap = () => page.evaluate(() => ((window as unknown as { __beat: Beat }).__beat.maxGap = 0));
await page.goto(`${served.url}?demo=micro`);
await page.locator('run-controls select#backend').selectOption('cpu');
await page.locator('run-controls input[data-source="files"]').check();
await page.locator('run-controls details summary').click();
await page.locator('run-controls input#tokenizer').setInputFiles(MICRO_DATA.tokenizer);
await page.locator('run-controls input#train').setInputFiles(MICRO_DATA.train);
await page.locator('run-controls input#queries').setInputFiles(MICRO_DATA.queries);
await page.locator('run-controls input#limit-train').fill('4');
await page.locator('run-controls input#limit-queries').fill('2');
await resetGap();
const start = Date.now();
await page.locator('run-controls input#model').setInputFiles(modelPath);
await page.locator('model-layers-view [data-layers-summary]').waitFor({ timeout: 600_000 });
const layersMs = Date.now() - start;
await page
  .locator('run-estimate [data-estimate]')
  .filter({ hasText: '4 training examples × 2 queries' })
  .waitFor({ timeout: 600_000 });
const estimateMs = Date.now() - start;
const longestGapMs = await maxGap();
// The heartbeat itself, checked: a 150 ms busy loop on the main thread must show as a gap of at least that.
await resetGap();
await page.evaluate(() => {
  const until = performance.now() + 150;
  while (performance.now() < until);
});
await page.waitForTimeout(100);
const busyLoopGapMs = await maxGap();
await served.close();
rmSync(dir, { recursive: true, force: true });

const result = {
  command: `npx tsx scripts/bench-pick.ts ${process.argv.slice(2).join(' ')}`.trim(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
  browser: 'headless Chromium (playwright-core, /usr/bin/chromium), CPU backend',
  loadBefore,
  loadAfter: loadavg(),
  model: { blocks: config.nLayer, bytes: bytes.length },
  nodeParse,
  page: {
    layersListedMs: layersMs,
    firstEstimateMs: estimateMs,
    longestMainThreadGapMs: longestGapMs,
    busyLoop150msGapMs: busyLoopGapMs,
  },
};
mkdirSync(path.dirname(args.out!), { recursive: true });
writeFileSync(args.out!, JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(result, null, 1));
