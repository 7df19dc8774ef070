/**
 * Stored runs on the page, in headless Chromium: a micro-demo run (CPU backend) is kept in IndexedDB and listed;
 * it exports as an .iwb download; deleting it removes it; importing the downloaded file shows the same top-k
 * results read-only; a corrupted copy is refused with the decoder's message and stores nothing. Then a run
 * interrupted by a reload is offered for resume, resumes, and ends with the uninterrupted run's scores.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { encodeBundle } from '../../src/store/bundle';
import { openPage, servePage, type Served } from '../helpers/browser';

let served: Served;
let page: Page;
let errors: string[];
/** The first run's export: the reference scores for the resumed run. */
let firstBundle: Buffer;

beforeAll(async () => {
  served = await servePage();
  ({ page, errors } = await openPage(served, '?demo=micro'));
  page.on('dialog', (dialog) => void dialog.accept());
});
afterAll(async () => {
  await served?.close();
});

/** A tensor's raw bytes in a safetensors file (8-byte little-endian header length, JSON header, data). */
function tensorBytes(file: Buffer, name: string): Buffer {
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const entry = header[name];
  if (!entry) throw new Error(`bundle has no tensor '${name}'`);
  expect(entry.dtype).toBe('F64');
  return file.subarray(8 + headerLength + entry.data_offsets[0], 8 + headerLength + entry.data_offsets[1]);
}

async function exportFirstRow(): Promise<Buffer> {
  const [download] = await Promise.all([page.waitForEvent('download'), rows().first().locator('button[data-action="export"]').click()]);
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
    const counts = await Promise.all(names.map((name) => new Promise<number>((resolve) => {
      const request = tx.objectStore(name).count();
      request.onsuccess = () => resolve(request.result);
    })));
    db.close();
    return Object.fromEntries(names.map((name, i) => [name, counts[i]!]));
  });
}

function pageErrors(): string[] {
  return errors.filter((e) => !e.includes('[W:onnxruntime'));
}

const rows = () => page.locator('run-library tr[data-run-id]');

/** [train id, score text] of the helpful and harmful lists under `scope`. */
async function ranking(scope: string): Promise<string[][]> {
  await page.locator(`${scope} influence-list li`).first().waitFor({ timeout: 30_000 });
  return page.locator(`${scope} influence-list li`).evaluateAll((items) =>
    items.map((li) => [li.getAttribute('data-train-id') ?? '', li.querySelector('[data-score]')?.textContent ?? '']),
  );
}

async function runMicroDemoOnCpu(): Promise<void> {
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 120_000 });
}

test('a finished run is stored, exports as .iwb, deletes, and the bundle opens read-only with the same top-k', async () => {
  await page.locator('run-library [data-no-runs]').waitFor({ timeout: 30_000 });
  await runMicroDemoOnCpu();
  const live = await ranking('workbench-app > influence-results');

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

  const [download] = await Promise.all([page.waitForEvent('download'), rows().first().locator('button[data-action="export"]').click()]);
  expect(download.suggestedFilename()).toBe('my _b_micro_b_ run.iwb');
  const bundle = readFileSync((await download.path())!);
  firstBundle = bundle;
  expect(tensorBytes(bundle, 'scores.tau').byteLength).toBe(4 * 16 * 8);

  await rows().first().locator('button[data-action="delete"]').click();
  await page.locator('run-library [data-no-runs]').waitFor({ timeout: 10_000 });

  await page.locator('run-library input[data-import]').setInputFiles({ name: 'shared.iwb', mimeType: 'application/octet-stream', buffer: bundle });
  await page.locator('run-library [data-viewed-run]').waitFor({ timeout: 30_000 });
  expect(await ranking('run-library')).toEqual(live);
  await expect.poll(() => rows().count()).toBe(1);
  expect(await rows().first().getAttribute('data-status')).toBe('imported');

  // A flipped byte inside the tensor data: the checksum names the problem, and nothing is stored.
  const beforeCorrupt = await storedCounts();
  const corrupt = Buffer.from(bundle);
  corrupt[corrupt.length - 3] ^= 0x40;
  await page.locator('run-library input[data-import]').setInputFiles({ name: 'corrupt.iwb', mimeType: 'application/octet-stream', buffer: corrupt });
  await page.locator('run-library [data-library-error]').waitFor({ timeout: 30_000 });
  expect(await page.locator('run-library [data-library-error]').textContent()).toMatch(/checksum mismatch in tensor '[^']+'/);
  expect(await rows().count()).toBe(1);
  expect(await storedCounts()).toEqual(beforeCorrupt);
  expect(pageErrors()).toEqual([]);
});

