/**
 * The page's evaluation retraining on onnxruntime-web's WebGPU EP (SwiftShader here), on the built page in headless
 * Chromium: the EP is chosen in the panel, recorded with the run and shown in the Evaluation view; every subset
 * measurement agrees with the same evaluation retrained on the wasm EP within a float32 tolerance; and an evaluation
 * held after its third saved retrain, cancelled, reloaded and resumed on the WebGPU EP reuses those three retrains
 * exactly as saved (the WebGPU EP is not bit-for-bit repeatable, so a resume must never retrain what is stored) and
 * agrees with an uninterrupted one within the same tolerance.
 */
import { mkdirSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openInContext, servePage, type Served } from '../helpers/browser';

const SHOTS = 'test-results/evaluation-webgpu';
let served: Served;
let context: BrowserContext;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  served = await servePage();
  context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 1000 } });
});
afterAll(async () => {
  await served?.close();
});

/**
 * |WebGPU − wasm| of a measurement (a mean log-likelihood, ≈ −6 nats at 3 steps). Both EPs compute in float32 and
 * differ only in summation order (WebGPU's tiled matmuls and reductions vs wasm's): each gradient entry carries a
 * relative error of a few float32 ulps (2⁻²⁴ ≈ 6e-8) times √(terms summed) — ≈ 1e-6 for the ≤ 256-wide sums of this
 * model. AdamW divides by √v, so a step moves a parameter by ≈ lr·(1 ± that error) (lr ≤ 1e-2): after 3 steps the
 * parameters differ by ~1e-8 absolute and a measurement by a few float32 ulps of 6 nats (≈ 5e-7 each). Measured:
 * 3e-8 here, 1.1e-7 after 30 steps (scripts/bench-retrain-ep.ts). 1e-4 nats leaves three orders of magnitude of
 * headroom and is still two below the measurements' spread across subsets (≈ 1e-2 to 5e-2), so a retrain on a
 * wrong subset, seed or EP setting cannot pass.
 */
const TOLERANCE = 1e-4;

async function open(path: string): Promise<{ page: Page; errors: string[] }> {
  return openInContext(context, served, path);
}

/** A tiny evaluation: 8 examples, 2 queries, 4 subsets, no LOO, 3 steps, identity and EK-FAC, on the given EP. */
async function fillForm(page: Page, ep: 'webgpu' | 'wasm'): Promise<void> {
  const form = page.locator('evaluation-panel form[data-eval-form]');
  for (const [name, value] of [
    ['train', '8'],
    ['queries', '2'],
    ['subsets', '4'],
    ['loo', '0'],
    ['steps', '3'],
  ])
    await form.locator(`input[name="${name}"]`).fill(value!);
  await form.locator('input[name="strategy-diagonal"]').uncheck();
  await form.locator('input[name="strategy-kfac"]').uncheck();
  await form.locator('select[data-eval-ep]').selectOption(ep);
}

interface Shown {
  readonly retrainedOn: string;
  /** Per query id: each subset's [predicted by EK-FAC, measured]. */
  readonly points: Record<string, number[][]>;
}

/** The finished evaluation as its view shows it: the EP line and every query's subset points. */
async function shown(page: Page): Promise<Shown> {
  const view = page.locator('evaluation-panel evaluation-view');
  await page.locator('evaluation-panel evaluation-view[data-ready]').waitFor({ timeout: 400_000 });
  const queries = await view
    .locator('select[data-eval-query] option')
    .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  const points: Record<string, number[][]> = {};
  for (const query of queries) {
    await view.locator('select[data-eval-query]').selectOption(query);
    await page.locator(`evaluation-panel evaluation-view[data-ready="ekfac|${query}"]`).waitFor();
    points[query] = await view
      .locator('tr[data-subset]')
      .evaluateAll((rows) =>
        rows.map((row) => [Number(row.getAttribute('data-predicted')), Number(row.getAttribute('data-measured'))]),
      );
  }
  return { retrainedOn: (await view.locator('[data-retrain-ep]').textContent()) ?? '', points };
}

async function evaluateOn(ep: 'webgpu' | 'wasm'): Promise<Shown> {
  const { page, errors } = await open('?demo=micro');
  await fillForm(page, ep);
  await page.locator('evaluation-panel button[data-eval-start]').click();
  const result = await shown(page);
  await page.locator('evaluation-panel').screenshot({ path: `${SHOTS}/panel-${ep}.png` });
  expect(Number(await page.locator('evaluation-panel [data-eval-done]').getAttribute('data-eval-resumed'))).toBe(0);
  expect(errors).toEqual([]);
  await page.close();
  return result;
}

/** The largest |a − b| over every query's subset measurements (index 1) or predictions (index 0). */
function largestDifference(a: Shown, b: Shown, index: 0 | 1): number {
  expect(Object.keys(a.points)).toEqual(Object.keys(b.points));
  let largest = 0;
  for (const [query, rows] of Object.entries(a.points)) {
    expect(rows).toHaveLength(4);
    rows.forEach((row, m) => (largest = Math.max(largest, Math.abs(row[index]! - b.points[query]![m]![index]!))));
  }
  return largest;
}

let webgpuRun: Shown;

