/**
 * A picked model folder with several variants (tests/fixtures/models/folder-llama: onnx/model.onnx float32,
 * model_quantized 8-bit, model_q4 4-bit) in the page (headless Chromium, CPU backend): the page lists the variants with
 * the CLI's choice selected (float32 before float16 before quantized) and says which is used; choosing another reads
 * that file, the note and the Layers panel say so, and the run uses it — its bundle's scores equal
 * `iwb attribute --model-dir … --variant model_q4` on the same data and settings.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openPage, servePage, type Served } from '../helpers/browser';
import { tensorValues } from '../helpers/bundle-file';
import { cli } from '../helpers/cli';

const FOLDER = 'tests/fixtures/models/folder-llama';
const TRAIN = 'tests/fixtures/data/chat-train.jsonl';
const QUERIES = 'tests/fixtures/data/chat-queries.jsonl';
const work = mkdtempSync(path.join(tmpdir(), 'iwb-variant-e2e-'));
let served: Served;

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
  rmSync(work, { recursive: true, force: true });
});

const file = (name: string, from: string) => ({ name, mimeType: 'application/json', buffer: readFileSync(from) });

test('the page offers the folder variants, float32 first, and runs the one chosen as --variant does', async () => {
  const { page, errors } = await openPage(served, '?demo=micro');
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls select#fisher').selectOption('empirical');
  await page.locator('run-controls input#model-dir').setInputFiles(FOLDER);
  const note = page.locator('run-controls [data-folder-note]');
  const variant = page.locator('run-controls select#model-variant');
  await expect.poll(() => note.textContent(), { timeout: 60_000 }).toMatch(/chose onnx\/model\.onnx \(float32\)/);
  expect(await variant.locator('option').allTextContents()).toEqual([
    'model — float32',
    'model_quantized — 8-bit (dequantized on load)',
    'model_q4 — 4-bit blocks (dequantized on load)',
  ]);
  expect(await variant.inputValue()).toBe('model');

  await variant.selectOption('model_q4');
  await expect
    .poll(() => note.textContent(), { timeout: 60_000 })
    .toBe(
      'folder-llama: using onnx/model_q4.onnx (4-bit blocks (dequantized on load)); also there: model, ' +
        'model_quantized (choose another in the list)',
    );
  await expect.poll(() => variant.inputValue(), { timeout: 30_000 }).toBe('model_q4');
  const summary = page.locator('model-layers-view [data-layers-summary]');
  await expect.poll(() => summary.textContent(), { timeout: 60_000 }).toMatch(/linear layers tracked/);
  // IWB_SCREENSHOT=1 keeps the view with the list for docs (docs/screenshots/model-folder-variant.png).
  if (process.env.IWB_SCREENSHOT) {
    await page.locator('run-controls select#model-variant').scrollIntoViewIfNeeded();
    await page.screenshot({ path: 'docs/screenshots/model-folder-variant.png' });
  }

  await page.locator('run-controls input#train').setInputFiles(file('chat-train.jsonl', TRAIN));
  await page.locator('run-controls input#queries').setInputFiles(file('chat-queries.jsonl', QUERIES));
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 290_000 });
  const row = page.locator('run-library tr[data-run-id]').first();
  await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('complete');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.locator('button[data-action="export"]').click(),
  ]);
  const fromPage = readFileSync((await download.path())!);
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
  await page.close();

  const out = path.join(work, 'cli.iwb');
  const result = await cli([
    ...['attribute', '--model-dir', FOLDER, '--variant', 'model_q4', '--train', TRAIN, '--queries', QUERIES],
    ...['--backend', 'cpu', '--strategy', 'ekfac', '--fisher', 'empirical', '--quiet', '--out', out],
  ]);
  expect([result.code, result.stderr]).toEqual([0, '']);
  const [got, want] = [tensorValues(fromPage, 'scores.influence'), tensorValues(readFileSync(out), 'scores.influence')];
  expect(got.length).toBe(want.length);
  const scale = Math.max(...want.map(Math.abs));
  expect(scale).toBeGreaterThan(0);
  const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
  expect(worst / scale).toBeLessThanOrEqual(1e-9);
  // The float32 variant gives other scores: the run did not fall back to it.
  const float32 = path.join(work, 'float32.iwb');
  const base = await cli([
    ...['attribute', '--model-dir', FOLDER, '--train', TRAIN, '--queries', QUERIES],
    ...['--backend', 'cpu', '--strategy', 'ekfac', '--fisher', 'empirical', '--quiet', '--out', float32],
  ]);
  expect(base.code).toBe(0);
  const other = tensorValues(readFileSync(float32), 'scores.influence');
  expect(Math.max(...other.map((v, i) => Math.abs(v - got[i]!))) / scale).toBeGreaterThan(1e-6);
}, 600_000);
