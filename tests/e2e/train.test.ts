/**
 * The training worker in headless Chromium (tests/e2e/pages/train.ts) against trainCausalLm in this Node process:
 * a tiny GPT on the micro dataset, same model bytes, same seed. The page is served by a Vite dev server of its own
 * (own dependency cache), so it needs no build; the worker fetches the micro dataset from the server's public/.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadDemoDataset } from '../../src/data/dataset';
import { nodeSource } from '../../src/data/node-source';
import { buildGptForward, initGptWeights, type GptConfig } from '../../src/models/gpt';
import { parseModel, serializeModel } from '../../src/onnx/protobuf';
import { trainCausalLm, type TrainingConfig } from '../../src/train/loop';
import { CHROMIUM_FLAGS, chromiumPath } from '../helpers/browser';
import type { PageRun } from './pages/train';

let server: ViteDevServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

const training: TrainingConfig = {
  steps: 20,
  batchSize: 4,
  peakLearningRate: 1e-2,
  warmupSteps: 3,
  weightDecay: 0.01,
  clipNorm: 1,
  seed: 11,
};

beforeAll(async () => {
  server = await createServer({
    server: { port: 0, host: '127.0.0.1', strictPort: false },
    logLevel: 'warn',
    cacheDir: 'node_modules/.vite-e2e-train',
  });
  await server.listen();
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS, headless: true });
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
  });
  await page.goto(`${server.resolvedUrls!.local[0]}tests/e2e/pages/train.html`);
  await page.waitForFunction(() => window.trainPage !== undefined, undefined, { timeout: 60_000 });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function microModel(): Promise<{ bytes: Uint8Array; sequences: { inputIds: Int32Array; promptLen: number }[] }> {
  const micro = await loadDemoDataset(nodeSource(), 'micro');
  const sequences = micro.train.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
  const longest = Math.max(...sequences.map((s) => s.inputIds.length));
  const gpt: GptConfig = {
    vocabSize: micro.tokenizer.vocabSize,
    maxPositions: longest,
    dModel: 16,
    nLayer: 1,
    nHead: 2,
    dMlp: 32,
    layerNormEpsilon: 1e-5,
    gelu: 'tanh',
  };
  return { bytes: serializeModel(buildGptForward(gpt, initGptWeights(gpt, 5))), sequences };
}

function runInPage(bytes: Uint8Array, config: TrainingConfig, cancelAfterStep?: number): Promise<PageRun> {
  return page.evaluate(([model, c, at]) => window.trainPage!.run(model, c, at), [
    Array.from(bytes),
    config,
    cancelAfterStep,
  ] as const);
}

test('cancelled and malformed runs reject cleanly; the worker then trains a tiny GPT as Node does', async () => {
  const { bytes, sequences } = await microModel();

  const cancelled = await runInPage(bytes, training, 2);
  expect(cancelled.error?.name).toBe('TrainingCancelled');
  expect(cancelled.model).toBeUndefined();
  expect(cancelled.progress.map((p) => p.step)).toEqual([0, 1, 2]);

  const garbage = await runInPage(new TextEncoder().encode('not a model'), training);
  expect(garbage.error).toMatchObject({
    name: 'OnnxFormatError',
    message: expect.stringMatching(/not a valid ONNX protobuf/),
  });
  expect(garbage.progress).toEqual([]);

  const browserRun = await runInPage(bytes, training);
  expect(browserRun.error).toBeUndefined();
  expect(pageErrors).toEqual([]);
  expect(browserRun.sequences).toBe(sequences.length);

  // Progress for every step, in order, with throughput and an ETA that runs down to 0.
  expect(browserRun.progress.map((p) => p.step)).toEqual([...Array(training.steps).keys()]);
  expect(browserRun.history).toEqual(browserRun.progress);
  for (const p of browserRun.progress) {
    expect(p.steps).toBe(training.steps);
    expect(p.tokensPerSecond).toBeGreaterThan(0);
    expect(p.etaMs).toBeGreaterThanOrEqual(0);
  }
  expect(browserRun.progress.at(-1)!.etaMs).toBe(0);

  const losses = browserRun.progress.map((p) => p.loss);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(losses[0]).toBeGreaterThan(5.5); // ≈ ln 512 at initialisation
  expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) - 0.3);

  const initial = parseModel(bytes);
  const trained = parseModel(Uint8Array.from(browserRun.model!));
  expect([...trained.graph.initializers.keys()]).toEqual([...initial.graph.initializers.keys()]);
  const weights = (m: typeof initial) =>
    Array.from(m.graph.initializers.get('h.0.mlp.c_fc.weight')!.data as Float32Array);
  expect(weights(trained)).not.toEqual(weights(initial));

  // The same bytes, data and seed in Node. Both run onnxruntime-web's wasm kernels in float32 on one thread here and
  // agree bit for bit (every step's loss and every trained weight, 2-core machine); the tolerance leaves room for a
  // machine where Node's ORT uses several threads (runtime.ts) and the page, not cross-origin isolated, uses one.
  const nodeRun = await trainCausalLm(initial, sequences, training);
  for (let step = 0; step < 5; step++) {
    const [b, n] = [browserRun.progress[step]!, nodeRun.history[step]!];
    expect(b.tokens).toBe(n.tokens);
    expect(b.learningRate).toBe(n.learningRate);
    expect(Math.abs(b.loss - n.loss) / n.loss).toBeLessThan(1e-5);
    expect(Math.abs(b.gradientNorm - n.gradientNorm) / n.gradientNorm).toBeLessThan(1e-4);
  }
});
