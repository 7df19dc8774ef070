/**
 * The first page path end to end in headless Chromium: index.html → Lit app → engine worker → EK-FAC on the micro
 * demo (and on user-picked files) → progress → top helpful/harmful training examples; cancel; bad input.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { serializeModel } from '../../src/onnx/protobuf';
import { seededDemoModel } from '../../src/app/demo-model';
import { openPage, servePage, type Served } from '../helpers/browser';

let served: Served;
let page: Page;
let errors: string[];

beforeAll(async () => {
  served = await servePage();
  ({ page, errors } = await openPage(served, '?demo=micro'));
});
afterAll(async () => {
  await served?.close();
});

/** onnxruntime prints its own warnings (node placement) through console.error; they are not page errors. */
function pageErrors(): string[] {
  return errors.filter((e) => !e.includes('[W:onnxruntime'));
}

async function scores(kind: 'helpful' | 'harmful'): Promise<number[]> {
  const texts = await page.locator(`influence-list[kind="${kind}"] [data-score]`).allTextContents();
  return texts.map(Number);
}

test('cancel stops a run mid-stage, and the worker takes the next run', async () => {
  // The worker yields before every batch and checks the signal there, so a cancel lands within one batch.
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('attribution-progress [data-progress-stage]', { hasText: 'covariance' }).waitFor({ timeout: 120_000 });
  expect(await page.locator('attribution-progress [data-progress-backend]').getAttribute('data-progress-backend')).toBe('cpu');
  await page.locator('run-controls button[data-action="cancel"]').click();
  await page.locator('[data-run="cancelled"]').waitFor({ timeout: 60_000 });
  expect(await page.locator('[data-run="done"]').count()).toBe(0);
  expect(await page.locator('run-controls button[data-action="start"]').count()).toBe(1);
});

test('the micro demo runs on the automatic backend: progress, then the top helpful and harmful examples', async () => {
  await page.locator('run-controls select#backend').selectOption('auto');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('attribution-progress [data-progress-stage]', { hasText: /covariance|eigen|lambda|query|scores|self/ }).waitFor({ timeout: 120_000 });
  expect(await page.locator('attribution-progress progress').getAttribute('max')).toBe('1');
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });

  // SwiftShader is a software adapter, so "automatic" picks the CPU backend and says why.
  const done = (await page.locator('[data-run="done"]').textContent()) ?? '';
  expect(await page.locator('[data-run="done"] [data-backend]').getAttribute('data-backend')).toBe('cpu');
  expect(done).toMatch(/software\/fallback WebGPU adapter/);
  expect(done).toMatch(/4 queries × 16 training examples/);

  // The default view is the first benchmark; every training example is either helpful or harmful.
  await page.locator('influence-list[kind="helpful"] li').first().waitFor({ timeout: 30_000 });
  const helpful = await scores('helpful');
  const harmful = await scores('harmful');
  expect(helpful.length + harmful.length).toBeGreaterThan(0);
  expect(helpful.every((s) => s > 0)).toBe(true);
  expect(harmful.every((s) => s < 0)).toBe(true);
  expect(helpful).toEqual([...helpful].sort((a, b) => b - a));
  expect(harmful).toEqual([...harmful].sort((a, b) => a - b));

  // A single query: its own ranking is fetched from the worker.
  const before = await page.locator('influence-list li').evaluateAll((items) => items.map((li) => li.getAttribute('data-train-id')));
  await page.locator('influence-results select[data-target]').selectOption('query:mbpp-234');
  await expect.poll(async () => page.locator('influence-list li').evaluateAll((items) => items.map((li) => li.getAttribute('data-train-id'))), { timeout: 30_000 }).not.toEqual(before);
  expect((await scores('helpful')).every((s) => s > 0)).toBe(true);
  expect(await page.locator('influence-results [data-score-label]').textContent()).toMatch(/positive = helps.*not normalised/);

  // Normalised scores say so.
  await page.locator('influence-results select[data-normalization]').selectOption('self-influence');
  await expect.poll(() => page.locator('influence-results [data-score-label]').textContent(), { timeout: 30_000 }).toMatch(/self-influence/);
  expect(pageErrors()).toEqual([]);
});

test('user files: a malformed JSONL line is named; example text renders as text, never as HTML', async () => {
  const vocabSize = (JSON.parse(readFileSync('public/data/micro/tokenizer.json', 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
  const { model } = seededDemoModel('micro', Math.max(...Object.values(vocabSize)) + 1, 512);
  const modelBytes = Buffer.from(serializeModel(model));
  const tokenizer = readFileSync('public/data/micro/tokenizer.json');
  const queries = readFileSync('public/data/micro/queries.jsonl');
  const rows = readFileSync('public/data/micro/train.jsonl', 'utf8').trim().split('\n').slice(0, 4).map((line) => JSON.parse(line) as Record<string, unknown>);
  const injected = '<img src=x onerror="window.__iwbInjected = 1"><b>bold?</b>';
  rows[0] = { ...rows[0], prompt: `${injected}\n${String(rows[0]!.prompt)}` };
  const train = Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls select#backend').selectOption('cpu');
  const pick = async (id: string, name: string, buffer: Buffer) => page.locator(`run-controls input#${id}`).setInputFiles({ name, mimeType: 'application/octet-stream', buffer });
  await pick('model', 'micro.onnx', modelBytes);
  await pick('tokenizer', 'tokenizer.json', tokenizer);
  await pick('queries', 'queries.jsonl', queries);

  await pick('train', 'broken.jsonl', Buffer.from(`${JSON.stringify(rows[1])}\n{"prompt": "unterminated\n`));
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="failed"]').waitFor({ timeout: 120_000 });
  expect(await page.locator('[data-run="failed"]').textContent()).toMatch(/^broken\.jsonl:2: not valid JSON/);

  await pick('train', 'train.jsonl', train);
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });
  expect(await page.locator('[data-run="done"]').textContent()).toMatch(/4 queries × 4 training examples/);
  await page.locator('influence-list li').first().waitFor({ timeout: 30_000 });
  // With four training examples and k = 5, each of them is listed as helpful or harmful.
  const shown = await page.locator('influence-list [data-text]').allTextContents();
  expect(shown.some((text) => text.includes(injected))).toBe(true);
  expect(await page.locator('influence-list img, influence-list b').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __iwbInjected?: number }).__iwbInjected)).toBeUndefined();
  expect(pageErrors()).toEqual([]);
});

test("the run controls' options reach the engine: strategy, limits, batch size; a bad value is refused before a run", async () => {
  await page.locator('run-controls input[data-source="demo"]').check();
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls select#strategy').selectOption('diagonal');
  await page.locator('run-controls details summary').click();
  await page.locator('run-controls input#batch-size').fill('0');
  await page.locator('run-controls button[data-action="start"]').click();
  expect(await page.locator('run-controls [data-problem]').textContent()).toBe('batch size: "0" is not an integer ≥ 1');
  expect(await page.locator('attribution-progress').count()).toBe(0);

  await page.locator('run-controls input#batch-size').fill('3');
  await page.locator('run-controls input#limit-train').fill('6');
  await page.locator('run-controls input#limit-queries').fill('2');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });
  expect(await page.locator('[data-run="done"]').textContent()).toMatch(/2 queries × 6 training examples, strategy diagonal/);
  expect(pageErrors()).toEqual([]);
});
