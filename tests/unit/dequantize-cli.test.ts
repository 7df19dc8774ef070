/**
 * `iwb attribute` on quantized files (tests/fixtures/models/quantized) equals `iwb attribute` on the same model's
 * float32 export whose weights numpy replaced by their dequantized values (scripts/export-quantized-models.py): the
 * workbench attributes the dequantized model. CPU backend, EK-FAC with the empirical Fisher (no sampled labels), the
 * micro data; tolerance 1e-5 of the largest |score| (the two graphs are the same float32 forward on the same
 * weights, so they agree to rounding). `iwb layers` says what was dequantized.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorValues } from '../helpers/bundle-file';
import { attributeArgs, cli, MICRO_DATA } from '../helpers/cli';

const DIR = 'tests/fixtures/models/quantized';
const work = mkdtempSync(path.join(tmpdir(), 'iwb-quant-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let runs = 0;
async function scores(model: string): Promise<Float64Array> {
  const out = path.join(work, `run-${runs++}.iwb`);
  const args = attributeArgs({ model, ...MICRO_DATA }, '--strategy', 'ekfac', '--fisher', 'empirical', '--quiet');
  const result = await cli([...args, '--limit-train', '4', '--limit-queries', '2', '--out', out]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return tensorValues(readFileSync(out), 'scores.influence');
}

describe('a quantized file attributes as its dequantized float32 model', () => {
  it.each(['llama-q4', 'llama-int8', 'llama-qdq'])(
    '%s.onnx = the same name -dequantized.onnx',
    async (name) => {
      const want = await scores(`${DIR}/${name}-dequantized.onnx`);
      const got = await scores(`${DIR}/${name}.onnx`);
      expect(got.length).toBe(want.length);
      const scale = Math.max(...want.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
      expect(worst / scale).toBeLessThanOrEqual(1e-5);
    },
    300_000,
  );

  it('iwb layers says what was dequantized', async () => {
    const result = await cli(['layers', `${DIR}/llama-q4.onnx`]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout.split('\n')[1]).toMatch(/; dequantized to float32 on load: MatMulNBits 4-bit × 15$/);
    expect(result.stdout).toMatch(/^\* +\/layers\.0\/mlp\/gate_proj\/MatMul +MatMul +16 -> 64 +MLP 0 gate/m);
  });
});
