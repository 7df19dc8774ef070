/**
 * "Ask another question" in the page: after a micro demo run, a query row typed as JSONL is attributed against that
 * run's factors — no covariance, eigen or Λ stage runs — and, asked with the text of one of the run's own queries, it
 * ranks the training examples exactly as the run did for that query.
 */
import { readFileSync } from 'node:fs';
import type { Locator } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { servePage, type Served } from '../helpers/browser';
import { askedRun, finishRun, openAsk, openMicroDemo } from '../helpers/micro-run';

let served: Served;

beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

/** The first ranks of the query view's table: training id and the score shown. */
async function ranking(workspace: Locator): Promise<string[]> {
  await workspace.locator('query-view[data-ready]').waitFor({ timeout: 60_000 });
  await workspace.locator('query-view lit-virtualizer').scrollIntoViewIfNeeded();
  const rows: string[] = [];
  for (let rank = 1; rank <= 5; rank++) {
    const row = workspace.locator(`query-view [data-row][data-rank="${rank}"]`);
    await row.waitFor({ timeout: 60_000 });
    rows.push(`${await row.getAttribute('data-train-id')} ${(await row.textContent())!.replace(/\s+/g, ' ').trim()}`);
  }
  return rows;
}

test('a question asked against a finished run reuses its factors and ranks as the run did', async () => {
  const first = JSON.parse(readFileSync('public/data/micro/queries.jsonl', 'utf8').split('\n')[0]!) as {
    id: string;
    prompt: string;
    response: string;
  };
  const { context, page, errors } = await openMicroDemo(served);
  const firstRunId = await finishRun(page);
  let workspace = page.locator('results-workspace').first();
  await workspace.locator('[data-tab="query"]').click();
  await workspace.locator('query-view [data-query-id]').waitFor({ timeout: 60_000 });
  expect(await workspace.locator('query-view [data-query-id]').textContent()).toBe(first.id);
  const before = await ranking(workspace);

  const ask = await openAsk(page);
  const row = { id: 'asked-again', prompt: first.prompt, response: first.response };
  await ask.locator('textarea[data-ask-queries]').fill(JSON.stringify(row));
  await ask.locator('button[data-action="ask"]').click();
  // The asked run's workspace replaces the first run's when it is done (or the run fails), and only the scoring pass
  // ran: the factors came from the first run.
  workspace = await askedRun(page, firstRunId);
  await workspace.locator('[data-tab="query"]').click();
  await workspace.locator('query-view [data-query-id]').waitFor({ timeout: 60_000 });
  await expect.poll(() => workspace.locator('query-view [data-query-id]').textContent()).toBe('asked-again');
  expect(await ranking(workspace)).toEqual(before);
  expect(errors).toEqual([]);
  await context.close();
}, 600_000);

test("the run's model answers a typed prompt and its answer is attributed against the run's factors", async () => {
  const { context, page, errors } = await openMicroDemo(served);
  const firstRunId = await finishRun(page);
  const ask = await openAsk(page);
  const prompt = 'Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:\n';
  await ask.locator('textarea[data-ask-prompt]').fill(prompt);
  await ask.locator('input[data-ask-max-tokens]').fill('4');
  await ask.locator('button[data-action="generate"]').click();
  const workspace = await askedRun(page, firstRunId);
  await workspace.locator('[data-tab="query"]').click();
  await expect.poll(() => workspace.locator('query-view [data-query-id]').textContent()).toBe('generated');
  // The prompt as typed (after the bos token), and an answer of at most 4 generated tokens.
  const shownPrompt = (await workspace.locator('query-view [data-query-prompt]').textContent())!;
  expect(shownPrompt.endsWith(prompt)).toBe(true);
  const answer = (await workspace.locator('query-view [data-query-response]').textContent())!;
  expect(answer.length).toBeGreaterThan(0);
  expect(answer).not.toBe('(not stored)');
  expect(errors).toEqual([]);
  await context.close();
}, 600_000);
