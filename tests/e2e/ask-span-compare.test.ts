/**
 * "Attribute this span" and "Compare two responses" in the page, after a micro demo run (CPU backend):
 * - a span selected in the query view is asked against the run's factors (only the scoring pass runs); a span over the
 *   whole response measures what the default does, so it ranks — with the same scores, 1e-9 relative — as the run did;
 *   a shorter span is shown with its T_q;
 * - two responses compared: the list's differences are the two attributions' scores subtracted (1e-9 relative).
 */
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

function close(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= 1e-9 * Math.max(Math.abs(expected), 1e-30);
}

/** The query view's raw scores by training id (all ranks the list renders). */
async function scores(workspace: Locator): Promise<Map<string, number>> {
  await workspace.locator('query-view[data-ready]').waitFor({ timeout: 60_000 });
  await workspace.locator('query-view lit-virtualizer').scrollIntoViewIfNeeded();
  await workspace.locator('query-view [data-row][data-rank="1"]').waitFor({ timeout: 60_000 });
  const rows = await workspace
    .locator('query-view [data-row]')
    .evaluateAll((els) =>
      els.map(
        (e) =>
          [
            Number(e.getAttribute('data-rank')),
            e.getAttribute('data-train-id')!,
            Number(e.getAttribute('data-score')),
          ] as const,
      ),
    );
  rows.sort((x, y) => x[0] - y[0]);
  return new Map(rows.map(([, id, score]) => [id, score]));
}

test('a span selected in the query view is attributed against the run factors', async () => {
  const { context, page, errors } = await openMicroDemo(served, 1400);
  const runId = await finishRun(page);
  let workspace = page.locator('results-workspace').first();
  await workspace.locator('[data-tab="query"]').click();
  const before = await scores(workspace);
  expect(before.size).toBeGreaterThan(3);
  const queryId = (await workspace.locator('query-view [data-query-id]').textContent())!;
  const heading = (await workspace.locator('query-view h3').first().textContent())!.replace(/\s+/g, ' ');
  const benchmark = /\(([^()]+)\)$/.exec(heading.trim())![1]!;

  // Select the whole response: click its first token, shift-click its last.
  const picker = workspace.locator('query-view span-picker');
  await picker.locator('details').evaluate((d) => ((d as HTMLDetailsElement).open = true));
  const tokens = picker.locator('[data-span-token]');
  const count = await tokens.count();
  expect(count).toBeGreaterThan(2);
  const first = Number(await tokens.first().getAttribute('data-span-token'));
  await tokens.first().click();
  await tokens.last().click({ modifiers: ['Shift'] });
  expect(await picker.locator('[aria-pressed="true"]').count()).toBe(count);
  await picker.locator('button[data-action="attribute-span"]').click();
  workspace = await askedRun(page, runId);
  await workspace.locator('[data-tab="query"]').click();
  await expect
    .poll(() => workspace.locator('query-view [data-query-id]').textContent())
    .toBe(`${queryId} [${first}, ${first + count})`);
  const whole = await scores(workspace);
  // The asked query keeps its benchmark (the run's grouping).
  expect((await workspace.locator('query-view h3').first().textContent())!.trim().endsWith(`(${benchmark})`)).toBe(
    true,
  );
  expect([...whole.keys()]).toEqual([...before.keys()]);
  for (const [id, value] of whole)
    expect(close(value, before.get(id)!), `${id}: ${value} vs ${before.get(id)}`).toBe(true);
  const note = workspace.locator('query-view [data-query-measured="span"]');
  expect((await note.textContent())!.replace(/\s+/g, ' ')).toContain(`T_q = ${count}`);

  // A two-token span, picked with the keyboard: its own scores, its T_q shown.
  const secondRunId = (await workspace.getAttribute('run-id'))!;
  const picker2 = workspace.locator('query-view span-picker');
  await picker2.locator('details').evaluate((d) => ((d as HTMLDetailsElement).open = true));
  const tokens2 = picker2.locator('[data-span-token]');
  const at = Number(await tokens2.first().getAttribute('data-span-token'));
  await tokens2.nth(0).focus();
  await page.keyboard.press('Enter');
  await tokens2.nth(1).focus();
  await page.keyboard.press('Enter');
  await picker2.locator('button[data-action="attribute-span"]').click();
  workspace = await askedRun(page, secondRunId);
  await workspace.locator('[data-tab="query"]').click();
  await expect
    .poll(() => workspace.locator('query-view [data-query-id]').textContent())
    .toContain(`[${at}, ${at + 2})`);
  const span = workspace.locator('query-view [data-query-measured="span"]');
  expect((await span.textContent())!.replace(/\s+/g, ' ')).toContain('T_q = 2');
  const narrow = await scores(workspace);
  expect([...narrow.values()].some((v, i) => !close(v, [...whole.values()][i]!))).toBe(true);
  expect(errors).toEqual([]);
  await context.close();
}, 900_000);

test('two responses compared: the list is the difference of their attributions', async () => {
  const { context, page, errors } = await openMicroDemo(served, 1400);
  const runId = await finishRun(page);
  const ask = await openAsk(page);
  await ask
    .locator('textarea[data-compare-prompt]')
    .fill('Question: Tom has 3 apples and buys 4 more. How many?\nAnswer:\n');
  await ask.locator('textarea[data-compare-a]').fill('He has 3+4=7 apples.\n#### 7');
  await ask.locator('textarea[data-compare-b]').fill('He has 3*4=12 apples.\n#### 12');
  await ask.locator('button[data-action="compare"]').click();
  const workspace = await askedRun(page, runId);
  const list = page.locator('response-comparison');
  await list.locator('li').first().waitFor({ timeout: 60_000 });
  const shown = await list
    .locator('li')
    .evaluateAll((els) =>
      els.map((e) => [
        e.closest('ol')!.getAttribute('data-toward')!,
        e.getAttribute('data-train-id')!,
        Number(e.getAttribute('data-difference')),
      ]),
    );
  await workspace.locator('[data-tab="query"]').click();
  const a = await scores(workspace);
  await workspace.locator('query-view select[data-query-list]').selectOption('response B');
  await expect.poll(() => workspace.locator('query-view [data-query-id]').textContent()).toBe('response B');
  const b = await scores(workspace);
  const difference = new Map([...a].map(([id, value]) => [id, value - b.get(id)!]));
  // Each side: the examples with a positive (negative) difference, largest |difference| first, up to 10.
  const expected = (sign: number) =>
    [...difference]
      .filter(([, d]) => d * sign > 0)
      .sort((x, y) => sign * (y[1] - x[1]))
      .slice(0, 10);
  for (const [side, sign] of [
    ['a', 1],
    ['b', -1],
  ] as const) {
    const got = shown.filter(([s]) => s === side);
    const want = expected(sign);
    expect(got.map(([, id]) => id)).toEqual(want.map(([id]) => id));
    got.forEach(([, id, d], i) => expect(close(d as number, want[i]![1]), `${id}`).toBe(true));
  }
  expect(shown.length).toBeGreaterThan(0);
  expect(errors).toEqual([]);
  await context.close();
}, 900_000);