test('a run interrupted by a reload is offered for resume and ends with the uninterrupted scores', async () => {
  const uninterrupted = await ranking('workbench-app > influence-results');
  await rows().first().locator('button[data-action="delete"]').click();
  await page.locator('run-library [data-no-runs]').waitFor({ timeout: 10_000 });
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('attribution-progress [data-progress-stage]', { hasText: 'lambda' }).waitFor({ timeout: 120_000 });
  await page.reload();

  await page.locator('run-library [data-resume-offer]').waitFor({ timeout: 30_000 });
  expect(await rows().count()).toBe(1);
  // Left 'running' with a checkpoint from the stage it was in (or the eigendecomposition just before it).
  expect(await rows().first().getAttribute('data-status')).toBe('running');
  expect(await rows().first().locator('[data-run-status]').textContent()).toMatch(/^running \((eigen|lambda)\)$/);
  // Every stage the progress shows from here on: a resume carries on, it does not fit the covariances again.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { iwbStages: string[] }).iwbStages = seen;
    setInterval(() => {
      const progress = document.querySelector('workbench-app')?.shadowRoot?.querySelector('attribution-progress');
      const stage = progress?.shadowRoot?.querySelector('[data-progress-stage]')?.textContent?.trim();
      if (stage && seen.at(-1) !== stage) seen.push(stage);
    }, 2);
  });
  await rows().first().locator('button[data-action="resume"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 120_000 });
  const stages = await page.evaluate(() => (window as unknown as { iwbStages: string[] }).iwbStages);
  // The first engine stage is the checkpoint's (or the one after it, when that stage had just finished).
  const engineStages = stages.filter((stage) => stage !== 'loading data' && stage !== 'preparing the model');
  expect(engineStages[0], stages.join(' → ')).toMatch(/^(eigen|lambda|query|scores)/);
  expect(stages).not.toContain('covariance');
  expect(await ranking('workbench-app > influence-results')).toEqual(uninterrupted);
  await expect.poll(() => page.locator('run-library tr[data-status="complete"]').count()).toBe(1);
  expect(await page.locator('run-library [data-resume-offer]').count()).toBe(0);
  // A stored run opens read-only from IndexedDB with the ranking the live view showed.
  await rows().first().locator('button[data-action="open"]').click();
  await page.locator('run-library section[data-viewed-run]').waitFor({ timeout: 30_000 });
  expect(await ranking('run-library')).toEqual(uninterrupted);
  // Bitwise on the CPU backend: the resumed run's float64 scores are the uninterrupted run's.
  const resumed = await exportFirstRow();
  for (const name of ['scores.tau', 'scores.influence', 'scores.self_tau']) expect(tensorBytes(resumed, name).equals(tensorBytes(firstBundle, name))).toBe(true);
  expect(pageErrors()).toEqual([]);
});

test("a bundle dropped on the page opens read-only; its text renders as text, never as HTML", async () => {
  const injected = '<img src=x onerror="window.__iwbInjected = 1"><b>bold?</b>';
  const shared = Buffer.from(await encodeBundle({
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
      train: [{ id: 'evil', prompt: injected, response: '</pre><script>window.__iwbInjected = 2</script>', domain: 'math' }, { id: 'plain', prompt: 'p', response: 'r', domain: 'code' }],
      query: [{ id: 'q', prompt: 'what?', response: 'this', benchmark: 'gsm8k' }],
    },
  }));
  const before = await rows().count();
  const transfer = await page.evaluateHandle((base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], 'dropped.iwb'));
    return data;
  }, shared.toString('base64'));
  await page.locator('run-library [data-drop]').dispatchEvent('drop', { dataTransfer: transfer });
  await page.locator('run-library section[data-viewed-run] h2', { hasText: 'dropped' }).waitFor({ timeout: 30_000 });
  expect(await ranking('run-library')).toEqual([['evil', '+1.5000'], ['plain', '-0.2500']]);
  const texts = await page.locator('run-library influence-list [data-text]').allTextContents();
  expect(texts[0]).toBe(`${injected}\n→ </pre><script>window.__iwbInjected = 2</script>`);
  expect(await page.locator('run-library influence-list img, run-library influence-list b, run-library influence-list script').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __iwbInjected?: number }).__iwbInjected)).toBeUndefined();
  await expect.poll(() => rows().count()).toBe(before + 1);
  expect(pageErrors()).toEqual([]);
});
