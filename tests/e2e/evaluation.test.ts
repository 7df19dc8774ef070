/**
 * The Evaluation view and the page's evaluation, on the built page in headless Chromium. On the committed bundle
 * (tests/fixtures/evaluation/micro.iwb, a real `iwb evaluate` made by scripts/evaluation-fixture.ts): the LDS table
 * equals the LDS recomputed here in Node from the bundle's own predictions and measurements (Spearman per query, the
 * seeded bootstrap), and the scatter's points are the bundle's; a deep link restores the view; hostile text stays
 * text. In the page: an evaluation held after its third saved retrain (`?evalHold=3`, a deterministic interruption
 * point), cancelled, reloaded and resumed, retrains only what is missing and ends with exactly the numbers of an
 * uninterrupted one.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bootstrapMean, spearman } from '../../src/core/stats';
import { decodeBundle, type Bundle } from '../../src/store/bundle';
import { openInContext, servePage, type Served } from '../helpers/browser';
import { resign } from '../helpers/bundle-edit';

const SHOTS = 'test-results/evaluation';
const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
const fixture = readFileSync('tests/fixtures/evaluation/micro.iwb');
let served: Served;
let context: BrowserContext;
let bundle: Bundle;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  bundle = await decodeBundle(fixture);
  served = await servePage();
  context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 1000 } });
  await context.route('**/fixtures/micro-eval.iwb', (route) =>
    route.fulfill({ body: fixture, contentType: 'application/octet-stream' }),
  );
  // The same evaluation with HTML and script in a query id and the training settings the view shows.
  const hostile = await resign(new Uint8Array(fixture), (manifest) => {
    manifest.rows.query[0].id = HOSTILE;
    manifest.evaluation.training = { [HOSTILE]: HOSTILE };
  });
  await context.route('**/fixtures/hostile-eval.iwb', (route) =>
    route.fulfill({ body: Buffer.from(hostile), contentType: 'application/octet-stream' }),
  );
});
afterAll(async () => {
  await served?.close();
});

async function open(path: string): Promise<{ page: Page; errors: string[] }> {
  return openInContext(context, served, path);
}

/** Each query's subset measurements averaged over the R seeds: [M × Q]. */
function measured(b: Bundle): Float64Array {
  const e = b.evaluation!;
  const { subsets: m, seedsPerSubset: r } = e.info.config;
  const q = b.manifest.scores!.queries;
  const out = new Float64Array(m * q);
  for (let row = 0; row < m; row++)
    for (let s = 0; s < r; s++)
      for (let i = 0; i < q; i++) out[row * q + i]! += e.subsetMeasurements[(row * r + s) * q + i]! / r;
  return out;
}

async function ldsRows(page: Page) {
  return page.locator('evaluation-view tr[data-lds-strategy]').evaluateAll((rows) =>
    rows.map((row) => ({
      strategy: row.getAttribute('data-lds-strategy'),
      mean: Number(row.getAttribute('data-mean')),
      low: Number(row.getAttribute('data-low')),
      high: Number(row.getAttribute('data-high')),
      queries: Number(row.getAttribute('data-queries')),
    })),
  );
}

async function subsetPoints(page: Page) {
  return page
    .locator('evaluation-view tr[data-subset]')
    .evaluateAll((rows) =>
      rows.map((row) => [Number(row.getAttribute('data-predicted')), Number(row.getAttribute('data-measured'))]),
    );
}

