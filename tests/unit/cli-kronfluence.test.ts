/** `iwb attribute --kronfluence-out DIR` and `--factors DIR`: a run's factors go out in kronfluence's layout and come back. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { moduleNameOfLayer } from '../../src/cli/kronfluence-dirs';
import { cli } from '../helpers/cli';
import type { RunSummary } from '../../src/cli/summary';
import { readSafetensors } from '../../src/store/safetensors';
import { tensorToArray } from '../../src/store/tensor-values';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-kf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('module names follow the node path as torch.onnx writes it', () => {
  expect(moduleNameOfLayer('/h.0/mlp/c_fc/MatMul')).toBe('h.0.mlp.c_fc');
  expect(moduleNameOfLayer('/fc1/Gemm')).toBe('fc1');
  expect(moduleNameOfLayer('plain')).toBe('plain');
});

test('factors written in kronfluence layout score the same run again without fitting, to float64 precision', async () => {
  const common = ['attribute', '--demo', 'micro', '--backend', 'cpu', '--quiet'];
  const out = path.join(dir, 'kf');
  const readPairwise = (root: string): Float64Array =>
    tensorToArray(readSafetensors(new Uint8Array(readFileSync(path.join(root, 'scores_pairwise', 'pairwise_scores.safetensors')))).tensors.get('all_modules')!) as Float64Array;
  const first = await cli([...common, '--kronfluence-out', out]);
  expect(first.stderr.split('\n').filter((l) => l.startsWith('iwb:'))).toEqual([]);
  expect(first.code).toBe(0);
  const lambda = readSafetensors(new Uint8Array(readFileSync(path.join(out, 'factors_ekfac', 'lambda_matrix.safetensors'))));
  expect([...lambda.tensors.keys()].sort()).toEqual(['h.0.mlp.c_fc', 'h.0.mlp.c_proj']);

  const again = path.join(dir, 'kf-again');
  const second = await cli([...common, '--factors', out, '--json', path.join(dir, 'b.json'), '--kronfluence-out', again]);
  expect(second.stderr.split('\n').filter((l) => l.startsWith('iwb:'))).toEqual([]);
  expect(second.code).toBe(0);
  const stages = (JSON.parse(readFileSync(path.join(dir, 'b.json'), 'utf8')) as RunSummary).timings.map((t) => t.stage);
  expect(stages).not.toContain('covariance');
  expect(stages).not.toContain('lambda');
  const tauA = readPairwise(out);
  const tauB = readPairwise(again);
  expect(tauA.length).toBe(4 * 16);
  let max = 0;
  let scale = 0;
  for (let i = 0; i < tauA.length; i++) {
    max = Math.max(max, Math.abs(tauA[i]! - tauB[i]!));
    scale = Math.max(scale, Math.abs(tauA[i]!));
  }
  expect(scale).toBeGreaterThan(0);
  expect(max).toBeLessThanOrEqual(1e-9 * scale);
}, 180_000);

test('--factors with modules that do not match the model names the layer and what the files have', async () => {
  const bad = path.join(dir, 'bad');
  const out = path.join(dir, 'kf');
  // Copy the exported factors under a module name the model does not have.
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.join(bad, 'factors_ekfac'), { recursive: true });
  for (const file of ['activation_covariance', 'gradient_covariance', 'num_activation_covariance_processed', 'num_gradient_covariance_processed']) {
    const text = readFileSync(path.join(out, 'factors_ekfac', `${file}.safetensors`));
    writeFileSync(path.join(bad, 'factors_ekfac', `${file}.safetensors`), Buffer.from(text.toString('latin1').replaceAll('h.0.mlp.c_fc', 'h.0.mlp.zz_a'), 'latin1'));
  }
  const { code, stderr } = await cli(['attribute', '--demo', 'micro', '--backend', 'cpu', '--quiet', '--factors', bad]);
  expect(code).not.toBe(0);
  expect(stderr).toMatch(/--factors .*no factors for layer "\/h\.0\/mlp\/c_fc\/MatMul" \(module "h\.0\.mlp\.c_fc"\); the files have/);
}, 180_000);
