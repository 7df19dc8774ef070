/**
 * The results workspace on the built page, in headless Chromium, on the committed synthetic bundles
 * (tests/fixtures/workspace, made by scripts/workspace-bundle.ts) opened through ?bundle=<url>: the heat table's
 * cells equal the engine's aggregation computed here in Node from the same bundle; the heatmap's values equal the
 * bundle's per-token scores; deep links restore each view; a hostile bundle's text stays text; a bad URL says why.
 * Screenshots of every view go to test-results/workspace/ (look at them).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { crossDomainTable, segmentSummary } from '../../src/influence/aggregate';
import { scoreView, type Normalization } from '../../src/influence/normalize';
import { decodeBundle, type Bundle } from '../../src/store/bundle';
import { openInContext, servePage, type Served } from '../helpers/browser';
import { resultOfBundle } from '../helpers/bundle-result';

const SHOTS = 'test-results/workspace';
const small = readFileSync('tests/fixtures/workspace/small.iwb');
const hostile = readFileSync('tests/fixtures/workspace/hostile.iwb');
let served: Served;
let context: BrowserContext;
let bundle: Bundle;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  bundle = await decodeBundle(small);
  served = await servePage();
  // Service workers off here, so the fixtures' routes below see every request (the offline test turns them on).
  context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 900 } });
  await context.route('**/fixtures/small.iwb', (route) =>
    route.fulfill({ body: small, contentType: 'application/octet-stream' }),
  );
  await context.route('**/fixtures/hostile.iwb', (route) =>
    route.fulfill({ body: hostile, contentType: 'application/octet-stream' }),
  );
  await context.route('**/fixtures/missing.iwb', (route) => route.fulfill({ status: 404, body: 'not here' }));
  await context.route('**/fixtures/page.iwb', (route) =>
    route.fulfill({ body: '<!doctype html><p>hello</p>', contentType: 'text/html' }),
  );
});
afterAll(async () => {
  await served?.close();
});

async function open(path: string): Promise<{ page: Page; errors: string[] }> {
  return openInContext(context, served, path);
}

function closeTo(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected)));
}

