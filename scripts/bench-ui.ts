/**
 * `npm run bench:ui [-- --out FILE] [--queries 400] [--train 2972] [--min-tokens 8] [--max-tokens 24] [--repeats 3]
 * [--profile]`:
 * the results workspace at the full demo's size, in headless Chromium on the built page (run `npm run build` first).
 * A synthetic bundle of that shape (scripts/workspace-bundle.ts; per-token scores; training example 0 is 2,000 tokens
 * long) is opened through ?bundle=; then, with its results already in the worker, each view's first paint is timed
 * in the page (from the hash change to the first animation frame after the view marks itself ready, so rAF granularity
 * ~16 ms), and the ranked list is scrolled for 180 frames to time its frames. JSON out; a benchmark, not a test:
 * the figures depend on the machine and its load, which are recorded with them, with each visit's main-thread busy
 * time (CDP Performance metrics; it includes the bench's own polling for the ready view).
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
    /** Also record the page's main-thread CPU profile of each visit and print its heaviest functions. */
    profile: { type: 'boolean', default: false },
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
const FIRST_PAINT = `async ({ hash, tag, ready, complete }) => {
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
  const first = performance.now() - t0;
  if (!complete) return { first, all: first };
  for (;;) {
    const view = find(document);
    if (view && view.shadowRoot.querySelector(complete)) break;
    await frame();
  }
  await frame();
  return { first, all: performance.now() - t0 };
}`;

/** Milliseconds to the first paint, and to the paint with everything drawn (`complete` matches in the view). */
async function paints(
  page: Page,
  hash: string,
  tag: string,
  ready: string,
  complete?: string,
): Promise<{ first: number; all: number }> {
  const args = JSON.stringify({ hash, tag, ready, complete: complete ?? null });
  return page.evaluate(`(${FIRST_PAINT})(${args})`) as Promise<{ first: number; all: number }>;
}

async function firstPaint(page: Page, hash: string, tag: string, ready: string): Promise<number> {
  return (await paints(page, hash, tag, ready)).first;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

/** The heaviest functions of a V8 CPU profile by self time (samples × interval), as "name (file:line) ms". */
function heaviest(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, top = 8): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const file = frame.url.split('/').pop() || '(native)';
    const key = `${frame.functionName || '(anonymous)'} (${file}:${frame.lineNumber + 1})`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...self]
    .filter(([key]) => !key.startsWith('(idle)') && !key.startsWith('(program)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, ms]) => `${key} ${ms.toFixed(1)} ms`);
}

async function profiled<T>(page: Page, run: () => Promise<T>): Promise<{ value: T; top: string[] }> {
  if (!args.profile) return { value: await run(), top: [] };
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const value = await run();
  const { profile } = await cdp.send('Profiler.stop');
  await cdp.detach();
  return { value, top: heaviest(profile as Parameters<typeof heaviest>[0]) };
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

const cases: {
  view: string;
  hash: (i: number) => string;
  tag: string;
  ready: (i: number) => string;
  /** In the view's shadow root once everything is drawn (the heatmap appends tokens past the first screen later). */
  complete?: string;
}[] = [
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
    complete: '[data-heatmap][data-complete]',
  },
  {
    view: 'training example (short)',
    hash: (i) => `#view=example&example=t${5 + i}&target=benchmark:gsm8k`,
    tag: 'example-view',
    ready: (i) => `t${5 + i}|benchmark:gsm8k`,
  },
  { view: 'sequences and tokens', hash: () => '#view=analyses', tag: 'analyses-view', ready: () => '' },
];
/**
 * The page's main-thread busy time (CDP Performance metrics: TaskDuration, of which script, style and layout) over a
 * visit: CPU time the visit cost the page's thread, far less sensitive to the machine's load than the wall time.
 */
const metrics = await context.newCDPSession(page);
await metrics.send('Performance.enable');
async function mainThread(): Promise<Record<string, number>> {
  const { metrics: list } = await metrics.send('Performance.getMetrics');
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}
const BUSY = ['TaskDuration', 'ScriptDuration', 'RecalcStyleDuration', 'LayoutDuration'] as const;

const views: {
  view: string;
  firstPaintMs: number[];
  allDrawnMs?: number[];
  /** Per visit, the main thread's busy milliseconds until the end of the visit (everything drawn). */
  mainThreadMs: Record<(typeof BUSY)[number], number>[];
}[] = [];
for (const c of cases) {
  const times: { first: number; all: number }[] = [];
  const busy: Record<(typeof BUSY)[number], number>[] = [];
  for (let i = 0; i < repeats; i++) {
    // Leave the view first, so each repeat is a first paint (the worker caches what it computed, as for a user).
    await firstPaint(page, '#view=overview', 'overview-view', 'none');
    const before = await mainThread();
    const { value, top } = await profiled(page, () => paints(page, c.hash(i), c.tag, c.ready(i), c.complete));
    const after = await mainThread();
    busy.push(
      Object.fromEntries(BUSY.map((k) => [k, Math.round((after[k]! - before[k]!) * 1000)])) as (typeof busy)[number],
    );
    times.push(value);
    if (top.length > 0) console.log(`  ${c.view} #${i + 1}, main thread self time:\n    ${top.join('\n    ')}`);
  }
  const ms = (pick: (t: { first: number; all: number }) => number) => times.map((t) => Math.round(pick(t)));
  views.push({
    view: c.view,
    firstPaintMs: ms((t) => t.first),
    ...(c.complete ? { allDrawnMs: ms((t) => t.all) } : {}),
    mainThreadMs: busy,
  });
  const all = c.complete ? `; everything drawn ${ms((t) => t.all).join(', ')} ms` : '';
  const cpu = busy.map((b) => b.TaskDuration).join(', ');
  console.log(`${c.view}: first paint ${ms((t) => t.first).join(', ')} ms${all}; main thread busy ${cpu} ms`);
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