describe('Evaluation view on a bundle opened by URL', () => {
  test('the LDS table equals the LDS recomputed in Node from the bundle; the scatter holds its points', async () => {
    const { page, errors } = await open('?bundle=fixtures/micro-eval.iwb#view=evaluation');
    await page.locator('evaluation-view[data-ready]').waitFor({ timeout: 60_000 });
    const evaluation = bundle.evaluation!;
    const { config } = evaluation.info;
    const q = bundle.manifest.scores!.queries;
    const m = config.subsets;
    const f = measured(bundle);
    const column = (values: Float64Array, query: number) =>
      Float64Array.from({ length: m }, (_, row) => values[row * q + query]!);
    const rows = await ldsRows(page);
    const perQueryCells = await page
      .locator('evaluation-view table[data-per-query-table] tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => r.strategy)).toEqual(['identity', 'diagonal', 'kfac', 'ekfac']);
    evaluation.strategies.forEach((s, index) => {
      const perQuery = Float64Array.from({ length: q }, (_, i) => spearman(column(s.predictions, i), column(f, i)));
      // The engine's bootstrap stream for strategy position s (src/eval/evaluate.ts).
      const want = bootstrapMean(perQuery, config.bootstrapSamples, config.seed + 7919 * (index + 1));
      const got = rows[index]!;
      perQuery.forEach((lds, i) => expect(perQueryCells[i]![index]).toBe(Number.isFinite(lds) ? lds.toFixed(3) : '—'));
      expect(got.mean).toBeCloseTo(want.mean, 12);
      expect(got.low).toBeCloseTo(want.low, 12);
      expect(got.high).toBeCloseTo(want.high, 12);
      expect(got.queries).toBe(want.count);
    });
    // Paired differences (issue 24 §2): every pair, richest first; each row's mean is the mean over queries of the
    // per-query LDS difference recomputed above, and its verdict matches its interval.
    const paired = await page.locator('evaluation-view table[data-paired-table] tr[data-paired]').evaluateAll((trs) =>
      trs.map((tr) => ({
        pair: tr.getAttribute('data-paired')!,
        mean: Number(tr.getAttribute('data-mean')),
        low: Number(tr.getAttribute('data-low')),
        high: Number(tr.getAttribute('data-high')),
        verdict: tr.lastElementChild!.textContent!,
      })),
    );
    expect(paired.map((p) => p.pair)).toEqual([
      'ekfac-kfac',
      'ekfac-diagonal',
      'ekfac-identity',
      'kfac-diagonal',
      'kfac-identity',
      'diagonal-identity',
    ]);
    const rho = (name: string) => {
      const s = evaluation.strategies[['identity', 'diagonal', 'kfac', 'ekfac'].indexOf(name)]!;
      return Array.from({ length: q }, (_, i) => spearman(column(s.predictions, i), column(f, i)));
    };
    for (const p of paired) {
      const [a, b] = p.pair.split('-') as [string, string];
      const d = rho(a)
        .map((v, i) => v - rho(b)[i]!)
        .filter(Number.isFinite);
      expect(p.mean).toBeCloseTo(d.reduce((x, y) => x + y, 0) / d.length, 12);
      expect(p.verdict).toMatch(p.low > 0 || p.high < 0 ? /ahead/ : /not resolved/);
    }
    // The default scatter: EK-FAC (the bundle's own strategy), the first query; its points are Σ_subset influence of
    // the bundle's scores against the measured values.
    expect(await page.locator('evaluation-view').getAttribute('data-ready')).toBe(
      `ekfac|${bundle.manifest.rows!.query[0]!.id}`,
    );
    const points = await subsetPoints(page);
    const n = bundle.manifest.scores!.train;
    const influence = bundle.scores.influence!.data;
    expect(points).toHaveLength(m);
    points.forEach(([predicted, got], row) => {
      let sum = 0;
      for (let i = 0; i < n; i++) if (evaluation.subsetMask[row * n + i]) sum += influence[i]!;
      expect(predicted).toBeCloseTo(sum, 10);
      expect(got).toBe(f[row * q]);
    });
    expect(await page.locator('evaluation-view [data-subset-scatter] circle').count()).toBe(m);
    expect(await page.locator('evaluation-view tr[data-loo-pair]').count()).toBe(q * 2 * config.looPerQuery);
    await page.locator('results-workspace').screenshot({ path: `${SHOTS}/evaluation.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  test('a deep link restores strategy and query; the selects move the view and the link keeps it', async () => {
    const query = bundle.manifest.rows!.query[2]!.id;
    const { page } = await open(`?bundle=fixtures/micro-eval.iwb#view=evaluation&strategy=kfac&query=${query}`);
    await page.locator(`evaluation-view[data-ready="kfac|${query}"]`).waitFor({ timeout: 60_000 });
    expect(await page.locator('evaluation-view select[data-eval-strategy]').inputValue()).toBe('kfac');
    expect(await page.locator('evaluation-view [data-eval-query-id]').textContent()).toBe(query);
    const kfac = bundle.evaluation!.strategies.find((s) => s.strategy === 'kfac')!;
    const q = bundle.manifest.scores!.queries;
    const points = await subsetPoints(page);
    points.forEach(([predicted], row) => expect(predicted).toBe(kfac.predictions[row * q + 2]));
    await page.locator('evaluation-view select[data-eval-strategy]').selectOption('identity');
    await page.locator(`evaluation-view[data-ready="identity|${query}"]`).waitFor();
    expect(page.url()).toContain('strategy=identity');
    const link = (await page.locator('results-workspace [data-view-link]').getAttribute('href'))!;
    expect(link).toContain('view=evaluation');
    // The tab is keyboard reachable: from Evaluation, ArrowLeft moves to the previous view.
    await page.locator('results-workspace [role="tab"][data-tab="evaluation"]').focus();
    await page.keyboard.press('ArrowLeft');
    await page.locator('analyses-view').waitFor();
    await page.close();
  });
});

test('text from a hostile bundle stays text in the Evaluation view', async () => {
  const { page, errors } = await open('?bundle=fixtures/hostile-eval.iwb#view=evaluation');
  await page.locator('evaluation-view[data-ready]').waitFor({ timeout: 60_000 });
  expect(await page.locator('evaluation-view [data-eval-query-id]').textContent()).toBe(HOSTILE);
  expect(await page.locator('evaluation-view [data-protocol]').textContent()).toContain(HOSTILE);
  expect(await page.locator('evaluation-view img, evaluation-view script').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(errors).toEqual([]);
  await page.close();
});

/** The page's form set to a tiny evaluation: 8 examples, 2 queries, 4 subsets, 3 steps, identity and EK-FAC. */
async function fillForm(page: Page): Promise<void> {
  const form = page.locator('evaluation-panel form[data-eval-form]');
  for (const [name, value] of [
    ['train', '8'],
    ['queries', '2'],
    ['subsets', '4'],
    ['loo', '1'],
    ['steps', '3'],
  ])
    await form.locator(`input[name="${name}"]`).fill(value!);
  await form.locator('input[name="strategy-diagonal"]').uncheck();
  await form.locator('input[name="strategy-kfac"]').uncheck();
}

/** The finished evaluation as the page shows it: LDS rows and every subset point of both strategies. */
async function shown(page: Page) {
  await page.locator('evaluation-panel evaluation-view[data-ready]').waitFor({ timeout: 240_000 });
  return { lds: await ldsRows(page), points: await subsetPoints(page) };
}

test('an evaluation cancelled and reloaded resumes from IndexedDB, retrains only what is missing, same numbers', async () => {
  const held = await open('?demo=micro&evalHold=3');
  await fillForm(held.page);
  await held.page.locator('evaluation-panel button[data-eval-start]').click();
  // The hold waits after the third retrain is stored: wait for that record in IndexedDB, whatever the speed.
  const stored = () =>
    held.page.evaluate(
      () =>
        new Promise<boolean>((resolve) => {
          const request = indexedDB.open('influence-workbench');
          // Never create the database here (the worker's open would then find a version without its stores).
          request.onupgradeneeded = () => request.transaction!.abort();
          request.onsuccess = () => {
            const db = request.result;
            if (!db.objectStoreNames.contains('checkpoints')) return resolve(db.close() ?? false);
            const all = db.transaction('checkpoints').objectStore('checkpoints').getAll();
            all.onsuccess = () => {
              db.close();
              resolve(all.result.some((c) => c.stage === 'evaluation' && c.chunkIndex === 3));
            };
            all.onerror = () => resolve(false);
          };
          request.onerror = () => resolve(false);
        }),
    );
  await expect.poll(stored, { timeout: 240_000, interval: 250 }).toBe(true);
  // Cancel: the evaluation stops, keeps its retrains and is offered for resume; then a reload, which must keep it too.
  await held.page.locator('evaluation-panel button[data-eval-cancel]').click();
  expect(await held.page.locator('evaluation-panel [data-eval-stopped]').textContent()).toContain('cancelled');
  await held.page.locator('evaluation-panel [data-eval-pending] button[data-eval-resume]').waitFor();
  await held.page.reload();
  const resume = held.page.locator('evaluation-panel [data-eval-pending] button[data-eval-resume]');
  await resume.waitFor({ timeout: 60_000 });
  expect(await held.page.locator('evaluation-panel [data-eval-pending]').textContent()).toContain('3 retrains saved');
  await resume.click();
  const resumed = await shown(held.page);
  const done = held.page.locator('evaluation-panel [data-eval-done]');
  // 4 subsets, the full set and the LOO examples: only the 3 stored retrains were not run again.
  expect(Number(await done.getAttribute('data-eval-resumed'))).toBe(3);
  const total = Number(await done.getAttribute('data-eval-total'));
  expect(total).toBeGreaterThanOrEqual(4 + 1 + 2);
  expect(held.page.url()).toContain('view=evaluation');

  const fresh = await open('?demo=micro');
  await fillForm(fresh.page);
  await fresh.page.locator('evaluation-panel button[data-eval-start]').click();
  const uninterrupted = await shown(fresh.page);
  expect(Number(await fresh.page.locator('evaluation-panel [data-eval-done]').getAttribute('data-eval-resumed'))).toBe(
    0,
  );
  expect(resumed).toEqual(uninterrupted);
  expect(resumed.lds.map((r) => r.strategy)).toEqual(['identity', 'ekfac']);
  expect(resumed.points).toHaveLength(4);
  expect(held.errors).toEqual([]);
  expect(fresh.errors).toEqual([]);
});