test('a page evaluation retrains on the WebGPU EP, says so, and measures what the wasm EP does to float32 tolerance', async () => {
  webgpuRun = await evaluateOn('webgpu');
  const wasmRun = await evaluateOn('wasm');
  expect(webgpuRun.retrainedOn).toContain('WebGPU EP');
  expect(wasmRun.retrainedOn).toContain('wasm EP');
  const measured = largestDifference(webgpuRun, wasmRun, 1);
  // Not the same numbers (other summation orders), but the same within float32 rounding of the training.
  console.log(`WebGPU EP vs wasm EP: largest |Δ measurement| ${measured.toExponential(2)} nats`);
  expect(measured).toBeLessThan(TOLERANCE);
  // The model attributed was trained on each EP too: its influence predictions agree as closely (relative).
  const scale = Math.max(...Object.values(wasmRun.points).flatMap((rows) => rows.map((r) => Math.abs(r[0]!))));
  expect(largestDifference(webgpuRun, wasmRun, 0) / scale).toBeLessThan(1e-3);
}, 900_000);

/**
 * The saved retrains of the page's one evaluation checkpoint (key → query measurements), read from IndexedDB as
 * src/store/checkpoints.ts lays it out: the record's skeleton has `{ __iwbArray: n }` where each Float64Array was, and
 * array n's bytes are the chunks of part `checkpoint/n`, in index order.
 */
function savedRetrains(page: Page): Promise<Record<string, number[]> | null> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase | null>((resolve) => {
      const request = indexedDB.open('influence-workbench');
      // Never create the database here (the worker's open would then find a version without its stores).
      request.onupgradeneeded = () => request.transaction!.abort();
      request.onerror = () => resolve(null);
      request.onsuccess = () => resolve(request.result);
    });
    if (!db) return null;
    try {
      if (!db.objectStoreNames.contains('checkpoints')) return null;
      const all = <T>(store: string) =>
        new Promise<T[]>((resolve, reject) => {
          const request = db.transaction(store).objectStore(store).getAll();
          request.onsuccess = () => resolve(request.result as T[]);
          request.onerror = () => reject(request.error);
        });
      type Saved = { runId: string; stage: string; skeleton: { retrains: { [key: string]: { __iwbArray: number } } } };
      const record = (await all<Saved>('checkpoints')).find((c) => c.stage === 'evaluation');
      if (!record) return null;
      const chunks = await all<{ owner: string; part: string; index: number; data: ArrayBuffer }>('chunks');
      const array = (n: number) => {
        const parts = chunks.filter((c) => c.owner === record.runId && c.part === `checkpoint/${n}`);
        parts.sort((a, b) => a.index - b.index);
        const bytes = new Uint8Array(parts.reduce((sum, c) => sum + c.data.byteLength, 0));
        let offset = 0;
        for (const part of parts) {
          bytes.set(new Uint8Array(part.data), offset);
          offset += part.data.byteLength;
        }
        return Array.from(new Float64Array(bytes.buffer));
      };
      const entries = Object.entries(record.skeleton.retrains).map(([k, v]) => [k, array(v.__iwbArray)] as const);
      return Object.fromEntries(entries);
    } finally {
      db.close();
    }
  });
}

test('held, cancelled, reloaded and resumed on the WebGPU EP: the saved retrains are reused exactly as saved', async () => {
  expect(webgpuRun, 'the uninterrupted WebGPU evaluation of the test above').toBeDefined();
  const held = await open('?demo=micro&evalHold=3');
  await fillForm(held.page, 'webgpu');
  await held.page.locator('evaluation-panel button[data-eval-start]').click();
  // The hold waits once three retrains are stored: wait for them in IndexedDB, whatever the speed.
  const three = async () => Object.keys((await savedRetrains(held.page)) ?? {}).length;
  await expect.poll(three, { timeout: 400_000, interval: 250 }).toBe(3);
  const saved = (await savedRetrains(held.page))!;
  await held.page.locator('evaluation-panel button[data-eval-cancel]').click();
  expect(await held.page.locator('evaluation-panel [data-eval-stopped]').textContent()).toContain('cancelled');
  await held.page.reload();
  const resume = held.page.locator('evaluation-panel [data-eval-pending] button[data-eval-resume]');
  await resume.waitFor({ timeout: 60_000 });
  const pending = await held.page.locator('evaluation-panel [data-eval-pending]').textContent();
  expect(pending).toContain('WebGPU EP');
  expect(pending).toContain('3 retrains saved');
  await resume.click();
  const resumed = await shown(held.page);
  const done = held.page.locator('evaluation-panel [data-eval-done]');
  expect(Number(await done.getAttribute('data-eval-resumed'))).toBe(3);
  expect(resumed.retrainedOn).toContain('WebGPU EP');
  // Every saved subset retrain is in the result bit for bit: nothing stored was retrained.
  const queries = Object.keys(resumed.points);
  const subsets = Object.entries(saved).filter(([key]) => key.startsWith('subset/'));
  expect(subsets.length).toBeGreaterThan(0);
  for (const [key, values] of subsets) {
    const m = Number(key.split('/')[1]);
    queries.forEach((query, q) => expect(resumed.points[query]![m]![1]).toBe(values[q]));
  }
  const measured = largestDifference(resumed, webgpuRun, 1);
  console.log(`WebGPU EP, resumed vs uninterrupted: largest |Δ measurement| ${measured.toExponential(2)} nats`);
  expect(measured).toBeLessThan(TOLERANCE);
  expect(held.errors).toEqual([]);
}, 900_000);
