/**
 * The workspace's "After the answer" view on the built page, in headless Chromium, on the committed run of the
 * after-answer variant (tests/fixtures/sequences/run.iwb, made by `npm run experiment:sequences -- --per-group 3
 * --queries 2 --strategy identity`) opened through ?bundle=<url>: every group and difference in its table equals the
 * experiment's statistics (src/eval/segment-effects.ts) computed here in Node from the same bundle; the charts are
 * drawn; the benchmark choice is in the link and a deep link restores it. Screenshot: test-results/workspace/.
 */
import { mkdirSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { carriesAfterSegment, SEGMENT_SEED, segmentEffects, segmentSums } from '../../src/eval/segment-effects';
import { decodeBundle } from '../../src/store/bundle';
import { openInContext, servePage, type Served } from '../helpers/browser';
import { resultOfBundle } from '../helpers/bundle-result';
import { readFixture } from '../helpers/fixtures';

const SHOTS = 'test-results/workspace';
const bytes = readFixture('sequences/run.iwb');
let served: Served;
let context: BrowserContext;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  served = await servePage();
  context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 900 } });
  await context.route('**/fixtures/after.iwb', (route) =>
    route.fulfill({ body: bytes, contentType: 'application/octet-stream' }),
  );
});
afterAll(async () => {
  await served?.close();
});

async function open(path: string): Promise<{ page: Page; errors: string[] }> {
  const { page, errors } = await openInContext(context, served, path);
  await page.locator('after-answer-view[data-ready]').waitFor({ timeout: 60_000 });
  return { page, errors };
}

function closeTo(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected)));
}

test('the table shows the experiment’s groups and differences for every benchmark and domain', async () => {
  const result = resultOfBundle(await decodeBundle(bytes));
  const carriers = new Set(result.train.filter(carriesAfterSegment).map((e) => e.id));
  const effects = segmentEffects(
    segmentSums(result, (id) => carriers.has(id)),
    SEGMENT_SEED,
  );
  const { page, errors } = await open('?bundle=fixtures/after.iwb#view=after');
  expect(await page.locator('results-workspace [role="tab"][aria-selected="true"]').textContent()).toBe(
    'After the answer',
  );
  expect(await page.locator('after-answer-view [data-after-counts]').textContent()).toContain(
    'math: 3 with, 3 without · code: 3 with, 3 without',
  );
  expect(await page.locator('after-answer-view table[data-after-table]').count()).toBe(effects.length);
  for (const e of effects) {
    const key = `${e.benchmark}|${e.domain}`;
    const rows = [
      ...e.groups.map((g) => ({ ...g, name: g.group })),
      ...e.differences.map((d) => ({ ...d, name: d.comparison })),
    ];
    expect(await page.locator(`after-answer-view table[data-after-table="${key}"] tbody tr`).count()).toBe(rows.length);
    for (const row of rows) {
      const tr = page.locator(`after-answer-view tr[data-effect="${key}|${row.name}"]`);
      for (const field of ['mean', 'low', 'high'] as const)
        closeTo(Number(await tr.getAttribute(`data-${field}`)), row[field]);
      expect(await tr.locator('td').first().textContent()).toContain(row.name);
      // One verdict per row: the sign where the interval excludes 0 (n ≥ 2), else "not resolved at n = <its n>".
      const said = await tr.locator('td[data-verdict]').textContent();
      const sure = row.count >= 2 && (row.low > 0 || row.high < 0);
      if (sure) expect(said).not.toContain('not resolved');
      else expect(said).toBe(`not resolved at n = ${row.count}`);
      if ('group' in row && sure) expect(said).toBe(row.low > 0 ? 'helps' : 'harms');
    }
  }
  // One dot per difference and per group, each at its mean (the charts' own marks, not the table).
  const dots = (marker: string) => page.locator(`after-answer-view [${marker}] svg circle`).count();
  expect(await dots('data-difference-chart')).toBe(effects.reduce((n, e) => n + e.differences.length, 0));
  expect(await dots('data-group-chart')).toBe(effects.reduce((n, e) => n + e.groups.length, 0));
  await page.locator('results-workspace').screenshot({ path: `${SHOTS}/after-answer.png` });
  expect(errors).toEqual([]);
  await page.close();
});

test('the benchmark choice goes into the link, and the link restores it', async () => {
  const { page } = await open('?bundle=fixtures/after.iwb#view=after');
  await page.locator('after-answer-view select[data-after-benchmark]').selectOption('code');
  await expect
    .poll(() =>
      page
        .locator('after-answer-view table[data-after-table]')
        .evaluateAll((t) => t.map((x) => x.getAttribute('data-after-table'))),
    )
    .toEqual(['code|math', 'code|code']);
  const hash = new URL(page.url()).hash;
  expect(hash).toContain('view=after');
  expect(hash).toContain('benchmark=code');
  await page.close();
  const linked = await open(`?bundle=fixtures/after.iwb${hash}`);
  expect(await linked.page.locator('after-answer-view select[data-after-benchmark]').inputValue()).toBe('code');
  expect(await linked.page.locator('after-answer-view table[data-after-table]').count()).toBe(2);
  await linked.page.locator('results-workspace').screenshot({ path: `${SHOTS}/after-answer-code.png` });
  await linked.page.close();
});
