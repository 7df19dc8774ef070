/**
 * A model with external data in the page (headless Chromium, WebGPU on SwiftShader): the user drops model.onnx
 * alone (the page names the missing model.onnx.data), then picks it with its model.onnx.data; the run settings list
 * the linear layers with their dims and mark the MLP projections the run will track (and follow the tracked-layer
 * pattern). The run on the WebGPU engine (onnxruntime's WebGPU EP for the gradient graph) gives the CLI's CPU
 * float64 scores for the same inputs to float32 accuracy.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openPage, servePage, storedCheckpointStage, type Served } from '../helpers/browser';
import { tensorValues } from '../helpers/bundle-file';
import { attributeArgs, cli, MICRO_DATA } from '../helpers/cli';

const MODEL = 'tests/fixtures/models/gpt2-external/model.onnx';
const DATA = 'tests/fixtures/models/gpt2-external/model.onnx.data';
let served: Served;
let page: Page;
let errors: string[];
const work = mkdtempSync(path.join(tmpdir(), 'iwb-import-e2e-'));

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
  rmSync(work, { recursive: true, force: true });
});

const file = (name: string, from: string) => ({
  name,
  mimeType: 'application/octet-stream',
  buffer: readFileSync(from),
});

let cliRun: Promise<Float64Array> | undefined;

/**
 * The CLI's CPU float64 influence scores for the runs below (empirical Fisher, 4 training examples, 2 queries), run
 * once and shared by the two tests that compare with it (the same command gives the same scores).
 */
function cliScores(): Promise<Float64Array> {
  cliRun ??= (async () => {
    const out = path.join(work, 'cpu.iwb');
    const flags = ['--fisher', 'empirical', '--limit-train', '4', '--limit-queries', '2', '--quiet', '--out', out];
    const result = await cli(attributeArgs({ model: MODEL, ...MICRO_DATA }, ...flags));
    expect(result.code, result.stderr).toBe(0);
    return tensorValues(readFileSync(out), 'scores.influence');
  })();
  return cliRun;
}

async function trackedRows(): Promise<string[]> {
  return page
    .locator('model-layers-view tr[data-tracked="true"]')
    .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.layer ?? ''));
}

test('external data picked with the model: layers listed before the run, WebGPU run = CLI CPU scores', async () => {
  ({ page, errors } = await openPage(served, '?demo=micro'));
  page.on('dialog', (dialog) => void dialog.accept());
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  const model = page.locator('run-controls input#model');

  // Dropped alone on the files box, the graph cannot be read without its data file, which is named.
  const dropped = await page.evaluateHandle(
    (bytes) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], 'model.onnx'));
      return transfer;
    },
    [...readFileSync(MODEL)],
  );
  await page.locator('run-controls [data-model-drop]').dispatchEvent('drop', { dataTransfer: dropped });
  await expect
    .poll(() => page.locator('model-layers-view [data-layers-problem]').textContent(), { timeout: 30_000 })
    .toMatch(/data is stored in the external file 'model\.onnx\.data', which was not given/);

  await model.setInputFiles([file('model.onnx', MODEL), file('model.onnx.data', DATA)]);
  const summary = page.locator('model-layers-view [data-layers-summary]');
  await expect.poll(() => summary.textContent(), { timeout: 30_000 }).toMatch(/4 of 9 linear layers tracked/);
  expect(await trackedRows()).toEqual([
    '/h.0/mlp/c_fc/Gemm',
    '/h.0/mlp/c_proj/Gemm',
    '/h.1/mlp/c_fc/Gemm',
    '/h.1/mlp/c_proj/Gemm',
  ]);
  const upRow = page.locator('model-layers-view tr[data-layer="/h.0/mlp/c_fc/Gemm"]');
  expect(await upRow.textContent()).toMatch(/16 → 64 \+ bias\s*MLP 0 up/);
  await page.locator('run-controls input#track').fill('/h\\.1/mlp');
  await expect.poll(trackedRows, { timeout: 10_000 }).toEqual(['/h.1/mlp/c_fc/Gemm', '/h.1/mlp/c_proj/Gemm']);
  await page.locator('run-controls input#track').fill('');
  await expect.poll(trackedRows, { timeout: 10_000 }).toHaveLength(4);

  await page.locator('run-controls input#tokenizer').setInputFiles(file('tokenizer.json', MICRO_DATA.tokenizer));
  await page.locator('run-controls input#train').setInputFiles(file('train.jsonl', MICRO_DATA.train));
  await page.locator('run-controls input#queries').setInputFiles(file('queries.jsonl', MICRO_DATA.queries));
  await page.locator('run-controls input#limit-train').fill('4');
  await page.locator('run-controls input#limit-queries').fill('2');
  await page.locator('run-controls select#fisher').selectOption('empirical');
  await page.locator('run-controls select#backend').selectOption('webgpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 290_000 });
  expect(await page.locator('[data-run="done"] [data-backend]').getAttribute('data-backend')).toBe('webgpu');
  const row = page.locator('run-library tr[data-run-id]').first();
  await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('complete');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.locator('button[data-action="export"]').click(),
  ]);
  const gpu = tensorValues(readFileSync((await download.path())!), 'scores.influence');

  const cpu = await cliScores();
  expect(gpu.length).toBe(cpu.length);
  const scale = Math.max(...cpu.map(Math.abs));
  expect(scale).toBeGreaterThan(0);
  // Measured 1.1e-5 (SwiftShader, float32 GPU path vs float64 CPU).
  expect(Math.max(...gpu.map((v, i) => Math.abs(v - cpu[i]!))) / scale).toBeLessThanOrEqual(1e-4);
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
}, 600_000);

