/**
 * A picked model goes to the engine worker once (headless Chromium, CPU backend): the page hands the worker the
 * picked files as File handles in one `models.pick` call — no model bytes are posted, and the page thread does not
 * parse the model — and the worker keeps the parsed model for the Options → Layers list, every estimate and the run,
 * which name it by a token. Every message the page posts to a worker is recorded (an init script wraps
 * Worker.prototype.postMessage) with the comlink call it makes, the Files and the ArrayBuffer bytes it carries.
 * The run's exported bundle fingerprints the model's data file (model.onnx.data) beside the graph.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeBundle } from '../../src/store/bundle';
import { openPage, servePage, type Served } from '../helpers/browser';
import { MICRO_DATA } from '../helpers/cli';

const MODEL = 'tests/fixtures/models/gpt2-external/model.onnx';
const DATA = 'tests/fixtures/models/gpt2-external/model.onnx.data';
let served: Served;

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

const file = (name: string, from: string) => ({
  name,
  mimeType: 'application/octet-stream',
  buffer: readFileSync(from),
});

interface Sent {
  readonly call: string;
  readonly files: number;
  readonly bufferBytes: number;
}

/** Runs in the page before its scripts: records what each postMessage to a worker carries. */
function recordWorkerMessages(): void {
  const sent: Sent[] = [];
  (window as unknown as { __sent: Sent[] }).__sent = sent;
  const original = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: unknown[]) {
    let files = 0;
    let bufferBytes = 0;
    const seen = new Set<unknown>();
    const walk = (value: unknown): void => {
      if (value === null || typeof value !== 'object' || seen.has(value)) return;
      seen.add(value);
      if (value instanceof File) files++;
      else if (value instanceof ArrayBuffer) bufferBytes += value.byteLength;
      else if (ArrayBuffer.isView(value)) bufferBytes += value.byteLength;
      else for (const child of Object.values(value)) walk(child);
    };
    walk(message);
    const path = (message as { path?: string[] } | null)?.path;
    sent.push({ call: Array.isArray(path) ? path.join('.') : '', files, bufferBytes });
    return (original as (...args: unknown[]) => void).call(this, message, ...rest);
  };
}

const sent = (page: Page) => page.evaluate(() => (window as unknown as { __sent: Sent[] }).__sent.slice());

test('the model crosses to the worker once, as File handles; layers, estimates and the run reuse it', async () => {
  const { page, errors } = await openPage(served, '?demo=micro', { init: recordWorkerMessages });
  page.on('dialog', (dialog) => void dialog.accept());
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls details summary').click();
  await page
    .locator('run-controls input#model')
    .setInputFiles([file('model.onnx', MODEL), file('model.onnx.data', DATA)]);
  const summary = page.locator('model-layers-view [data-layers-summary]');
  await expect.poll(() => summary.textContent(), { timeout: 60_000 }).toMatch(/4 of 9 linear layers tracked/);

  await page.locator('run-controls input#tokenizer').setInputFiles(file('tokenizer.json', MICRO_DATA.tokenizer));
  await page.locator('run-controls input#train').setInputFiles(file('train.jsonl', MICRO_DATA.train));
  await page.locator('run-controls input#queries').setInputFiles(file('queries.jsonl', MICRO_DATA.queries));
  await page.locator('run-controls input#limit-train').fill('4');
  await page.locator('run-controls input#limit-queries').fill('2');
  const estimate = page.locator('run-estimate [data-estimate]');
  const stages = () => estimate.locator('tr[data-stage]').evaluateAll((rows) => rows.map((r) => r.dataset.stage));
  await expect
    .poll(() => estimate.textContent(), { timeout: 120_000, interval: 250 })
    .toMatch(/4 training examples × 2 queries on CPU float64/);
  // The estimate starts with preparing the model (reading the data, the gradient graph, the session).
  expect(await stages()).toEqual(['prepare', 'covariance', 'eigen', 'lambda', 'query', 'scores', 'pair-tokens']);
  // A second estimate, for another strategy: the worker still has the model.
  await page.locator('run-controls select#strategy').selectOption('identity');
  await expect.poll(stages, { timeout: 60_000, interval: 250 }).toEqual(['prepare', 'query', 'scores', 'pair-tokens']);
  // The tracked-layer pattern asks the worker again, by token.
  await page.locator('run-controls input#track').fill('/h\\.1/mlp');
  await expect.poll(() => summary.textContent(), { timeout: 30_000 }).toMatch(/2 of 9 linear layers tracked/);

  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 290_000 });

  const messages = await sent(page);
  const calls = (name: string) => messages.filter((m) => m.call === name);
  expect(calls('models.pick')).toEqual([{ call: 'models.pick', files: 2, bufferBytes: 0 }]);
  expect(calls('attribution.estimate').length).toBeGreaterThanOrEqual(2);
  expect(calls('models.layers').length).toBeGreaterThanOrEqual(2);
  expect(calls('attribution.start')).toHaveLength(1);
  // No other message carries a File, and none carries the model's bytes (the data texts go as strings).
  expect(messages.filter((m) => m.files > 0)).toHaveLength(1);
  const modelBytes = readFileSync(MODEL).length;
  expect(messages.filter((m) => m.bufferBytes >= modelBytes)).toEqual([]);

  const row = page.locator('run-library tr[data-run-id]').first();
  await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('complete');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.locator('button[data-action="export"]').click(),
  ]);
  const manifest = (await decodeBundle(new Uint8Array(readFileSync((await download.path())!)))).manifest;
  const data = readFileSync(DATA);
  expect(manifest.modelData).toEqual([
    { name: 'model.onnx.data', sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length },
  ]);
  expect(errors.filter((e) => !e.includes('[W:onnxruntime'))).toEqual([]);
  await page.close();
}, 600_000);
