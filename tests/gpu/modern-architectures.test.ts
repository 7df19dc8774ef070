/**
 * The architecture zoo (tests/fixtures/models/modern: Qwen2, Phi-3, Gemma-2, LLaMA-3, Mistral, GPT-NeoX, OPT, and
 * Qwen2's with-past and merged exports) on the WebGPU float32 backend — the real WGSL on Dawn + SwiftShader here —
 * through `iwb attribute --backend webgpu`, against the same float64 torch references the CPU test
 * (tests/unit/modern-architectures.test.ts) checks: EK-FAC, empirical Fisher, summed-loss measurement.
 * Bar: the existing WebGPU bar, pairwise scores within 1e-4 of the largest |score| (float32 forward and float32
 * factors on the GPU vs float64 torch). Each file's measured error is logged and recorded in
 * docs/benchmarks/modern-architectures-webgpu.json.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorValues } from '../helpers/bundle-file';
import { cli } from '../helpers/cli';
import { testGpu } from '../helpers/gpu';

const DIR = 'tests/fixtures/models/modern';
const work = mkdtempSync(path.join(tmpdir(), 'iwb-modern-gpu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Fails loudly (naming what to install) when there is no adapter, before any file is tried.
const adapter = (await testGpu()).report;

const FILES = [
  ...['qwen2', 'phi3', 'gemma2', 'llama3', 'mistral', 'gptneox', 'opt'].map((s) => [s, s]),
  ['qwen2-optimum', 'qwen2'],
  ['qwen2-merged', 'qwen2'],
];

describe.each(FILES)('%s export on WebGPU', (file, style) => {
  it('scores match the float64 torch reference within 1e-4 of the largest', async () => {
    const reference = JSON.parse(readFileSync(`${DIR}/${style}.scores.json`, 'utf8')) as {
      scores: readonly (readonly number[])[];
    };
    const [out, json] = [path.join(work, `${file}.iwb`), path.join(work, `${file}.json`)];
    const started = performance.now();
    const { code, stderr } = await cli([
      'attribute',
      ...['--model', `${DIR}/${file}.onnx`, '--train', `${DIR}/train.jsonl`, '--queries', `${DIR}/queries.jsonl`],
      ...['--backend', 'webgpu', '--strategy', 'ekfac', '--fisher', 'empirical', '--measurement', 'summed-loss'],
      ...['--quiet', '--out', out, '--json', json],
    ]);
    const seconds = (performance.now() - started) / 1000;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(readFileSync(json, 'utf8')) as { backend: { kind: string; description: string } };
    expect(summary.backend.kind).toBe('webgpu');
    expect(summary.backend.description).toMatch(/WebGPU float32/);
    const got = tensorValues(readFileSync(out), 'scores.influence');
    const want = reference.scores.flat();
    expect(got.length).toBe(want.length);
    const scale = Math.max(...want.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    const worst = Math.max(...want.map((w, i) => Math.abs(got[i]! - w)));
    console.log(`zoo-webgpu ${JSON.stringify({ file, adapter: adapter.name, relativeError: worst / scale, seconds })}`);
    expect(worst / scale).toBeLessThanOrEqual(1e-4);
  });
});
