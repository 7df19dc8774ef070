/**
 * `npm run bench:ui [-- --out FILE] [--queries 400] [--train 2972] [--min-tokens 8] [--max-tokens 24] [--repeats 3]`:
 * the results workspace at the full demo's size, in headless Chromium on the built page (run `npm run build` first).
 * A synthetic bundle of that shape (scripts/workspace-bundle.ts; per-token scores; training example 0 is 2,000 tokens
 * long) is opened through ?bundle=; then, with its results already in the worker, each view's first paint is timed
 * in the page (from the hash change to the first animation frame after the view marks itself ready, so rAF granularity
 * ~16 ms), and the ranked list is scrolled for 180 frames to time its frames. JSON out; a benchmark, not a test:
 * the figures depend on the machine and its load, which are recorded with them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { servePage } from '../tests/helpers/browser';
import { syntheticBundle } from './workspace-bundle';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench/ui.json' },
    queries: { type: 'string', default: '400' },
    train: { type: 'string', default: '2972' },
    'min-tokens': { type: 'string', default: '8' },
    'max-tokens': { type: 'string', default: '24' },
    repeats: { type: 'string', default: '3' },
  },
});
const shape = {
  queries: Number(args.queries),
  train: Number(args.train),
  tokens: [Number(args['min-tokens']), Number(args['max-tokens'])] as const,
  firstTokens: 2000,
};
const repeats = Number(args.repeats);
const loadBefore = loadavg()[0]!;
const started = performance.now();
const bytes = await syntheticBundle(shape, 'F32');
const encodeSeconds = (performance.now() - started) / 1000;
console.log(
  `bundle: ${shape.queries} queries × ${shape.train} training examples, ${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB (made in ${encodeSeconds.toFixed(1)} s)`,
);

// A plain HTTP server on another port (a cross-origin ?bundle= link, as a user's would be); Playwright's
// route.fulfill cannot carry a body this size through the DevTools protocol.
const files = createServer((request, response) => {
  if (request.url !== '/ui.iwb') return void response.writeHead(404).end();
  response.writeHead(200, {
    'content-type': 'application/octet-stream',
    'access-control-allow-origin': '*',
    'content-length': bytes.byteLength,
  });
  response.end(bytes);
});
await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
const bundleUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/ui.iwb`;
const served = await servePage();
const context = await served.browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.on('crash', () => console.error('the page crashed (out of memory?)'));
page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
page.on('console', (message) => message.type() === 'error' && console.error(`console: ${message.text()}`));
const chromium = served.browser.version();

/**
 * In-page code as text: tsx (esbuild keepNames) would wrap named functions in a `__name` helper the page lacks.
 * Set the hash, then wait for an element `tag` with data-ready = `ready` (through shadow roots) and one more frame.
 */
const FIRST_PAINT = `async ({ hash, tag, ready }) => {
  function find(root) {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName.toLowerCase() === tag && el.getAttribute('data-ready') === ready) return el;
      if (el.shadowRoot) {
        const found = find(el.shadowRoot);
        if (found) return found;
      }
    }
    return null;
  }
  function frame() { return new Promise((resolve) => requestAnimationFrame(resolve)); }
  const t0 = performance.now();
  location.hash = hash;
  for (;;) {
    await frame();
    if (find(document)) break;
  }
  await frame();
  return performance.now() - t0;
}`;

async function firstPaint(page: Page, hash: string, tag: string, ready: string): Promise<number> {
  return page.evaluate(`(${FIRST_PAINT})(${JSON.stringify({ hash, tag, ready })})`) as Promise<number>;
}

