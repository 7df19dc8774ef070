/**
 * Stored runs on the page, in headless Chromium: a micro-demo run (CPU backend) is kept in IndexedDB and listed;
 * its scores equal the same run computed in Node; it exports as an .iwb download; deleting it removes it; importing
 * the downloaded file shows the same top-k results read-only; a corrupted copy is refused with the decoder's message
 * and stores nothing. A run interrupted by a reload (at a point the test holds it: `?hold=lambda`) is offered for
 * resume, resumes, and ends with an uninterrupted run's scores. Each test opens its own page (its own browser
 * context, so its own IndexedDB) and depends on no other test.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { encodeBundle } from '../../src/store/bundle';
import { openInContext, openPage, servePage, storedCheckpointStage, type Served } from '../helpers/browser';
import { bundleRowIds, tensorBytes, tensorValues } from '../helpers/bundle-file';
import { cli } from '../helpers/cli';

let served: Served;
let page: Page;
let errors: string[];

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

async function open(query: string): Promise<void> {
  ({ page, errors } = await openPage(served, query));
  page.on('dialog', (dialog) => void dialog.accept());
}

async function exportFirstRow(): Promise<Buffer> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    rows().first().locator('button[data-action="export"]').click(),
  ]);
  return readFileSync((await download.path())!);
}

/** Records per object store of the page's IndexedDB database. */
function storedCounts(): Promise<Record<string, number>> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('influence-workbench');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const names = [...db.objectStoreNames];
    const tx = db.transaction(names);
    const counts = await Promise.all(
      names.map(
        (name) =>
          new Promise<number>((resolve) => {
            const request = tx.objectStore(name).count();
            request.onsuccess = () => resolve(request.result);
          }),
      ),
    );
    db.close();
    return Object.fromEntries(names.map((name, i) => [name, counts[i]!]));
  });
}

function pageErrors(): string[] {
  return errors.filter((e) => !e.includes('[W:onnxruntime'));
}

const rows = () => page.locator('run-library tr[data-run-id]');

/** [train id, score text, list kind] of the helpful and harmful lists under `scope`. */
async function ranking(scope: string): Promise<string[][]> {
  await page.locator(`${scope} influence-list li`).first().waitFor({ timeout: 30_000 });
  return page
    .locator(`${scope} influence-list li`)
    .evaluateAll((items) =>
      items.map((li) => [
        li.getAttribute('data-train-id') ?? '',
        li.querySelector('[data-score]')?.textContent ?? '',
        (li.getRootNode() as ShadowRoot).host?.getAttribute('kind') ?? '',
      ]),
    );
}

async function runMicroDemoOnCpu(): Promise<void> {
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });
}

interface NodeSummary {
  queries: { id: string; helpful: { id: string; influence: number }[]; harmful: { id: string; influence: number }[] }[];
  benchmarks: {
    benchmark: string;
    helpful: { id: string; influence: number }[];
    harmful: { id: string; influence: number }[];
  }[];
}

