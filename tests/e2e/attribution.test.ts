/**
 * The first page path end to end in headless Chromium: index.html → Lit app → engine worker → EK-FAC on the micro
 * demo (and on user-picked files) → progress → top helpful/harmful training examples; cancel; bad input; the
 * WebGPU engine chosen explicitly on the software adapter, checked by value against the CPU float64 engine.
 * Each test opens its own page and depends on no other test; a run is interrupted only where the test holds it
 * (`?hold=<stage>`), never on a progress label that may come and go.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { serializeModel } from '../../src/onnx/protobuf';
import { seededDemoModel } from '../../src/app/demo-model';
import { openPage, servePage, type Served } from '../helpers/browser';
import { bundleRowIds, tensorValues } from '../helpers/bundle-file';

let served: Served;
let page: Page;
let errors: string[];

beforeAll(async () => {
  served = await servePage();
});
async function open(query: string): Promise<void> {
  ({ page, errors } = await openPage(served, query));
}
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
  // Held after its first covariance checkpoint, the run is certainly mid-stage when the cancel arrives.
  await open('?demo=micro&hold=covariance');
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  const stage = page.locator('attribution-progress [data-progress-stage]');
  await expect.poll(() => stage.textContent(), { timeout: 240_000, interval: 250 }).toMatch(/covariance/);
  expect(await page.locator('attribution-progress [data-progress-backend]').getAttribute('data-progress-backend')).toBe(
    'cpu',
  );
  expect(await page.locator('attribution-progress progress[data-stage]').getAttribute('max')).toBe('1');
  await page.locator('run-controls button[data-action="cancel"]').click();
  await page.locator('[data-run="cancelled"]').waitFor({ timeout: 60_000 });
  expect(await page.locator('[data-run="done"]').count()).toBe(0);
  // The run is kept, paused, and resumable; a new run starts and finishes (the hold applies only once per run).
  await expect.poll(() => page.locator('run-library tr[data-status="paused"]').count(), { timeout: 30_000 }).toBe(1);
  await page.goto(`${served.url}?demo=micro`);
  await page.locator('run-controls select#backend').selectOption('cpu');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });
  expect(pageErrors()).toEqual([]);
});

test('the micro demo runs on the automatic backend: the top helpful and harmful examples, per benchmark and query', async () => {
  await open('?demo=micro');
  await page.locator('run-controls select#backend').selectOption('auto');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });

  // SwiftShader is a software adapter, so "automatic" picks the CPU backend and says why.
  const done = (await page.locator('[data-run="done"]').textContent()) ?? '';
  expect(await page.locator('[data-run="done"] [data-backend]').getAttribute('data-backend')).toBe('cpu');
  expect(done).toMatch(/software\/fallback WebGPU adapter/);
  expect(done).toMatch(/4 queries × 16 training examples/);

  // The default view is the first benchmark; every training example is either helpful or harmful.
  await page.locator('influence-list[kind="helpful"] li').first().waitFor({ timeout: 30_000 });
  // The demo's queries are named by their benchmarks, not their domains.
  const targets = await page
    .locator('influence-results select[data-target] option')
    .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  expect(targets.filter((t) => t.startsWith('benchmark:'))).toEqual(['benchmark:GSM8K', 'benchmark:MBPP']);
  const helpful = await scores('helpful');
  const harmful = await scores('harmful');
  expect(helpful.length + harmful.length).toBeGreaterThan(0);
  expect(helpful.every((s) => s > 0)).toBe(true);
  expect(harmful.every((s) => s < 0)).toBe(true);
  expect(helpful).toEqual([...helpful].sort((a, b) => b - a));
  expect(harmful).toEqual([...harmful].sort((a, b) => a - b));

  // A single query: its own ranking is fetched from the worker.
  await page.locator('influence-results select[data-target]').selectOption('query:mbpp-234');
  await page
    .locator('influence-results [data-shown-target="query:mbpp-234"] influence-list li')
    .first()
    .waitFor({ timeout: 30_000 });
  expect((await scores('helpful')).every((s) => s > 0)).toBe(true);
  expect(await page.locator('influence-results [data-score-label]').textContent()).toMatch(
    /positive = helps.*not normalised/,
  );

  // Normalised scores say so.
  await page.locator('influence-results select[data-normalization]').selectOption('self-influence');
  await page.locator('influence-results [data-shown-normalization="self-influence"]').waitFor({ timeout: 30_000 });
  expect(await page.locator('influence-results [data-score-label]').textContent()).toMatch(/self-influence/);
  expect(pageErrors()).toEqual([]);
});

test('the WebGPU engine, chosen explicitly on the software adapter, gives the CPU float64 scores to float32 accuracy', async () => {
  await open('?demo=micro');
  page.on('dialog', (dialog) => void dialog.accept());
  const exported = async (backend: 'cpu' | 'webgpu'): Promise<Buffer> => {
    await page.locator('run-controls select#backend').selectOption(backend);
    await page.locator('run-controls button[data-action="start"]').click();
    await page.locator('[data-run="done"]').waitFor({ timeout: 290_000 });
    expect(await page.locator('[data-run="done"] [data-backend]').getAttribute('data-backend')).toBe(backend);
    const row = page.locator('run-library tr[data-run-id]').first();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('complete');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.locator('button[data-action="export"]').click(),
    ]);
    const bytes = readFileSync((await download.path())!);
    await row.locator('button[data-action="delete"]').click();
    await page.locator('run-library [data-no-runs]').waitFor({ timeout: 30_000 });
    return bytes;
  };
  const cpu = await exported('cpu');
  const gpu = await exported('webgpu');
  expect(bundleRowIds(gpu)).toEqual(bundleRowIds(cpu));
  // Every pairwise and self score, by value (a bug that scaled scores would fail here, not only a ranking change).
  for (const name of ['scores.tau', 'scores.influence', 'scores.self_tau']) {
    const want = tensorValues(cpu, name);
    const got = tensorValues(gpu, name);
    expect(got.length, name).toBe(want.length);
    const scale = Math.max(...want.map(Math.abs));
    expect(scale, name).toBeGreaterThan(0);
    const worst = Math.max(...got.map((value, i) => Math.abs(value - want[i]!)));
    expect(worst / scale, name).toBeLessThanOrEqual(1e-4);
  }
  expect(pageErrors()).toEqual([]);
}, 600_000);

test('user files: a malformed JSONL line is named; example text renders as text, never as HTML', async () => {
  await open('?demo=micro');
  const vocabSize = (
    JSON.parse(readFileSync('public/data/micro/tokenizer.json', 'utf8')) as { model: { vocab: Record<string, number> } }
  ).model.vocab;
  const { model } = seededDemoModel('micro', Math.max(...Object.values(vocabSize)) + 1, 512);
  const modelBytes = Buffer.from(serializeModel(model));
  const tokenizer = readFileSync('public/data/micro/tokenizer.json');
  const queries = readFileSync('public/data/micro/queries.jsonl');
  const rows = readFileSync('public/data/micro/train.jsonl', 'utf8')
    .trim()
    .split('\n')
    .slice(0, 4)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const injected = '<img src=x onerror="window.__iwbInjected = 1"><b>bold?</b>';
  rows[0] = { ...rows[0], prompt: `${injected}\n${String(rows[0]!.prompt)}` };
  const train = Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls select#backend').selectOption('cpu');
  const pick = async (id: string, name: string, buffer: Buffer) =>
    page.locator(`run-controls input#${id}`).setInputFiles({ name, mimeType: 'application/octet-stream', buffer });
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
  expect(await page.locator('run-controls [data-problem]').textContent()).toBe(
    // The options table's grammar and words (src/app/options.ts), naming the page's control.
    'Batch size (sequences): "0" is not a positive integer (decimal digits only)',
  );
  expect(await page.locator('attribution-progress').count()).toBe(0);

  await page.locator('run-controls input#batch-size').fill('3');
  await page.locator('run-controls input#limit-train').fill('6');
  await page.locator('run-controls input#limit-queries').fill('2');
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="done"]').waitFor({ timeout: 240_000 });
  expect(await page.locator('[data-run="done"]').textContent()).toMatch(
    /2 queries × 6 training examples, strategy diagonal/,
  );
  expect(pageErrors()).toEqual([]);
});