const SCROLL = `async (list) => {
  function frame() { return new Promise((resolve) => requestAnimationFrame(resolve)); }
  const frames = [];
  let last = await frame();
  for (let i = 0; i < 180; i++) {
    list.scrollTop += 400;
    const now = await frame();
    frames.push(now - last);
    last = now;
  }
  frames.sort((a, b) => a - b);
  const at = (p) => frames[Math.min(frames.length - 1, Math.floor(p * frames.length))];
  return { frames: frames.length, pixelsPerFrame: 400, medianMs: at(0.5), p95Ms: at(0.95), maxMs: frames[frames.length - 1],
    over33Ms: frames.filter((f) => f > 33.4).length, scrolledTo: list.scrollTop };
}`;

const openStart = performance.now();
await page.goto(`${served.url}?bundle=${encodeURIComponent(bundleUrl)}`);
await page.locator('overview-view[data-ready="none"]').waitFor({ timeout: 1_800_000 });
const openSeconds = (performance.now() - openStart) / 1000;
console.log(`import + open + overview: ${openSeconds.toFixed(1)} s`);

const cases: { view: string; hash: (i: number) => string; tag: string; ready: (i: number) => string }[] = [
  {
    view: 'overview (÷ √self-influence)',
    hash: (i) => `#norm=self-influence&r=${i}`,
    tag: 'overview-view',
    ready: () => 'self-influence',
  },
  {
    view: 'query (ranking of all training examples)',
    hash: (i) => `#view=query&query=q${(10 + i) % shape.queries}`,
    tag: 'query-view',
    ready: (i) => `q${(10 + i) % shape.queries}|none|shown`,
  },
  {
    view: 'training example (2,000-token heatmap)',
    hash: (i) => `#view=example&example=t0&target=query:q${(20 + i) % shape.queries}`,
    tag: 'example-view',
    ready: (i) => `t0|query:q${(20 + i) % shape.queries}`,
  },
  {
    view: 'training example (short)',
    hash: (i) => `#view=example&example=t${5 + i}&target=benchmark:gsm8k`,
    tag: 'example-view',
    ready: (i) => `t${5 + i}|benchmark:gsm8k`,
  },
  { view: 'sequences and tokens', hash: () => '#view=analyses', tag: 'analyses-view', ready: () => '' },
];
const views: { view: string; firstPaintMs: number[] }[] = [];
for (const c of cases) {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    // Leave the view first, so each repeat is a first paint (the analyses are recomputed per visit too).
    await firstPaint(page, '#view=overview', 'overview-view', 'none');
    times.push(await firstPaint(page, c.hash(i), c.tag, c.ready(i)));
  }
  views.push({ view: c.view, firstPaintMs: times.map((t) => Math.round(t)) });
  console.log(`${c.view}: first paint ${times.map((t) => `${t.toFixed(0)} ms`).join(', ')}`);
}

await firstPaint(page, '#view=query&query=q3', 'query-view', 'q3|none|shown');
await page.locator('query-view lit-virtualizer').scrollIntoViewIfNeeded();
await page.locator('query-view [data-row][data-rank="1"]').waitFor();
// See FIRST_PAINT: the page gets plain text.
const scrollInPage = new Function('list', `return (${SCROLL})(list);`) as (list: Element) => Promise<unknown>;
const scroll = (await page.locator('query-view lit-virtualizer').evaluate(scrollInPage)) as {
  frames: number;
  pixelsPerFrame: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
  over33Ms: number;
  scrolledTo: number;
};
console.log(
  `ranked list scroll: median ${scroll.medianMs.toFixed(1)} ms, p95 ${scroll.p95Ms.toFixed(1)} ms, max ${scroll.maxMs.toFixed(1)} ms per frame, ${scroll.over33Ms} of ${scroll.frames} frames over 33 ms`,
);
await served.close();
files.close();

const report = {
  date: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadavg1Before: loadBefore,
    loadavg1After: loadavg()[0]!,
  },
  browser: `headless Chromium ${chromium}`,
  bundle: { ...shape, mib: bytes.byteLength / 2 ** 20, scoreDtype: 'F32' },
  importOpenOverviewSeconds: openSeconds,
  views,
  scroll,
};
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${args.out}`);