/** The same micro-demo run computed in Node by `iwb attribute` (CPU float64), as its --json summary. */
async function nodeMicroRun(): Promise<NodeSummary> {
  const dir = await mkdtemp(path.join(tmpdir(), 'iwb-e2e-'));
  try {
    const out = path.join(dir, 'summary.json');
    const { code, stderr } = await cli(['attribute', '--demo', 'micro', '--backend', 'cpu', '--quiet', '--json', out]);
    expect(code, stderr).toBe(0);
    return JSON.parse(await readFile(out, 'utf8')) as NodeSummary;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** |a − b| relative to the largest |score| of the run: batching sums float64 terms in another order. */
const RELATIVE = 1e-9;

test('the address a finished run leaves reopens it after a reload and in a new tab', async () => {
  // One browser context, so the second tab shares the first one's IndexedDB, as two tabs of one browser do.
  const context = await served.browser.newContext();
  ({ page, errors } = await openInContext(context, served, '?demo=micro'));
  await page.locator('run-library [data-no-runs]').waitFor({ timeout: 30_000 });
  await runMicroDemoOnCpu();
  await page.locator('workbench-app > results-workspace overview-view[data-ready]').waitFor({ timeout: 60_000 });
  // "Done in" is the wall time from the click: at least the engine's own stages, and it says so.
  const done = page.locator('[data-run="done"]');
  expect(await done.textContent()).toMatch(
    /Done in (\d+ min )?\d+ s from the click( \(estimated [^)]+\))?, of which the engine.s stages took/,
  );
  const engine = Number((await done.textContent())!.match(/engine's stages took\s+([\d.]+) s/)![1]);
  expect(Number(await done.getAttribute('data-wall-seconds'))).toBeGreaterThanOrEqual(engine);
  const address = page.url();
  const runId = new URLSearchParams(new URL(address).hash.slice(1)).get('run');
  expect(runId).toMatch(/\S/);
  expect(address).toContain('?demo=micro#');

  const reopened = async (tab: Page, view: string) => {
    const section = tab.locator(`run-library section[data-viewed-run="${runId}"]`);
    await section.locator(`results-workspace ${view}-view[data-ready]`).waitFor({ timeout: 60_000 });
    // The run's own stored copy: its workspace, without the top lists repeated above it.
    expect(await section.locator(':scope > influence-results').count()).toBe(0);
    expect(await tab.locator('run-library [data-library-error]').count()).toBe(0);
  };
  await page.reload();
  await reopened(page, 'overview');
  // The view state in the address survives too: the Query tab, chosen after the reload, opens in a new tab.
  await page.locator('run-library results-workspace [data-tab="query"]').click();
  await expect.poll(() => new URL(page.url()).hash).toContain('view=query');
  const { page: tab, errors: tabErrors } = await openInContext(context, served, page.url().slice(served.url.length));
  await reopened(tab, 'query');
  expect(tabErrors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
  await tab.close();

  // An address naming a run this browser does not have says so.
  // (A hash change alone does not reload the page: reload after it.)
  await page.goto(`${served.url}?demo=micro#run=no-such-run`);
  await page.reload();
  await page.locator('run-library [data-library-error]').waitFor({ timeout: 30_000 });
  expect(await page.locator('run-library [data-library-error]').textContent()).toContain('not stored in this browser');
  expect(pageErrors()).toEqual([]);
  await context.close();
});

test('a finished run is stored with the scores Node computes, exports as .iwb, deletes, and reopens read-only', async () => {
  await open('?demo=micro');
  await page.locator('run-library [data-no-runs]').waitFor({ timeout: 30_000 });
  const [node] = await Promise.all([nodeMicroRun(), runMicroDemoOnCpu()]);
  const live = await ranking('workbench-app > influence-results');

  // The page's first benchmark view lists Node's top examples for that benchmark, with Node's values.
  const shownValues = await page
    .locator('workbench-app > influence-results influence-list[kind="helpful"] [data-score]')
    .evaluateAll((spans) => spans.map((span) => Number(span.getAttribute('data-value'))));
  const nodeHelpful = node.benchmarks[0]!.helpful;
  expect(shownValues.length).toBeGreaterThan(0);
  const scale = Math.max(
    ...node.queries.flatMap((q) => [...q.helpful, ...q.harmful].map((r) => Math.abs(r.influence))),
  );
  expect(live.filter(([, , kind]) => kind === 'helpful').map(([id]) => id)).toEqual(
    nodeHelpful.slice(0, shownValues.length).map((r) => r.id),
  );
  shownValues.forEach((value, i) =>
    expect(Math.abs(value - nodeHelpful[i]!.influence)).toBeLessThanOrEqual(RELATIVE * scale),
  );

  await expect.poll(() => rows().count(), { timeout: 10_000 }).toBe(1);
  const row = rows().first();
  expect(await row.getAttribute('data-status')).toBe('complete');
  // Its results are in IndexedDB; its checkpoint, no longer needed, is not.
  expect(await storedCounts()).toMatchObject({ runs: 1, checkpoints: 0 });
  expect((await storedCounts()).tensors).toBeGreaterThan(5);
  expect(await row.locator('[data-run-name]').textContent()).toMatch(/micro demo · ekfac/);

  await row.locator('button[data-action="rename"]').click();
  await row.locator('input[data-rename-input]').fill('my <b>micro</b> run');
  await row.locator('button[data-action="save-name"]').click();
  await expect.poll(() => rows().first().locator('[data-run-name]').textContent()).toBe('my <b>micro</b> run');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    rows().first().locator('button[data-action="export"]').click(),
  ]);
  // A portable file name: ASCII letters, digits and hyphens, whatever the run's name.
  expect(download.suggestedFilename()).toBe('my-b-micro-b-run.iwb');
  const bundle = readFileSync((await download.path())!);
  expect(tensorBytes(bundle, 'scores.tau').byteLength).toBe(4 * 16 * 8);
  // Every score Node ranks in its top 10 per query is the stored run's, to float64 summation order.
  const influence = tensorValues(bundle, 'scores.influence');
  const ids = bundleRowIds(bundle);
  expect(ids.query).toEqual(node.queries.map((q) => q.id));
  for (const [qi, query] of node.queries.entries()) {
    for (const { id, influence: expected } of [...query.helpful, ...query.harmful]) {
      const ti = ids.train.indexOf(id);
      expect(ti, id).toBeGreaterThanOrEqual(0);
      expect(Math.abs(influence[qi * ids.train.length + ti]! - expected), `${query.id} ← ${id}`).toBeLessThanOrEqual(
        RELATIVE * scale,
      );
    }
  }

  await rows().first().locator('button[data-action="delete"]').click();
  await page.locator('run-library [data-no-runs]').waitFor({ timeout: 10_000 });

  await page
    .locator('run-library input[data-import]')
    .setInputFiles({ name: 'shared.iwb', mimeType: 'application/octet-stream', buffer: bundle });
  await page.locator('run-library [data-viewed-run]').waitFor({ timeout: 30_000 });
  expect(await ranking('run-library')).toEqual(live);
  await expect.poll(() => rows().count()).toBe(1);
  expect(await rows().first().getAttribute('data-status')).toBe('imported');
  expect(await rows().first().locator('[data-run-status]').textContent()).toBe('imported (read-only bundle)');

  // The same bundle again: the stored copy opens, the page says so, and no second copy is stored.
  const beforeAgain = await storedCounts();
  await page
    .locator('run-library input[data-import]')
    .setInputFiles({ name: 'shared again.iwb', mimeType: 'application/octet-stream', buffer: bundle });
  await page.locator('run-library [data-already-stored]').waitFor({ timeout: 30_000 });
  expect(await page.locator('run-library [data-already-stored]').textContent()).toContain('“shared”');
  expect(await rows().count()).toBe(1);
  expect(await storedCounts()).toEqual(beforeAgain);

  // A flipped byte inside the tensor data: the checksum names the problem, and nothing is stored.
  const beforeCorrupt = await storedCounts();
  const corrupt = Buffer.from(bundle);
  corrupt[corrupt.length - 3] ^= 0x40;
  await page
    .locator('run-library input[data-import]')
    .setInputFiles({ name: 'corrupt.iwb', mimeType: 'application/octet-stream', buffer: corrupt });
  await page.locator('run-library [data-library-error]').waitFor({ timeout: 30_000 });
  expect(await page.locator('run-library [data-library-error]').textContent()).toMatch(
    /checksum mismatch in tensor '[^']+'/,
  );
  expect(await rows().count()).toBe(1);
  expect(await storedCounts()).toEqual(beforeCorrupt);
  expect(pageErrors()).toEqual([]);
});

test('a run interrupted by a reload is offered for resume and ends with the uninterrupted scores', async () => {
  // The reference: the same run, uninterrupted, in this test's own page.
  await open('?demo=micro');
  await runMicroDemoOnCpu();
  const uninterrupted = await ranking('workbench-app > influence-results');
  const stagesRun = async () =>
    (await page.locator('[data-run="done"] [data-stages-run]').getAttribute('data-stages-run'))!.split(' ');
  const allStages = await stagesRun();
  expect(allStages.slice(0, 3)).toEqual(['covariance', 'eigen', 'lambda']);
  const reference = await exportFirstRow();
  await rows().first().locator('button[data-action="delete"]').click();
  await page.locator('run-library [data-no-runs]').waitFor({ timeout: 10_000 });

  // ?hold=lambda: the run waits after its first Λ checkpoint is stored, so the interruption lands there on any
  // machine, fast or slow; the test waits for that checkpoint record itself, not for a stage shown in passing.
  await page.goto(`${served.url}?demo=micro&hold=lambda`);
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await expect.poll(() => storedCheckpointStage(page), { timeout: 240_000, interval: 250 }).toBe('lambda');
  await page.goto(`${served.url}?demo=micro`); // a reload, without the hold

  await page.locator('run-library [data-resume-offer]').waitFor({ timeout: 30_000 });
  expect(await rows().count()).toBe(1);
  expect(await rows().first().getAttribute('data-status')).toBe('running');
  expect(await rows().first().locator('[data-run-status]').textContent()).toBe('running (lambda)');
  await rows().first().locator('button[data-action="resume"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });
  // Every engine stage the resumed session ran, from the worker's progress events: it carries on in Λ and never
  // fits the covariances or decomposes them again.
  expect(await stagesRun()).toEqual(allStages.slice(allStages.indexOf('lambda')));
  expect(await ranking('workbench-app > influence-results')).toEqual(uninterrupted);
  await expect.poll(() => page.locator('run-library tr[data-status="complete"]').count()).toBe(1);
  expect(await page.locator('run-library [data-resume-offer]').count()).toBe(0);
  // A run computed here opens read-only from IndexedDB into its workspace, without the top lists repeated above it
  // (they are the workspace's Query view); its scores are the uninterrupted run's, bit for bit (below).
  await rows().first().locator('button[data-action="open"]').click();
  await page.locator('run-library section[data-viewed-run] results-workspace').waitFor({ timeout: 30_000 });
  expect(await page.locator('run-library influence-list').count()).toBe(0);
  // Bitwise on the CPU backend: the resumed run's float64 scores are the uninterrupted run's.
  const resumed = await exportFirstRow();
  for (const name of ['scores.tau', 'scores.influence', 'scores.self_tau']) {
    expect(tensorBytes(resumed, name).equals(tensorBytes(reference, name)), name).toBe(true);
  }
  expect(pageErrors()).toEqual([]);
});

test('a bundle dropped on the page opens read-only; its text renders as text, never as HTML', async () => {
  await open('?demo=micro');
  await page.locator('run-library [data-no-runs]').waitFor({ timeout: 30_000 });
  const injected = '<img src=x onerror="window.__iwbInjected = 1"><b>bold?</b>';
  const shared = Buffer.from(
    await encodeBundle({
      model: null,
      datasets: { train: null, query: null },
      strategy: 'ekfac',
      config: { measurement: 'mean-log-likelihood' },
      backend: 'CPU float64',
      layers: [],
      scores: {
        measurement: 'mean-log-likelihood',
        tau: { shape: [1, 2], data: Float64Array.of(3, -2) },
        influence: { shape: [1, 2], data: Float64Array.of(1.5, -0.25) },
        selfTau: { shape: [2], data: Float64Array.of(4, 9) },
      },
      rows: {
        train: [
          { id: 'evil', prompt: injected, response: '</pre><script>window.__iwbInjected = 2</script>', domain: 'math' },
          { id: 'plain', prompt: 'p', response: 'r', domain: 'code' },
        ],
        query: [{ id: 'q', prompt: 'what?', response: 'this', benchmark: 'gsm8k' }],
      },
    }),
  );
  const before = await rows().count();
  const transfer = await page.evaluateHandle((base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], 'dropped.iwb'));
    return data;
  }, shared.toString('base64'));
  await page.locator('run-library [data-drop]').dispatchEvent('drop', { dataTransfer: transfer });
  await page.locator('run-library section[data-viewed-run] h2', { hasText: 'dropped' }).waitFor({ timeout: 30_000 });
  expect(await ranking('run-library')).toEqual([
    ['evil', '+1.5000', 'helpful'],
    ['plain', '-0.2500', 'harmful'],
  ]);
  const texts = await page.locator('run-library influence-list [data-text]').allTextContents();
  expect(texts[0]).toBe(`${injected}\n→ </pre><script>window.__iwbInjected = 2</script>`);
  expect(
    await page
      .locator('run-library influence-list img, run-library influence-list b, run-library influence-list script')
      .count(),
  ).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __iwbInjected?: number }).__iwbInjected)).toBeUndefined();
  await expect.poll(() => rows().count()).toBe(before + 1);
  expect(pageErrors()).toEqual([]);
});
