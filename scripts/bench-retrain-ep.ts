/**
 * bench:retrain-ep — one page-evaluation retrain (the preset's: micro demo, 8 of 16 training examples, 30 steps of 8,
 * 4 queries measured) on onnxruntime-web's wasm EP and on its WebGPU EP, alternately, in one headless Chromium page
 * (tests/e2e/pages/retrain-ep.ts, served by a Vite dev server; WebGPU on SwiftShader here). Per retrain: wall
 * seconds as the page measures them, the CPU seconds of the whole browser process tree (SwiftShader's threads
 * included) over that call, and the 1-minute load average before it. The first WebGPU retrain compiles its
 * shaders; later ones reuse nothing across sessions but the pipeline cache, so each is reported.
 * JSON on stdout. Usage: tsx scripts/bench-retrain-ep.ts [repeats=3]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { CHROMIUM_FLAGS, chromiumPath } from '../tests/helpers/browser';
import type { RetrainOptions, RetrainRun } from '../tests/e2e/pages/retrain-ep';

const REPEATS = Number(process.argv[2] ?? 3);
const SETTINGS = { steps: 30, train: 16, queries: 4 } as const; // PAGE_EVALUATION_PRESET's

/** utime + stime (s) of every process descended from this one: the browser and its GPU/renderer processes. */
function browserCpuSeconds(): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(fields[1]));
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // The process ended while we read /proc.
    }
  }
  const descends = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, t] of ticks) if (descends(pid)) total += t;
  return total / 100; // USER_HZ
}

const server = await createServer({
  server: { port: 0, host: '127.0.0.1', strictPort: false },
  logLevel: 'warn',
  cacheDir: 'node_modules/.vite-bench-retrain-ep',
});
await server.listen();
const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS, headless: true });
const runs = [];
let adapter = '';
try {
  const page = await browser.newPage();
  await page.goto(`${server.resolvedUrls!.local[0]}tests/e2e/pages/retrain-ep.html`);
  await page.waitForFunction(() => window.retrainEp !== undefined, undefined, { timeout: 300_000 });
  for (let r = 0; r < REPEATS; r++) {
    for (const ep of ['wasm', 'webgpu'] as const) {
      const load = loadavg()[0]!;
      const cpu = browserCpuSeconds();
      const options: RetrainOptions = { ep, ...SETTINGS };
      const run = (await page.evaluate((o) => window.retrainEp!.run(o), options)) as RetrainRun;
      adapter = run.adapter;
      runs.push({
        ep,
        repeat: r,
        wallSeconds: run.seconds,
        browserCpuSeconds: browserCpuSeconds() - cpu,
        loadAverage1m: load,
        measurements: run.measurements,
      });
      console.error(`${ep} #${r}: ${run.seconds.toFixed(1)} s wall, load ${load.toFixed(1)}`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(
  JSON.stringify(
    {
      benchmark: 'retrain-ep',
      browser: 'headless Chromium',
      adapter,
      settings: SETTINGS,
      runs,
      loadAfter: loadavg()[0],
    },
    null,
    2,
  ),
);
