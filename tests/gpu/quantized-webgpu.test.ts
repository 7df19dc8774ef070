/**
 * Quantized and half-precision files on the WebGPU float32 backend (Dawn + SwiftShader here): a 4-bit MatMulNBits
 * file (tests/fixtures/models/quantized/llama-q4.onnx), an 8-bit MatMulInteger one (llama-int8.onnx) and a float16
 * export (tests/fixtures/models/gpt2-fp16.onnx) are dequantized / widened to float32 on load, so the same
 * `iwb attribute` on WebGPU and on the float64 CPU backend must agree within the WebGPU bar: pairwise scores within
 * 1e-4 of the largest |score|. EK-FAC with the empirical Fisher (no sampled labels), the micro data, 4 × 2 rows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorValues } from '../helpers/bundle-file';
import { cli, MICRO_DATA } from '../helpers/cli';
import { testGpu } from '../helpers/gpu';

const work = mkdtempSync(path.join(tmpdir(), 'iwb-quant-gpu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Fails loudly (naming what to install) when there is no adapter.
const adapter = (await testGpu()).report;

let runs = 0;
async function scores(model: string, backend: 'cpu' | 'webgpu'): Promise<Float64Array> {
  const [out, json] = [path.join(work, `run-${runs}.iwb`), path.join(work, `run-${runs++}.json`)];
  const result = await cli([
    'attribute',
    ...['--model', model, '--tokenizer', MICRO_DATA.tokenizer],
    ...['--train', MICRO_DATA.train, '--queries', MICRO_DATA.queries, '--limit-train', '4', '--limit-queries', '2'],
    ...['--backend', backend, '--strategy', 'ekfac', '--fisher', 'empirical', '--quiet', '--out', out, '--json', json],
  ]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const summary = JSON.parse(readFileSync(json, 'utf8')) as { backend: { kind: string } };
  expect(summary.backend.kind).toBe(backend);
  return tensorValues(readFileSync(out), 'scores.influence');
}

describe('quantized and float16 files attribute on WebGPU as on the CPU', () => {
  it.each([
    'tests/fixtures/models/quantized/llama-q4.onnx',
    'tests/fixtures/models/quantized/llama-int8.onnx',
    'tests/fixtures/models/gpt2-fp16.onnx',
  ])('%s', async (model) => {
    const want = await scores(model, 'cpu');
    const got = await scores(model, 'webgpu');
    expect(got.length).toBe(want.length);
    const scale = Math.max(...want.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
    console.log(`quant-webgpu ${JSON.stringify({ model, adapter: adapter.name, relativeError: worst / scale })}`);
    expect(worst / scale).toBeLessThanOrEqual(1e-4);
  });
});
