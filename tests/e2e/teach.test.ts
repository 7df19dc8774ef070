/**
 * The teaching lab (teach.html) in headless Chromium against this Node process: the correlations the page shows for a
 * URL state equal runLab on the same state here, and dragging a training point retrains and rescores. The page says a
 * run finished by raising data-generation on <teach-app>; the test waits for that counter, never for a transient.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pearson } from '../../src/core/stats';
import { runLab } from '../../src/teach/lab';
import { agreements, METHODS, queryRow } from '../../src/teach/results';
import { runLmLab } from '../../src/teach/lm-lab';
import { LM_TRAIN } from '../../src/teach/lm-data';
import { labInputs, lmInputs, parseState } from '../../src/teach/state';
import { formatNumber } from '../../src/ui/teach/colour';
import { openPage, servePage, type Served } from '../helpers/browser';

let served: Served;
let page: Page;
let errors: string[];

beforeAll(async () => {
  served = await servePage();
  ({ page, errors } = await openPage(served, 'teach.html?model=logistic&seed=3&q=1&damping=0.02'));
});
afterAll(async () => {
  await served?.close();
});

async function generationAbove(previous: number): Promise<number> {
  await page.waitForFunction(
    (g) => {
      const app = document.querySelector('teach-app') as HTMLElement | null;
      return app !== null && Number(app.dataset.generation ?? 0) > g && app.dataset.status === 'ready';
    },
    previous,
    { timeout: 120_000 },
  );
  return Number(await page.getAttribute('teach-app', 'data-generation'));
}

/** The page's table, full precision, by method. */
async function shownCorrelations(): Promise<Record<string, Shown>> {
  return page.$$eval('lab-methods tr[data-method]', (rows) =>
    Object.fromEntries(
      rows.map((row) => {
        const d = (row as HTMLElement).dataset;
        const text = Array.from(row.querySelectorAll('td.num'), (td) => td.textContent!.trim());
        return [
          d.method!,
          { pearson: Number(d.pearson), spearman: Number(d.spearman), vsExact: Number(d.vsExact), text },
        ];
      }),
    ),
  );
}

interface Shown {
  readonly pearson: number;
  readonly spearman: number;
  readonly vsExact: number;
  /** The table's three number cells as displayed. */
  readonly text: readonly string[];
}

/** The same numbers computed here from the page's current URL. */
async function nodeCorrelations() {
  const search = new URL(page.url()).search;
  const state = parseState(search);
  const result = state.model === 'lm' ? await runLmLab(lmInputs(state)) : await runLab(labInputs(state));
  const n = result.trainCount;
  const scores = agreements(result, state.query);
  const exact = queryRow(result.methods.exact.tau, state.query, n);
  return Object.fromEntries(
    METHODS.map((m) => [m, { ...scores[m], vsExact: pearson(queryRow(result.methods[m].tau, state.query, n), exact) }]),
  );
}

function expectSame(
  shown: Record<string, Shown>,
  computed: Record<string, { pearson: number; spearman: number; vsExact: number }>,
) {
  expect(Object.keys(shown).sort()).toEqual([...METHODS].sort());
  for (const m of METHODS) {
    const c = computed[m];
    expect(shown[m].text).toEqual([
      formatNumber(c.pearson),
      formatNumber(c.spearman),
      m === 'exact' ? '1' : formatNumber(c.vsExact),
    ]);
  }
  for (const m of METHODS) {
    // Chromium's V8 and Node's differ in the last bits of some Math functions' results: the scores agree to ~1e-16
    // (agreement with exact), the leave-one-out Δf — a difference of two nearby log-likelihoods after Newton's
    // iterations — to ~1e-10 relative (Pearson vs LOO off by up to 2e-9). Equal far beyond the three digits shown.
    expect(Number.isFinite(shown[m].pearson)).toBe(true);
    expect(Math.abs(shown[m].pearson - computed[m].pearson)).toBeLessThan(1e-7);
    expect(Math.abs(shown[m].spearman - computed[m].spearman)).toBeLessThan(1e-7);
    expect(Math.abs(shown[m].vsExact - computed[m].vsExact)).toBeLessThan(1e-12);
  }
}

