/**
 * `npm run bench:kernels [-- --out FILE] [--quick] [--full] [--no-eigh]`: the kernel benchmark in headless Chromium on
 * its WebGPU adapter. Every GPU median is over ≥ 5 timed runs after warm-up, except the d = 512 eigendecomposition,
 * which runs once (it takes minutes on SwiftShader) unless --full. A Vite dev server serves bench/kernels.html (no
 * build step); the page times our kernels against
 * onnxruntime-web's WebGPU EP on the same device (bench/kernels-page.ts); this script writes the JSON and prints a
 * table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import type { BenchConfig, BenchResult, CaseResult } from '../bench/kernels-page';
import { CHROMIUM_FLAGS, chromiumPath } from '../tests/helpers/browser';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench/kernels.json' },
    quick: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    'no-eigh': { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
  },
});

const runs = Number(args.runs);
if (!(runs >= 5))
  throw new Error(`--runs must be at least 5 (medians over fewer runs are not reported), got ${args.runs}`);
const dims = args.quick ? [64] : [128, 256, 512];
const config: BenchConfig = {
  covariance: dims.flatMap((d) => (args.quick ? [256] : [512, 2048]).map((tokens) => ({ d, tokens }))),
  rotation: dims.map((d) => ({ d, count: 2 })),
  eigh: args['no-eigh'] ? [] : dims.map((d) => ({ d, runs: d >= 512 && !args.full ? 1 : runs })),
  warmup: Number(args.warmup),
  runs,
  cpuRuns: 3,
};

// No HMR: an edit anywhere in the module graph (a shared checkout) would otherwise reload the page mid-run.
const server = await createServer({
  server: { port: 0, host: '127.0.0.1', strictPort: false, hmr: false, watch: null },
  logLevel: 'warn',
  cacheDir: 'node_modules/.vite-bench',
});
await server.listen();
const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS, headless: true });
try {
  const page = await browser.newPage();
  page.on('console', (message) => {
    if (message.text().startsWith('[bench]')) console.log(message.text());
    else if (message.type() === 'error') console.error(`page: ${message.text()}`);
  });
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${server.resolvedUrls!.local[0]}bench/kernels.html`);
  await page.waitForFunction(() => window.runKernelBench !== undefined, undefined, { timeout: 120_000 });
  const result = (await page.evaluate((c) => window.runKernelBench!(c), config)) as BenchResult;
  const cpu = cpus();
  const report = {
    date: new Date().toISOString(),
    machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length },
    ...result,
    targets: { covarianceRatio: 2.0, rotationRatio: 1.0 },
  };
  const out = resolve(args.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `\nadapter: ${result.adapter}${result.software ? ' (software)' : ''}; machine: ${report.machine.cpu}, ${report.machine.cores} cores`,
  );
  console.table(result.cases.map(row));
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}

function row(c: CaseResult): Record<string, string> {
  const fixed = (v: number | null | undefined, digits: number) =>
    v === null || v === undefined || Number.isNaN(v) ? '' : v.toFixed(digits);
  return {
    kernel: c.kernel,
    shape: Object.entries(c.shape)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
    'ours ms': fixed(c.ours.medianMs, 1),
    'ours GFLOP/s': fixed(c.ours.gflops, 3),
    'peer ms': fixed(c.peer?.medianMs, 1),
    'peer GFLOP/s': fixed(c.peer?.gflops, 3),
    ratio: fixed(c.ratio, 2),
    'cpu f64 ms': fixed(c.cpuFloat64Ms, 1),
    agreement: c.agreement === undefined ? '' : c.agreement.toExponential(1),
    accuracy: c.accuracy
      ? Object.entries(c.accuracy)
          .map(([k, v]) => `${k}=${v.toPrecision(2)}`)
          .join(' ')
      : (c.note ?? ''),
  };
}
