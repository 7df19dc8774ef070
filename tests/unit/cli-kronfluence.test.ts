/**
 * `iwb attribute --kronfluence-out DIR` and `--factors DIR`: a run's factors go out in kronfluence's layout and come
 * back; kronfluence's own factor directory (tests/fixtures/kronfluence) scores its model through the CLI to
 * kronfluence's own pairwise scores. Each test makes the folders it reads.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { moduleNameOfLayer } from '../../src/cli/kronfluence-dirs';
import { buildKronfluenceTokenLm } from '../../src/models/kronfluence';
import { serializeModel } from '../../src/onnx/protobuf';
import { cli, readPairwiseScores } from '../helpers/cli';
import { maxRelativeError } from '../helpers/exact-dense';
import { fixtureData, fixtureWeights, kronfluenceReference, FIXTURES } from '../helpers/exact-kronfluence';
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
  const first = await cli([...common, '--kronfluence-out', out]);
  expect(first.stderr.split('\n').filter((l) => l.startsWith('iwb:'))).toEqual([]);
  expect(first.code).toBe(0);
  const lambda = readSafetensors(
    new Uint8Array(readFileSync(path.join(out, 'factors_ekfac', 'lambda_matrix.safetensors'))),
  );
  expect([...lambda.tensors.keys()].sort()).toEqual(['h.0.mlp.c_fc', 'h.0.mlp.c_proj']);

  const again = path.join(dir, 'kf-again');
  const second = await cli([
    ...common,
    '--factors',
    out,
    '--json',
    path.join(dir, 'b.json'),
    '--kronfluence-out',
    again,
  ]);
  expect(second.stderr.split('\n').filter((l) => l.startsWith('iwb:'))).toEqual([]);
  expect(second.code).toBe(0);
  const stages = (JSON.parse(readFileSync(path.join(dir, 'b.json'), 'utf8')) as RunSummary).timings.map((t) => t.stage);
  expect(stages).not.toContain('covariance');
  expect(stages).not.toContain('lambda');
  const tauA = readPairwiseScores(out);
  const tauB = readPairwiseScores(again);
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
  // kronfluence's token_lm factors (modules up, down, unembed) offered for the micro demo's GPT.
  const factors = path.join(FIXTURES, 'token_lm', 'kronfluence', 'token_lm');
  const { code, stderr } = await cli([
    'attribute',
    '--demo',
    'micro',
    '--backend',
    'cpu',
    '--quiet',
    '--factors',
    factors,
  ]);
  expect(code).not.toBe(0);
  expect(stderr).toMatch(
    /--factors .*no factors for layer "\/h\.0\/mlp\/c_fc\/MatMul" \(module "h\.0\.mlp\.c_fc"\); the files have .*up/,
  );
}, 180_000);

test("kronfluence's own factor directory scores its token LM through the CLI to kronfluence's pairwise scores", async () => {
  // The fixture's model as ONNX (float64), its data as pre-tokenized JSONL, its factors_ekfac/ as kronfluence wrote it.
  const work = mkdtempSync(path.join(tmpdir(), 'iwb-kf-real-'));
  try {
    const model = path.join(work, 'token_lm.onnx');
    writeFileSync(model, serializeModel(buildKronfluenceTokenLm(await fixtureWeights('token_lm'))));
    const data = (await fixtureData('token_lm')) as Record<
      'train' | 'queries',
      { input_ids: number[]; prompt_len: number }[]
    >;
    const jsonl = (rows: typeof data.train) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    writeFileSync(path.join(work, 'train.jsonl'), jsonl(data.train));
    writeFileSync(path.join(work, 'queries.jsonl'), jsonl(data.queries));
    const out = path.join(work, 'ours');
    const { code, stderr } = await cli([
      'attribute',
      '--model',
      model,
      '--train',
      path.join(work, 'train.jsonl'),
      '--queries',
      path.join(work, 'queries.jsonl'),
      '--backend',
      'cpu',
      '--track',
      '.',
      '--quiet',
      '--factors',
      path.join(FIXTURES, 'token_lm', 'kronfluence', 'token_lm'),
      '--kronfluence-out',
      out,
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const pairwise = readSafetensors(
      new Uint8Array(readFileSync(path.join(out, 'scores_pairwise', 'pairwise_scores.safetensors'))),
    );
    const ours = tensorToArray(pairwise.tensors.get('all_modules')!) as Float64Array;
    const reference = await kronfluenceReference('token_lm');
    expect(ours.length).toBe(6 * 40);
    expect(maxRelativeError(ours, reference.pairwise[0]!.total.data)).toBeLessThan(1e-9);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}, 180_000);
