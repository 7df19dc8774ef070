/**
 * A model folder picked in the page (headless Chromium, CPU backend): the directory input hands the worker every
 * file with its path; the worker chooses the float32 variant (said under the picker), lists its layers with their
 * roles, and estimates a run on chat data rendered with the folder's tokenizer and chat template — no tokenizer is
 * picked.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openPage, servePage, type Served } from '../helpers/browser';

let served: Served;
beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

test('a picked model folder: variant said, roles listed, chat data estimated with its tokenizer', async () => {
  const { page, errors } = await openPage(served, '?demo=micro');
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls input#model-dir').setInputFiles('tests/fixtures/models/folder-llama');
  const summary = page.locator('model-layers-view [data-layers-summary]');
  await expect.poll(() => summary.textContent(), { timeout: 60_000 }).toMatch(/6 of 15 linear layers tracked/);
  expect(await summary.textContent()).toMatch(/Exported by: torch\.onnx \(TorchScript: module-path names\)/);
  expect(await page.locator('run-controls [data-folder-note]').textContent()).toBe(
    'folder-llama: chose onnx/model.onnx (float32); also there: model_quantized, model_q4 (choose with --variant NAME)',
  );
  const q = page.locator('model-layers-view tr[data-layer="/layers.0/self_attn/q_proj/MatMul"]');
  expect(await q.textContent()).toMatch(/16 → 16\s*attention q/);

  await page.locator('run-controls input#train').setInputFiles('tests/fixtures/data/chat-train.jsonl');
  await page.locator('run-controls input#queries').setInputFiles('tests/fixtures/data/chat-queries.jsonl');
  const estimate = page.locator('run-estimate [data-estimate]');
  await expect
    .poll(() => estimate.textContent(), { timeout: 120_000, interval: 250 })
    .toMatch(/5 training examples × 2 queries on CPU float64/);
  expect(errors).toEqual([]);
}, 300_000);