test('the correlations shown for a URL state equal a Node computation on the same state', async () => {
  await generationAbove(0);
  const shown = await shownCorrelations();
  expectSame(shown, await nodeCorrelations());
  // The state in the URL is the one asked for (query 1, δ = 0.02), not a default.
  expect(parseState(new URL(page.url()).search)).toMatchObject({ model: 'logistic', seed: 3, query: 1, damping: 0.02 });
  expect(shown.exact.pearson).toBeGreaterThan(0.98);
  expect(errors).toEqual([]);
});

test('dragging a training point retrains and rescores; the new numbers match Node on the new URL', async () => {
  const before = Number(await page.getAttribute('teach-app', 'data-generation'));
  const valuesBefore = await page.$$eval('lab-plot g.train', (gs) =>
    gs.map((g) => Number((g as HTMLElement).dataset.value)),
  );
  const mark = page.locator('lab-plot g.train[data-index="4"] .mark');
  const box = (await mark.boundingBox())!;
  const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + 60, y - 40, { steps: 6 });
  await page.mouse.up();
  const after = await generationAbove(before);
  expect(after).toBe(before + 1);

  const state = parseState(new URL(page.url()).search);
  expect(state.points).not.toBeNull();
  const original = parseState('?model=logistic&seed=3');
  const moved = state.points![4];
  const start = labInputs(original).train[4];
  expect(Math.hypot(moved.x[0] - start.x[0], moved.x[1] - start.x[1])).toBeGreaterThan(0.2);
  expect(moved.y).toBe(start.y);

  const valuesAfter = await page.$$eval('lab-plot g.train', (gs) =>
    gs.map((g) => Number((g as HTMLElement).dataset.value)),
  );
  expect(valuesAfter).toHaveLength(valuesBefore.length);
  expect(valuesAfter.some((v, i) => Math.abs(v - valuesBefore[i]) > 1e-6)).toBe(true);
  expectSame(await shownCorrelations(), await nodeCorrelations());
  expect(errors).toEqual([]);
});

test('click adds a point (shift: class 1), right-click deletes one, a preset loads with its lesson', async () => {
  const count = () => page.locator('lab-plot g.train').count();
  const pointsInUrl = () => parseState(new URL(page.url()).search).points ?? [];
  let generation = Number(await page.getAttribute('teach-app', 'data-generation'));
  const n = await count();
  const frame = (await page.locator('lab-plot rect.frame').boundingBox())!;
  // The plot's bottom-right corner region is empty in this data set.
  await page.keyboard.down('Shift');
  await page.mouse.click(frame.x + frame.width * 0.92, frame.y + frame.height * 0.92);
  await page.keyboard.up('Shift');
  generation = await generationAbove(generation);
  expect(await count()).toBe(n + 1);
  const added = pointsInUrl()[n];
  expect(added.y).toBe(1);
  expect(added.x[0]).toBeGreaterThan(2);
  expect(added.x[1]).toBeLessThan(-2);

  await page.locator(`lab-plot g.train[data-index="${n}"] .mark`).click({ button: 'right' });
  generation = await generationAbove(generation);
  expect(await count()).toBe(n);
  expect(pointsInUrl().some((p) => p.x[0] === added.x[0] && p.x[1] === added.x[1])).toBe(false);

  await page.click('button[data-preset="mislabelled"]');
  await generationAbove(generation);
  await expect.poll(() => page.locator('teach-app .lesson').textContent()).toMatch(/were flipped/);
  expect(parseState(new URL(page.url()).search).colour).toBe('self');
  expect(errors).toEqual([]);
});

test('a preset that switches the model shows it in the Model select, after a model was chosen by hand', async () => {
  await page.goto(`${served.url}teach.html?model=mlp`);
  let generation = Number(await page.getAttribute('teach-app', 'data-generation'));
  const select = (control: string) => page.locator(`teach-app select[data-control="${control}"]`);
  // By hand: the browser now shows the user's pick, whatever the options' `selected` attributes say.
  await select('model').selectOption('logistic');
  generation = await generationAbove(generation);
  expect(parseState(new URL(page.url()).search).model).toBe('logistic');
  await page.click('button[data-preset="nonconvex"]');
  await generationAbove(generation);
  const state = parseState(new URL(page.url()).search);
  expect(state.model).toBe('mlp');
  expect(await select('model').inputValue()).toBe('mlp');
  expect(await select('method').inputValue()).toBe(state.method);
  expect(await select('loo').inputValue()).toBe('scratch');
  expect(errors).toEqual([]);
});