test('an Optimum export (position_ids, empty past_key_values) runs on the WebGPU engine', async () => {
  ({ page, errors } = await openPage(served, '?demo=micro'));
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  const model = 'tests/fixtures/models/gpt2-optimum.onnx';
  await page.locator('run-controls input#model').setInputFiles(file('gpt2-optimum.onnx', model));
  await expect
    .poll(() => page.locator('model-layers-view [data-layers-summary]').textContent(), { timeout: 30_000 })
    .toMatch(/Inputs fed: input_ids, attention_mask, position_ids, past_key_values\.0\.key/);
  await page.locator('run-controls input#tokenizer').setInputFiles(file('tokenizer.json', MICRO_DATA.tokenizer));
  await page.locator('run-controls input#train').setInputFiles(file('train.jsonl', MICRO_DATA.train));
  await page.locator('run-controls input#queries').setInputFiles(file('queries.jsonl', MICRO_DATA.queries));
  await page.locator('run-controls input#limit-train').fill('3');
  await page.locator('run-controls input#limit-queries').fill('1');
  await page.locator('run-controls select#backend').selectOption('webgpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 290_000 });
  expect(await page.locator('[data-run="done"]').textContent()).toMatch(/1 queries? × 3 training examples/);
  expect(await page.locator('[data-run="done"] [data-backend]').getAttribute('data-backend')).toBe('webgpu');
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
}, 600_000);

test('a run on a model with external data, interrupted by a reload, resumes with its data file from the store', async () => {
  ({ page, errors } = await openPage(served, '?demo=micro&hold=lambda'));
  page.on('dialog', (dialog) => void dialog.accept());
  await page.locator('run-controls input[data-source="files"]').check();
  await page
    .locator('run-controls input#model')
    .setInputFiles([file('model.onnx', MODEL), file('model.onnx.data', DATA)]);
  await page.locator('run-controls input#tokenizer').setInputFiles(file('tokenizer.json', MICRO_DATA.tokenizer));
  await page.locator('run-controls input#train').setInputFiles(file('train.jsonl', MICRO_DATA.train));
  await page.locator('run-controls input#queries').setInputFiles(file('queries.jsonl', MICRO_DATA.queries));
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls input#limit-train').fill('4');
  await page.locator('run-controls input#limit-queries').fill('2');
  await page.locator('run-controls select#fisher').selectOption('empirical');
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  // Held after its first Λ checkpoint: the reload lands mid-run on any machine.
  await expect.poll(() => storedCheckpointStage(page), { timeout: 240_000, interval: 250 }).toBe('lambda');
  await page.goto(`${served.url}?demo=micro`);
  const row = page.locator('run-library tr[data-run-id]').first();
  await page.locator('run-library [data-resume-offer]').waitFor({ timeout: 30_000 });
  await row.locator('button[data-action="resume"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });
  await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('complete');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.locator('button[data-action="export"]').click(),
  ]);
  const resumed = tensorValues(readFileSync((await download.path())!), 'scores.influence');

  const cpu = await cliScores();
  const scale = Math.max(...cpu.map(Math.abs));
  // The page's CPU engine and the CLI's are the same float64 code; batching may sum in another order.
  expect(Math.max(...resumed.map((v, i) => Math.abs(v - cpu[i]!))) / scale).toBeLessThanOrEqual(1e-9);
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
}, 600_000);
