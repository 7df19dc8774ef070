/**
 * The experiments page (experiments.html) shows the committed reweighting result: every arm × benchmark row of
 * public/experiments/reweighting.json with its numbers as the file has them, the rule, the boosted cells, both
 * plots, and the link from the workbench's header. The page marks itself data-status="ready" once it has read the
 * file; the test waits for that, never for a transient.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readFlip } from '../../src/ui/experiments/flip-data';
import { formatValue, readReweighting } from '../../src/ui/experiments/reweighting-data';
import { openPage, servePage, type Served } from '../helpers/browser';

const flip = readFlip(JSON.parse(readFileSync('public/experiments/flip.json', 'utf8')));
const report = readReweighting(JSON.parse(readFileSync('public/experiments/reweighting.json', 'utf8')));
let served: Served;
let page: Page;
let errors: string[];

beforeAll(async () => {
  served = await servePage();
  ({ page, errors } = await openPage(served, 'experiments.html'));
  await page.waitForSelector('reweighting-view[data-status="ready"]', { timeout: 60_000 });
  await page.waitForSelector('flip-view[data-status="ready"]', { timeout: 60_000 });
});
afterAll(async () => {
  await served?.close();
});

test('every arm and benchmark of the JSON, with its mean, interval and difference to the original', async () => {
  const rows = await page.$$eval('reweighting-view >>> table[data-arms] tbody tr', (trs) =>
    trs.map((tr) => ({
      arm: (tr as HTMLElement).dataset.arm,
      benchmark: (tr as HTMLElement).dataset.benchmark,
      cells: Object.fromEntries(
        Array.from(tr.querySelectorAll('td[data-field]'), (td) => [
          (td as HTMLElement).dataset.field,
          td.textContent!.trim(),
        ]),
      ),
    })),
  );
  expect(rows).toHaveLength(report.summary.length);
  for (const s of report.summary) {
    const row = rows.find((r) => r.arm === s.arm && r.benchmark === s.benchmark)!;
    expect(row.cells.mean).toBe(formatValue(s.logLikelihood.mean));
    expect(row.cells.interval).toBe(`[${formatValue(s.logLikelihood.low)}, ${formatValue(s.logLikelihood.high)}]`);
    expect(row.cells.diff).toBe(s.vsOriginal ? formatValue(s.vsOriginal.mean) : '–');
  }
  expect(errors).toEqual([]);
});

test('the rule, the boosted cells with their weights, and both plots', async () => {
  const rule = await page.textContent('reweighting-view >>> p[data-rule]');
  expect(rule).toContain(report.rule.text);
  const boosted = await page.$$eval('reweighting-view >>> table[data-cells] tr.boosted', (trs) =>
    trs.map((tr) => (tr as HTMLElement).dataset.cell),
  );
  expect(boosted).toEqual(report.cells.filter((c) => c.boosted).map((c) => `${c.domain}/${c.difficulty}`));
  for (const plot of ['absolute', 'relative'])
    expect(await page.locator(`figure[data-plot="${plot}"] svg`).count()).toBeGreaterThan(0);
});

test('the flip section: the pre-registered primary comparison, every paired comparison and the plot', async () => {
  const primary = flip.comparisons.find(
    (c) => c.a === 'flip' && c.b === 'random' && c.group === 'all' && c.metric === 'accuracy',
  )!;
  const text = await page.textContent('flip-view >>> p[data-primary]');
  expect(text).toContain(flip.primaryText);
  expect(text).toContain(formatValue(primary.interval.mean, 3));
  const rows = await page.$$eval('flip-view >>> table[data-comparisons] tbody tr', (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent!.trim())),
  );
  expect(rows).toHaveLength(flip.comparisons.length);
  flip.comparisons.forEach((c, i) => {
    expect(rows[i]![4]).toBe(formatValue(c.interval.mean, 4));
    expect(rows[i]![5]).toBe(`[${formatValue(c.interval.low, 4)}, ${formatValue(c.interval.high, 4)}]`);
  });
  expect(await page.locator('figure[data-plot="paired"] svg').count()).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});

test('the workbench header links to the experiments page', async () => {
  const { page: main } = await openPage(served, '');
  await main.waitForSelector('a[href="./experiments.html"]', { timeout: 60_000 });
  await main.close();
});