test('the tiny LM: per-token scores in the page, and its correlations equal Node on the same URL', async () => {
  await page.goto(`${served.url}teach.html?model=lm&q=2&damping=0.02`);
  await generationAbove(0); // a new page load counts from 0 again
  expectSame(await shownCorrelations(), await nodeCorrelations());
  const rows = await page.$$eval('lab-lm tr[data-sentence]', (trs) =>
    trs.map((tr) => ({
      score: Number((tr as HTMLElement).dataset.score),
      tokens: Array.from(tr.querySelectorAll('[data-token-score]'), (t) =>
        Number((t as HTMLElement).dataset.tokenScore),
      ),
    })),
  );
  expect(rows).toHaveLength(10);
  // Colour by EK-FAC (the default): each sentence's per-token scores sum to its score.
  for (const row of rows)
    expect(Math.abs(row.tokens.reduce((a, b) => a + b, 0) - row.score)).toBeLessThan(1e-9 * (1 + Math.abs(row.score)));
  expect(errors).toEqual([]);
});

test('the tiny LM: edit, add and delete sentences; each retrains, the URL keeps them, words stay text', async () => {
  await page.goto(`${served.url}teach.html?model=lm`);
  let generation = await generationAbove(0);
  const sentencesInUrl = () => parseState(new URL(page.url()).search).sentences;
  expect(sentencesInUrl()).toBeNull();

  await page.click('lab-lm button[data-action="edit"][data-index="0"]');
  await page.fill('lab-lm input[data-edit="0"]', 'The bird  sat on the RUG');
  await page.click('lab-lm button[data-action="save"]');
  generation = await generationAbove(generation);
  expect(sentencesInUrl()).toEqual(['the bird sat on the rug', ...LM_TRAIN.slice(1)]);
  expect(await page.locator('lab-lm tr[data-sentence="0"] .tokens').textContent()).toContain('bird');

  // Markup is not a word: refused with the word named, shown as text, and nothing retrains.
  await page.fill('lab-lm input[data-add]', '<img src=x onerror=alert(1)> cat');
  await page.click('lab-lm button[data-action="add"]');
  await expect.poll(() => page.locator('lab-lm [data-problem]').textContent()).toContain('"<img" is not in the');
  expect(await page.locator('lab-lm img').count()).toBe(0);
  expect(await page.getAttribute('teach-app', 'data-status')).toBe('ready');
  expect(sentencesInUrl()).toHaveLength(10);

  await page.fill('lab-lm input[data-add]', 'a bird chased the dog');
  await page.click('lab-lm button[data-action="add"]');
  generation = await generationAbove(generation);
  expect(await page.locator('lab-lm tr[data-sentence]').count()).toBe(11);
  expect(sentencesInUrl()![10]).toBe('a bird chased the dog');

  await page.click('lab-lm button[data-action="delete"][data-index="3"]');
  await generationAbove(generation);
  const expected = ['the bird sat on the rug', ...LM_TRAIN.slice(1, 3), ...LM_TRAIN.slice(4), 'a bird chased the dog'];
  expect(sentencesInUrl()).toEqual(expected);
  expect(await page.locator('lab-lm tr[data-sentence]').count()).toBe(10);

  // The page's numbers are Node's on the same URL: correlations and every per-token score.
  expectSame(await shownCorrelations(), await nodeCorrelations());
  const state = parseState(new URL(page.url()).search);
  const result = await runLmLab(lmInputs(state));
  const { offsets, values } = result.perToken;
  const perRow = offsets[result.trainCount];
  const shown = await page.$$eval('lab-lm tr[data-sentence]', (trs) =>
    trs.map((tr) => ({
      index: Number((tr as HTMLElement).dataset.sentence),
      tokens: Array.from(tr.querySelectorAll('[data-token-score]'), (t) =>
        Number((t as HTMLElement).dataset.tokenScore),
      ),
    })),
  );
  for (const { index, tokens } of shown) {
    const computed = values.subarray(state.query * perRow + offsets[index], state.query * perRow + offsets[index + 1]);
    expect(tokens).toHaveLength(computed.length);
    tokens.forEach((v, t) => expect(Math.abs(v - computed[t])).toBeLessThan(1e-9 * (1 + Math.abs(computed[t]))));
  }

  // The link reproduces the edited model.
  await page.reload();
  await generationAbove(0);
  expect(sentencesInUrl()).toEqual(expected);
  expect(await page.locator('lab-lm tr[data-sentence]').count()).toBe(10);
  expect(errors).toEqual([]);
});
