/**
 * `npm run bench:estimate [-- --demos micro,demo] [--backends cpu,webgpu] [--out docs/benchmarks/estimate.json]`:
 * the page's run estimate against the wall time of the run, in headless Chromium on the built page (run `npm run
 * build` first; WebGPU is SwiftShader's software adapter there). Per demo and backend, in a fresh browser context
 * (empty IndexedDB): the estimate the run settings show (its total and its stages), then the run from the click to
 * "Done", with the time each progress stage was first seen (polled every 100 ms in the page). JSON out; a benchmark,
 * not a test: the figures depend on the machine and its load, which are recorded with them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { servePage } from '../tests/helpers/browser';

const { values: args } = parseArgs({
  options: {
    demos: { type: 'string', default: 'micro,demo' },
    backends: { type: 'string', default: 'cpu,webgpu' },
    out: { type: 'string', default: 'docs/benchmarks/estimate.json' },
    /** Minutes one run may take before the bench gives up on it. */
    timeout: { type: 'string', default: '14' },
  },
});

interface Measurement {
  readonly demo: string;
  readonly backend: string;
  readonly estimateSeconds: number;
  readonly estimateStages: readonly { readonly stage: string; readonly seconds: number }[];
  /** From the click to "Done"; with timedOut, the time given up after (a lower bound). */
  readonly wallSeconds: number;
  readonly timedOut: boolean;
  /** The page's own "Done in" (its click to its results), which wallSeconds checks from outside. */
  readonly pageWallSeconds: number | null;
  readonly ratio: number;
  /** Seconds from the click at which each progress stage was first shown. */
  readonly stagesSeen: readonly { readonly stage: string; readonly at: number }[];
  readonly engineTimings: string;
  /** The machine's speed the estimate measured (1 = the planner's idle figures). */
  readonly speed: number | null;
}

const served = await servePage();
const results: Measurement[] = [];
const loadBefore = loadavg();
try {
  for (const demo of args.demos.split(',')) {
    for (const backend of args.backends.split(',')) {
      const context = await served.browser.newContext();
      const page = await context.newPage();
      await page.goto(`${served.url}?demo=${demo}`);
      await page.locator('run-controls select#backend').selectOption(backend);
      // The estimate for this backend (the settings are debounced, then estimated in the worker).
      const cell = page.locator(`run-estimate [data-total-seconds][data-device="${backend}"]`);
      await cell.waitFor({ timeout: 300_000 });
      await page.locator('run-estimate [data-estimate-status]').waitFor({ state: 'detached', timeout: 300_000 });
      const estimateSeconds = Number(await cell.getAttribute('data-total-seconds'));
      const estimateStages = await page.locator('run-estimate tr[data-stage]').evaluateAll((rows) =>
        rows.map((row) => ({
          stage: row.getAttribute('data-stage')!,
          seconds: Number(row.getAttribute('data-stage-seconds')),
        })),
      );
      await page.evaluate(() => {
        const seen: { stage: string; at: number }[] = [];
        (window as unknown as { seen: typeof seen }).seen = seen;
        const t0 = performance.now();
        setInterval(() => {
          const app = document.querySelector('workbench-app')!.shadowRoot!;
          const progress = app.querySelector('attribution-progress')?.shadowRoot;
          const stage = progress?.querySelector('[data-progress-stage]')?.textContent ?? null;
          if (stage !== null && seen.at(-1)?.stage !== stage) seen.push({ stage, at: (performance.now() - t0) / 1000 });
        }, 100);
      });
      const speedText = await page
        .locator('run-estimate [data-speed]')
        .getAttribute('data-speed', { timeout: 1000 })
        .catch(() => null);
      const speed = speedText === null ? null : Number(speedText);
      const started = performance.now();
      await page.locator('run-controls button[data-action="start"]').click();
      const done = page.locator('[data-run="done"]');
      // A run past the time limit is recorded as such (its wall time is then a lower bound), not dropped.
      const timedOut = await done
        .waitFor({ timeout: Number(args.timeout) * 60_000 })
        .then(() => false)
        .catch(() => true);
      const wallSeconds = (performance.now() - started) / 1000;
      const pageWallSeconds = timedOut ? null : Number(await done.getAttribute('data-wall-seconds'));
      const stagesSeen = await page.evaluate(
        () => (window as unknown as { seen: { stage: string; at: number }[] }).seen,
      );
      const engineTimings = timedOut ? '' : (await done.textContent())!.replace(/\s+/g, ' ').trim();
      const m: Measurement = {
        demo,
        backend,
        estimateSeconds,
        estimateStages,
        wallSeconds,
        timedOut,
        pageWallSeconds,
        ratio: wallSeconds / estimateSeconds,
        stagesSeen,
        engineTimings,
        speed,
      };
      results.push(m);
      console.log(
        `${demo} on ${backend}: estimate ${estimateSeconds.toFixed(1)} s (speed ${speed ?? 1}), ` +
          `wall ${timedOut ? '> ' : ''}${wallSeconds.toFixed(1)} s ` +
          `(ratio ${m.ratio.toFixed(2)}); stages first seen at ${stagesSeen.map((s) => `${s.stage} ${s.at.toFixed(1)} s`).join(', ')}`,
      );
      await context.close();
    }
  }
} finally {
  await served.close();
}
const record = {
  command: `npm run bench:estimate -- --demos ${args.demos} --backends ${args.backends}`,
  date: new Date().toISOString(),
  machine: `${cpus().length}-core ${cpus()[0]?.model ?? 'CPU'}, headless Chromium, WebGPU on SwiftShader`,
  loadAverageBefore: loadBefore,
  loadAverageAfter: loadavg(),
  results,
};
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, `${JSON.stringify(record, null, 2)}\n`);
console.log(`wrote ${args.out}`);
