/**
 * Picked files in the page are read like the CLI's (src/worker/picked-files.ts): a Latin-1 byte in a JSONL file is
 * refused with the file, line and byte offset before any run starts (File.text() would have turned it into U+FFFD),
 * and a row longer than the model's context is refused by the engine worker with its file:line.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { serializeModel } from '../../src/onnx/protobuf';
import { seededDemoModel } from '../../src/app/demo-model';
import { openPage, servePage, type Served } from '../helpers/browser';

let served: Served;
let page: Page;

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

test('a Latin-1 JSONL file and a row past the context are refused with file:line, no run is started', async () => {
  ({ page } = await openPage(served, '?demo=micro'));
  const pick = async (id: string, name: string, buffer: Buffer) =>
    page.locator(`run-controls input#${id}`).setInputFiles({ name, mimeType: 'application/octet-stream', buffer });
  await page.locator('run-controls input[data-source="files"]').check();
  await page.locator('run-controls select#backend').selectOption('cpu');
  await pick('model', 'micro.onnx', Buffer.from(serializeModel(seededDemoModel('micro', 512, 100).model)));
  await pick('tokenizer', 'tokenizer.json', readFileSync('public/data/micro/tokenizer.json'));
  await pick('queries', 'queries.jsonl', readFileSync('public/data/micro/queries.jsonl'));
  const first = readFileSync('public/data/micro/train.jsonl', 'utf8').split('\n')[0]!;

  const latin1 = Buffer.concat([
    Buffer.from(`${first}\n{"prompt":"caf`),
    Buffer.from([0xe9]),
    Buffer.from('","response":"x"}\n'),
  ]);
  await pick('train', 'latin1.jsonl', latin1);
  await page.locator('run-controls button[data-action="start"]').click();
  const offset = Buffer.byteLength(`${first}\n{"prompt":"caf`);
  await expect
    .poll(() => page.locator('run-controls [data-problem]').textContent(), { timeout: 30_000 })
    .toBe(`latin1.jsonl:2: invalid UTF-8 at byte offset ${offset} (byte 0xe9)`);

  const long = `${first}\n${JSON.stringify({ prompt: 'x '.repeat(300), response: 'y' })}\n`;
  await pick('train', 'long.jsonl', Buffer.from(long));
  await page.locator('run-controls button[data-action="start"]').click();
  await page.locator('[data-run="failed"]').waitFor({ timeout: 120_000 });
  expect(await page.locator('[data-run="failed"]').textContent()).toMatch(
    /^long\.jsonl:2: \d+ tokens, longer than the context of 100 \(the position embedding "wpe\.weight" of micro\.onnx\)/,
  );
});
