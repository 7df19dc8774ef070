/**
 * bench:teach:browser — the teaching lab's own status line in headless Chromium (built page, npm run build first):
 * a 200-point state per model, then six reruns in the same page (the Fisher toggled, so the lab worker retrains and
 * rescores with a warm JIT). Wall time only (the page cannot see its worker's CPU time); the load average is recorded
 * with every run because other sessions share this machine. JSON on stdout. Usage: tsx scripts/bench-teach-browser.ts
 */
import { loadavg } from 'node:os';
import { MODELS } from '../src/teach/models';
import type { Example } from '../src/teach/network';
import { defaultState, serializeState } from '../src/teach/state';
import { servePage } from '../tests/helpers/browser';

const RERUNS = 6;
const served = await servePage();
const cases = [];
try {
  const page = await served.browser.newPage();
  for (const model of ['logistic', 'mlp'] as const) {
    const train: Example[] = [];
    for (let seed = 1; train.length < 200; seed++) train.push(...MODELS[model].generate(seed).train);
    await page.goto(
      served.url + 'teach.html' + serializeState({ ...defaultState(model), points: train.slice(0, 200) }),
    );
    await page.waitForSelector('teach-app[data-status="ready"]', { timeout: 300_000 });
    const runs = [];
    for (let r = 0; r < RERUNS; r++) {
      const load = loadavg()[0];
      const generation = Number(await page.getAttribute('teach-app', 'data-generation'));
      await page.selectOption('select[data-control="fisher"]', r % 2 ? 'true' : 'empirical');
      await page.waitForFunction(
        (g) => {
          const app = document.querySelector('teach-app') as HTMLElement;
          return Number(app.dataset.generation) > g && app.dataset.status === 'ready';
        },
        generation,
        { timeout: 300_000 },
      );
      const status = (await page.textContent('teach-app p.status'))!.replace(/\s+/g, ' ').trim();
      runs.push({ loadAverage1m: load, status });
    }
    cases.push({ model, points: 200, runs });
  }
} finally {
  await served.close();
}
console.log(JSON.stringify({ benchmark: 'teach-browser', browser: 'headless Chromium (SwiftShader)', cases }, null, 2));