describe('workspace on a bundle opened by URL', () => {
  test.each(['none', 'self-influence', 'token-count'] as Normalization[])(
    'the heat table equals crossDomainTable (%s)',
    async (norm) => {
      const { page, errors } = await open(`?bundle=fixtures/small.iwb${norm === 'none' ? '' : `#norm=${norm}`}`);
      await page.locator(`overview-view[data-ready="${norm}"]`).waitFor({ timeout: 60_000 });
      const cells = await page.locator('overview-view td[data-cell]').evaluateAll((tds) =>
        tds.map((td) => ({
          benchmark: td.getAttribute('data-benchmark'),
          domain: td.getAttribute('data-domain'),
          difficulty: td.getAttribute('data-difficulty'),
          mean: Number(td.getAttribute('data-mean')),
          sum: Number(td.getAttribute('data-sum')),
          count: Number(td.getAttribute('data-count')),
          low: Number(td.getAttribute('data-low')),
          high: Number(td.getAttribute('data-high')),
          resolved: td.getAttribute('data-resolved'),
          ns: td.querySelector('[data-ns]') !== null,
        })),
      );
      const result = resultOfBundle(bundle);
      const expected = crossDomainTable(scoreView(result, norm), result.queries, result.train);
      expect(cells.length).toBe(expected.length);
      // Reading order as the engine gives it (easy → medium → hard), row by row.
      const key = (c: { benchmark: string | null; domain: string | null; difficulty: string | null }) =>
        `${c.benchmark}/${c.domain}/${c.difficulty}`;
      expect(cells.map(key)).toEqual(expected.map(key));
      // An interval that spans 0 is marked unresolved (muted, "n.s."); one that excludes 0 is coloured.
      for (const c of cells) {
        const sure = c.count >= 2 && (c.low > 0 || c.high < 0);
        expect([c.resolved, c.ns]).toEqual([String(sure), !sure]);
      }
      const resolvedCount = cells.filter((c) => c.resolved === 'true').length;
      expect(await page.locator('overview-view [data-resolution]').getAttribute('data-resolution')).toBe(
        `${resolvedCount}/${cells.length}`,
      );
      for (const want of expected) {
        const got = cells.find(
          (c) => c.benchmark === want.benchmark && c.domain === want.domain && c.difficulty === want.difficulty,
        )!;
        expect(got).toBeDefined();
        closeTo(got.mean, want.mean);
        closeTo(got.sum, want.mean * want.trainCount);
        expect(got.count).toBe(want.trainCount);
        expect(got.low).toBeLessThanOrEqual(got.mean);
        expect(got.high).toBeGreaterThanOrEqual(got.mean);
      }
      expect(await page.locator('overview-view figure[data-histogram]').count()).toBe(2);
      expect(await page.locator('overview-view [data-concentration] svg').count()).toBeGreaterThan(0);
      if (norm === 'none') await page.locator('results-workspace').screenshot({ path: `${SHOTS}/overview.png` });
      expect(errors).toEqual([]);
      await page.close();
    },
  );

  test('the heatmap shows the bundle per-token scores of the example, credited to the predicted token', async () => {
    const { page } = await open('?bundle=fixtures/small.iwb#view=example&example=t5&target=benchmark:gsm8k');
    await page.locator('example-view[data-ready="t5|benchmark:gsm8k"]').waitFor({ timeout: 60_000 });
    // Tokens past the first screen are appended after the first paint; the heatmap says when all are there.
    await page.locator('example-view [data-heatmap][data-complete]').waitFor({ timeout: 60_000 });
    const spans = await page
      .locator('example-view [data-heatmap] span[data-t]')
      .evaluateAll((nodes) => nodes.map((n) => ({ text: n.textContent, value: Number(n.getAttribute('data-value')) })));
    const rows = bundle.manifest.rows!;
    const n = rows.train.findIndex((r) => r.id === 't5');
    const { offsets, values } = bundle.scores.tauPerToken!;
    const total = values.shape[1]!;
    const counts = bundle.scores.queryTargetCounts!.data;
    const gsm8k = rows.query.flatMap((q, i) => (q.benchmark === 'gsm8k' ? [i] : []));
    const length = offsets[n + 1]! - offsets[n]!;
    expect(spans.map((s) => s.text)).toEqual(rows.train[n]!.tokens);
    for (let t = 0; t < length; t++) {
      // Position t's score is the loss of predicting token t + 1, so token t + 1 carries it; token 0 carries none.
      const position = t - 1;
      const want =
        position < 0
          ? 0
          : gsm8k.reduce((sum, q) => sum + values.data[q * total + offsets[n]! + position]! / counts[q]!, 0) /
            gsm8k.length;
      closeTo(spans[t]!.value, want);
    }
    const segmentSums = await page
      .locator('example-view [data-segments] tr[data-segment] td[data-sum]')
      .evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-sum'))));
    const tokenSum = spans.reduce((sum, s) => sum + s.value, 0);
    closeTo(
      segmentSums.reduce((a, b) => a + b, 0),
      tokenSum,
    );
    await page.locator('example-view [data-heatmap]').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.locator('example-view [data-cursor]').textContent()).toContain('token 1');
    await page.locator('results-workspace').screenshot({ path: `${SHOTS}/example.png` });
    await page.close();
  });

  test('a query deep link restores the query, the normalisation and the sort; rows open the example view', async () => {
    const { page } = await open(
      '?bundle=fixtures/small.iwb#view=query&query=q3&norm=self-influence&sort=raw&domain=math',
    );
    await page.locator('query-view[data-ready="q3|self-influence|raw"]').waitFor({ timeout: 60_000 });
    expect(await page.locator('query-view [data-query-id]').textContent()).toBe('q3');
    expect(await page.locator('query-view select[data-norm]').inputValue()).toBe('self-influence');
    expect(await page.locator('query-view select[data-sort]').inputValue()).toBe('raw');
    expect(await page.locator('query-view [data-shown-label]').textContent()).toContain('÷ √self-influence');
    const link = (await page.locator('results-workspace [data-view-link]').getAttribute('href'))!;
    expect(link).toContain('bundle=fixtures');
    expect(link).toContain('query=q3');
    const result = resultOfBundle(bundle);
    const N = result.train.length;
    const raw = scoreView(result, 'none').values.subarray(3 * N, 4 * N);
    const shown = scoreView(result, 'self-influence').values.subarray(3 * N, 4 * N);
    const expected = result.train
      .map((t, i) => ({ id: t.id, i, domain: t.domain }))
      .filter((t) => t.domain === 'math')
      .sort((a, b) => raw[b.i]! - raw[a.i]! || a.i - b.i);
    // The virtualizer renders the rows in view: bring the list into view, then read the rows it rendered.
    await page.locator('query-view lit-virtualizer').scrollIntoViewIfNeeded();
    await page.locator('query-view [data-row][data-rank="1"]').waitFor({ timeout: 60_000 });
    const rows = await page
      .locator('query-view [data-row]')
      .evaluateAll((nodes) =>
        nodes.map(
          (n) =>
            [
              Number(n.getAttribute('data-rank')),
              n.getAttribute('data-train-id'),
              Number(n.getAttribute('data-score')),
            ] as const,
        ),
      );
    expect(rows.length).toBeGreaterThan(3);
    for (const [rank, id, score] of rows) {
      expect(id).toBe(expected[rank - 1]!.id);
      closeTo(score, shown[expected[rank - 1]!.i]!);
    }
    await page.locator('results-workspace').screenshot({ path: `${SHOTS}/query.png` });
    await page.locator('query-view [data-row]').first().click();
    await page.locator(`example-view[data-ready="${expected[0]!.id}|query:q3"]`).waitFor({ timeout: 60_000 });
    expect(new URL(page.url()).hash).toContain(`example=${expected[0]!.id}`);
    await page.reload();
    await page.locator(`example-view[data-ready="${expected[0]!.id}|query:q3"]`).waitFor({ timeout: 60_000 });
    await page.close();
  });

  test("the query's per-token loss shows the bundle's values; a bundle without them says not stored", async () => {
    const { page, errors } = await open('?bundle=fixtures/small.iwb#view=query&query=q3');
    await page.locator('query-view[data-ready="q3|none|shown"]').waitFor({ timeout: 60_000 });
    const row = bundle.manifest.rows!.query[3]!;
    const spans = await page
      .locator('query-view query-loss [data-query-loss] span[data-t]')
      .evaluateAll((nodes) => nodes.map((n) => ({ text: n.textContent, value: n.getAttribute('data-value') })));
    expect(spans.map((s) => s.text)).toEqual(row.tokens);
    expect(spans.map((s) => (s.value === 'NaN' ? null : Number(s.value)))).toEqual(row.tokenLoss);
    const measured = row.tokenLoss!.filter((l): l is number => l !== null);
    const summary = (await page.locator('query-view query-loss [data-loss-summary]').textContent())!;
    expect(summary.replace(/\s+/g, ' ')).toContain(
      `${measured.reduce((a, b) => a + b, 0).toFixed(4)} nats summed over ${measured.length} tokens`,
    );
    await page.locator('query-view query-loss [data-query-loss]').focus();
    await page.keyboard.press('End');
    const last = row.tokens!.length - 1;
    await expect
      .poll(() => page.locator('query-view query-loss [data-loss-cursor]').textContent())
      .toContain(`token ${last} ${JSON.stringify(row.tokens![last])}: loss ${row.tokenLoss![last]!.toFixed(4)} nats`);
    await page.locator('query-view').screenshot({ path: `${SHOTS}/query-loss.png` });
    expect(errors).toEqual([]);
    const old = await open('?bundle=fixtures/hostile.iwb#view=query');
    await old.page.locator('query-view[data-ready]').waitFor({ timeout: 60_000 });
    expect(await old.page.locator('query-view [data-loss-not-stored]').textContent()).toContain('not stored');
    expect(await old.page.locator('query-view query-loss').count()).toBe(0);
    await page.close();
    await old.page.close();
  });

  test('sequence and token analyses equal segmentSummary; tabs move with the arrow keys', async () => {
    const { page } = await open('?bundle=fixtures/small.iwb#view=analyses');
    await page.locator('analyses-view[data-ready]').waitFor({ timeout: 60_000 });
    const result = resultOfBundle(bundle);
    const gsm8k = result.queries.flatMap((q, i) => (q.benchmark === 'gsm8k' ? [i] : []));
    for (const group of segmentSummary(result, gsm8k)) {
      const mean = Number(
        await page
          .locator(`analyses-view table[data-table="segments"] tr[data-group="gsm8k|${group.label}"]`)
          .getAttribute('data-mean'),
      );
      closeTo(mean, group.mean);
    }
    expect(await page.locator('analyses-view [data-top-tokens]').count()).toBe(4);
    await page.locator('results-workspace').screenshot({ path: `${SHOTS}/analyses.png` });
    await page.locator('results-workspace [role="tab"][aria-selected="true"]').focus();
    await page.keyboard.press('ArrowLeft');
    await page.locator('example-view[data-ready]').waitFor({ timeout: 60_000 });
    expect(new URL(page.url()).hash).toContain('view=example');
    await page.close();
  });

  test("a hostile bundle's text stays text in every view", async () => {
    const { page, errors } = await open('?bundle=fixtures/hostile.iwb');
    await page.locator('overview-view[data-ready]').waitFor({ timeout: 60_000 });
    for (const view of ['query', 'example', 'analyses', 'after']) {
      await page.locator(`results-workspace [data-tab="${view}"]`).click();
      await page.locator(`${view === 'after' ? 'after-answer' : view}-view[data-ready]`).waitFor({ timeout: 60_000 });
      if (view === 'example') {
        expect(await page.locator('example-view [data-heatmap] span[data-t="1"]').textContent()).toContain('<script>');
      }
      if (view === 'query')
        expect(await page.locator('query-view [data-query-prompt]').textContent()).toContain('<img src=x');
      const injected = await page.evaluate(() => {
        const found: string[] = [];
        // Everything the page renders lives in shadow roots (the page's own scripts are in the document).
        const walk = (root: Document | ShadowRoot) =>
          root.querySelectorAll('*').forEach((el) => {
            if (root !== document && ['IMG', 'SCRIPT', 'B', 'I'].includes(el.tagName)) found.push(el.tagName);
            if (el.shadowRoot) walk(el.shadowRoot);
          });
        walk(document);
        return { found, pwned: (window as unknown as { __pwned?: number }).__pwned ?? null };
      });
      expect(injected).toEqual({ found: [], pwned: null });
    }
    expect(await page.locator('results-workspace [data-workspace-name]').textContent()).toContain('hostile');
    await page.locator('results-workspace').screenshot({ path: `${SHOTS}/hostile.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  test.each([
    ['fixtures/missing.iwb', 'HTTP 404'],
    ['fixtures/page.iwb', 'is not a bundle this workbench can open'],
    ['http://127.0.0.1:9/nothing.iwb', 'did not answer'],
  ])('?bundle=%s says why it cannot open', async (url, message) => {
    const { page } = await open(`?bundle=${encodeURIComponent(url)}`);
    const problem = page.locator('run-library [data-library-error]');
    await problem.waitFor({ timeout: 60_000 });
    expect(await problem.textContent()).toContain(message);
    await page.close();
  });
});
