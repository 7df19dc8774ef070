/**
 * Resumable runs in a real browser: the engine (CPU float64) checkpoints into Chromium's IndexedDB after every chunk;
 * the page is reloaded in the middle of the lambda stage (the run holds after its first Λ checkpoint, so the reload
 * lands there whatever the machine's speed); after the reload the store offers the run and its checkpoint, the run
 * resumes in that stage, and the final scores equal an uninterrupted run's bit for bit.
 *
 * The page side (tests/fixtures/store/resume-page.ts) runs the engine on the page's main thread, so this test covers
 * the store + engine + reload path alone; tests/e2e/runs.test.ts covers the same through the engine worker and the UI.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { build, type Rolldown } from 'vite';
import { openPage, servePage, type Served } from '../helpers/browser';
import { referenceRun, type RunSummary } from '../fixtures/store/resume-page';

type ResumePage = typeof import('../fixtures/store/resume-page');
declare const iwbResume: ResumePage;

let served: Served;
let pageScript: string;
beforeAll(async () => {
  const output = await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      minify: false,
      lib: { entry: 'tests/fixtures/store/resume-page.ts', formats: ['iife'], name: 'iwbResume' },
    },
  });
  const chunk = (Array.isArray(output) ? output[0]! : (output as Rolldown.RolldownOutput)).output[0];
  pageScript = chunk.type === 'chunk' ? chunk.code : '';
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

test('a run interrupted by a page reload mid-stage resumes from IndexedDB to bit-identical scores', async () => {
  const reference: RunSummary = await referenceRun();
  const { page, errors } = await openPage(served);
  await page.addScriptTag({ content: pageScript });
  const runId = await page.evaluate(() => iwbResume.startRun());
  await page.waitForFunction(() => iwbResume.status.lastCheckpointStage === 'lambda', undefined, {
    timeout: 240_000,
    polling: 100,
  });
  await page.reload();

  await page.addScriptTag({ content: pageScript });
  const resumed = await page.evaluate(() => iwbResume.resumeRun());
  expect(resumed.runs).toEqual([{ id: runId, status: 'running', stage: 'lambda' }]);
  expect(resumed.checkpointStage).toBe('lambda');
  // Resumed, not restarted: the first progress after the reload is in the interrupted stage.
  expect(resumed.result.firstStage).toBe('lambda');
  // Bit-identical to an uninterrupted run on the same JavaScript engine...
  const uninterrupted = await page.evaluate(() => iwbResume.referenceRun());
  expect(resumed.result.tau).toEqual(uninterrupted.tau);
  expect(resumed.result.selfTau).toEqual(uninterrupted.selfTau);
  // ...and equal to Node's run up to the last bits (Node's and Chromium's V8 round Math.exp/log differently).
  const relative = Math.max(
    ...reference.tau.map((value, i) => Math.abs(value - resumed.result.tau[i]!) / (Math.abs(value) + 1e-300)),
  );
  expect(relative).toBeLessThan(1e-10);
  expect(resumed.result.tau).not.toEqual(new Array(reference.tau.length).fill(0));
  expect(errors).toEqual([]);
});
