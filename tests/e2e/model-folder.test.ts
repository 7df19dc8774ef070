/**
 * A model folder as downloaded, picked in the page (headless Chromium, CPU backend): the committed tiny folder
 * tests/fixtures/models/folder-llama (config.json, tokenizer.json, tokenizer_config.json with a `chat_template`,
 * onnx/model.onnx + a 4-bit and an 8-bit variant) through the directory picker, with chat data (JSONL rows of
 * `messages`) and no tokenizer picked: the page says which variant it chose, renders the rows with the folder's chat
 * template, lists the layers with their roles and runs to results. The exported bundle's scores equal
 * `iwb attribute --model-dir` on the same folder and data with the same settings (both the float64 CPU backend over
 * the same onnxruntime-web wasm forward).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openPage, servePage, type Served } from '../helpers/browser';
import { bundleRowIds, tensorValues } from '../helpers/bundle-file';
import { cli } from '../helpers/cli';

const FOLDER = 'tests/fixtures/models/folder-llama';
const TRAIN = 'tests/fixtures/data/chat-train.jsonl';
const QUERIES = 'tests/fixtures/data/chat-queries.jsonl';
const work = mkdtempSync(path.join(tmpdir(), 'iwb-folder-e2e-'));
let served: Served;

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
  rmSync(work, { recursive: true, force: true });
});

const file = (name: string, from: string) => ({ name, mimeType: 'application/json', buffer: readFileSync(from) });

test('a picked model folder with a chat template runs chat data to results, as iwb --model-dir does', async () => {
  const { page, errors } = await openPage(served, '?demo=micro');
  page.on('dialog', (dialog) => void dialog.accept());
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls select#fisher').selectOption('empirical');
  await page.locator('run-controls input#model-dir').setInputFiles(FOLDER);
  const note = page.locator('run-controls [data-folder-note]');
  await expect.poll(() => note.textContent(), { timeout: 60_000 }).toMatch(/chose onnx\/model\.onnx \(float32\)/);
  expect(await note.textContent()).toMatch(/also there: model_quantized, model_q4/);
  const summary = page.locator('model-layers-view [data-layers-summary]');
  await expect.poll(() => summary.textContent(), { timeout: 60_000 }).toMatch(/6 of 15 linear layers tracked/);
  expect(await summary.textContent()).toMatch(/Exported by: torch\.onnx \(TorchScript: module-path names\)/);
  expect(await note.textContent()).toBe(
    'folder-llama: chose onnx/model.onnx (float32); also there: model_quantized, model_q4 (choose another in the list)',
  );
  const q = page.locator('model-layers-view tr[data-layer="/layers.0/self_attn/q_proj/MatMul"]');
  expect(await q.textContent()).toMatch(/16 → 16\s*attention q/);

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
    ...['attribute', '--model-dir', FOLDER, '--train', TRAIN, '--queries', QUERIES],
    ...['--backend', 'cpu', '--strategy', 'ekfac', '--fisher', 'empirical', '--quiet', '--out', out],
  ]);
  expect([result.code, result.stderr]).toEqual([0, '']);
  const fromCli = readFileSync(out);
  expect(bundleRowIds(fromPage)).toEqual(bundleRowIds(fromCli));
  expect(bundleRowIds(fromPage).train).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
  const [got, want] = [tensorValues(fromPage, 'scores.influence'), tensorValues(fromCli, 'scores.influence')];
  expect(got.length).toBe(want.length);
  const scale = Math.max(...want.map(Math.abs));
  expect(scale).toBeGreaterThan(0);
  const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
  expect(worst / scale).toBeLessThanOrEqual(1e-9);
}, 600_000);
