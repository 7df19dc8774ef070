/**
 * The Evidence panel on a small fixture record (tests/fixtures/groups/record.json, 2 seeds of the real command at toy
 * size): one row per group × arm × benchmark with the predicted change and the mean actual change over seeds as the
 * record gives them, a scatter per benchmark with the record's headline figures, and a damaged record refused with
 * one message naming the field. The panel marks itself data-status once it has read its records.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { formatChange, readGroupEvidence } from '../../src/ui/evidence/group-evidence-data';
import { CHROMIUM_FLAGS, chromiumPath } from '../helpers/browser';

const report = readGroupEvidence(JSON.parse(readFileSync('tests/fixtures/groups/record.json', 'utf8')));
let server: ViteDevServer;
let browser: Browser;
let page: Page;
const errors: string[] = [];

// The test page is served by a Vite dev server of its own (no build needed; its dependency cache in the temp dir).
beforeAll(async () => {
  server = await createServer({
    server: { port: 0, host: '127.0.0.1', strictPort: false },
    logLevel: 'warn',
    cacheDir: path.join(tmpdir(), 'iwb-vite-e2e-group-evidence'),
  });
  await server.listen();
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS, headless: true });
  page = await browser.newPage();
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // A missing resource is reported below with its URL (the dev server has no favicon for test pages).
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      errors.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico'))
      errors.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  await page.goto(`${server.resolvedUrls!.local[0]}tests/e2e/pages/group-evidence.html`);
  await page.waitForSelector('#good group-evidence-panel[data-status="ready"]', { timeout: 60_000 });
  await page.waitForSelector('#damaged group-evidence-panel[data-status="error"]', { timeout: 60_000 });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test('every group × arm × benchmark, its prediction and its actual change over seeds as the record has them', async () => {
  const rows = await page.$$eval('#good group-evidence-panel >>> table[data-evidence] tr[data-point]', (trs) =>
    trs.map((tr) => ({
      key: `${(tr as HTMLElement).dataset.benchmark} ${(tr as HTMLElement).dataset.group} ${(tr as HTMLElement).dataset.arm}`,
      predicted: tr.querySelector('[data-field="predicted"]')!.textContent!.trim(),
      actual: tr.querySelector('[data-field="actual"]')!.textContent!.trim(),
      seeds: tr.querySelector('[data-field="seeds"]')!.textContent!.trim(),
    })),
  );
  expect(rows).toHaveLength(report.points.length);
  expect(report.points.length).toBe(24);
  for (const p of report.points) {
    const row = rows.find((r) => r.key === `${p.benchmark} ${p.group} ${p.arm}`)!;
    expect(row.predicted).toBe(formatChange(p.predicted));
    expect(row.actual).toBe(formatChange(p.actual));
    expect(row.seeds).toBe(String(report.seeds));
  }
  expect(errors).toEqual([]);
});

test('a scatter per benchmark with the record’s slope, sign accuracy and group-LDS', async () => {
  for (const b of report.benchmarks) {
    expect(await page.locator(`#good group-evidence-panel figure[data-benchmark="${b}"] svg`).count()).toBeGreaterThan(
      0,
    );
    const text = await page.textContent(`#good group-evidence-panel figcaption[data-headline="${b}"]`);
    const headline = text!.replace(/\s+/g, ' ');
    const e = report.evidence[b]!;
    expect(headline).toContain(
      `${formatChange(e.slopeThroughOrigin.value)} [${formatChange(e.slopeThroughOrigin.low)}`,
    );
    expect(headline).toContain(`Sign accuracy ${formatChange(e.signAccuracy.value)}`);
    expect(headline).toContain(`Group-LDS ${formatChange(e.groupLds.value)}`);
  }
});

test('a damaged record gives one message naming the field', async () => {
  expect(await page.textContent('#damaged group-evidence-panel >>> [data-error]')).toBe(
    'group evidence record: evidence.MBPP.slope is not an object',
  );
});
