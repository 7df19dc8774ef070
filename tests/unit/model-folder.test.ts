/**
 * A model folder as downloaded (tests/fixtures/models/folder-llama: config.json, generation_config.json,
 * tokenizer.json, tokenizer_config.json, onnx/model.onnx, onnx/model_q4.onnx, onnx/model_quantized.onnx): the
 * variant chosen (float32 > float16 > quantized, or by name), said, and run; paths never lead out of the folder.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseVariant, insideFolder } from '../../src/app/model-folder';
import { tensorValues } from '../helpers/bundle-file';
import { cli, MICRO_DATA } from '../helpers/cli';

const FOLDER = 'tests/fixtures/models/folder-llama';
const work = mkdtempSync(path.join(tmpdir(), 'iwb-folder-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('choosing the variant', () => {
  const hub = [
    'config.json',
    'tokenizer.json',
    'onnx/model_q4.onnx',
    'onnx/model_fp16.onnx',
    'onnx/model.onnx',
    'onnx/model.onnx_data',
    'onnx/decoder_model_merged.onnx',
    'onnx/model_quantized.onnx',
    'onnx/model_q4f16.onnx',
  ];
  it('float32 before float16 before 8-bit before 4-bit, a model before a merged decoder', () => {
    const choice = chooseVariant('dir', hub);
    expect(choice.variant).toMatchObject({ name: 'model', path: 'onnx/model.onnx', precision: 'float32' });
    expect(choice.variants.map((v) => v.name)).toEqual([
      'model',
      'model_fp16',
      'model_quantized',
      'model_q4',
      'model_q4f16',
      'decoder_model_merged',
    ]);
    expect(choice.note).toBe(
      'dir: chose onnx/model.onnx (float32); also there: model_fp16, model_quantized, model_q4, model_q4f16, ' +
        'decoder_model_merged (choose with --variant NAME)',
    );
    expect([choice.tokenizer, choice.tokenizerConfig, choice.config]).toEqual(['tokenizer.json', null, 'config.json']);
    const fp16 = chooseVariant(
      'dir',
      hub.filter((f) => f !== 'onnx/model.onnx'),
    );
    expect(fp16.variant.name).toBe('model_fp16');
  });

  it('by name, and a missing name lists what there is', () => {
    expect(chooseVariant('dir', hub, 'model_q4').variant.path).toBe('onnx/model_q4.onnx');
    expect(chooseVariant('dir', hub, 'model_q4.onnx').variant.name).toBe('model_q4');
    expect(() => chooseVariant('dir', hub, 'model_int4')).toThrow(
      "dir: no variant 'model_int4'; the folder has model, model_fp16, model_quantized, model_q4, model_q4f16, " +
        'decoder_model_merged',
    );
    expect(() => chooseVariant('dir', ['config.json'])).toThrow(/^dir: no \.onnx model in the folder/);
  });

  it('.onnx files at the top (Optimum) when there is no onnx/ folder; paths never lead out', () => {
    expect(chooseVariant('dir', ['model.onnx', 'tokenizer.json']).variant.path).toBe('model.onnx');
    for (const bad of ['../x.onnx', '/etc/x.onnx', 'a//b', 'onnx/./m.onnx', 'C:x', 'a\\..\\b'])
      expect(insideFolder(bad), bad).toBe(false);
    expect(() => chooseVariant('dir', ['onnx/../../m.onnx'])).toThrow("dir: 'onnx/../../m.onnx' is not a path inside");
  });
});

let runs = 0;
async function scores(...flags: string[]): Promise<{ scores: Float64Array; stderr: string }> {
  const out = path.join(work, `run-${runs++}.iwb`);
  const args = ['attribute', ...flags, '--train', MICRO_DATA.train, '--queries', MICRO_DATA.queries];
  const data = ['--backend', 'cpu', '--strategy', 'ekfac', '--fisher', 'empirical'];
  const result = await cli([...args, ...data, '--limit-train', '4', '--limit-queries', '2', '--out', out]);
  expect(result.code, result.stderr).toBe(0);
  return { scores: tensorValues(readFileSync(out), 'scores.influence'), stderr: result.stderr };
}

describe('iwb with --model-dir', () => {
  it('runs the float32 variant with the folder tokenizer, as --model/--tokenizer would, and says so', async () => {
    const folder = await scores('--model-dir', FOLDER, '--quiet');
    const files = await scores(
      '--model',
      `${FOLDER}/onnx/model.onnx`,
      '--tokenizer',
      `${FOLDER}/tokenizer.json`,
      '--quiet',
    );
    expect(folder.scores).toEqual(files.scores);
    const plan = await cli([
      'attribute',
      '--model-dir',
      FOLDER,
      '--train',
      MICRO_DATA.train,
      '--queries',
      MICRO_DATA.queries,
      '--plan',
      '--backend',
      'cpu',
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout.split('\n')[0]).toBe(
      `${FOLDER}: chose onnx/model.onnx (float32); also there: model_quantized, model_q4 (choose with --variant NAME)`,
    );
  }, 300_000);

  it('--variant model_q4 runs the 4-bit file, dequantized', async () => {
    const q4 = await scores('--model-dir', FOLDER, '--variant', 'model_q4', '--quiet');
    const reference = await scores(
      '--model',
      'tests/fixtures/models/quantized/llama-q4-dequantized.onnx',
      '--tokenizer',
      MICRO_DATA.tokenizer,
      '--quiet',
    );
    const scale = Math.max(...reference.scores.map(Math.abs));
    const worst = Math.max(...q4.scores.map((v, i) => Math.abs(v - reference.scores[i]!)));
    expect(worst / scale).toBeLessThanOrEqual(1e-5);
  }, 300_000);

  it('iwb layers on a folder lists the chosen variant', async () => {
    const result = await cli(['layers', FOLDER, '--variant', 'model_quantized']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(
      /: using onnx\/model_quantized\.onnx \(8-bit \(dequantized on load\)\); also there: model, model_q4/,
    );
    expect(lines[3]).toMatch(
      /dequantized to float32 on load: Gather \+ DequantizeLinear 8-bit × 1, MatMulInteger 8-bit × 15$/,
    );
  });

  it('refuses usage mistakes and a file that leads out of the folder', async () => {
    const both = await cli(['attribute', '--model-dir', FOLDER, '--model', 'x.onnx', '--train', 'a', '--queries', 'b']);
    expect([both.code, both.stderr]).toEqual([
      2,
      'iwb: --model-dir gives the model: leave out --model and --model-data\n',
    ]);
    const variant = await cli([
      'attribute',
      '--variant',
      'model_q4',
      '--model',
      'x.onnx',
      '--train',
      'a',
      '--queries',
      'b',
    ]);
    expect(variant.stderr).toBe('iwb: --variant needs --model-dir (it names one ONNX file of that folder)\n');
    const copy = path.join(work, 'escape');
    cpSync(FOLDER, copy, { recursive: true });
    writeFileSync(path.join(work, 'outside.json'), readFileSync(`${FOLDER}/tokenizer.json`));
    rmSync(path.join(copy, 'tokenizer.json'));
    symlinkSync(path.join(work, 'outside.json'), path.join(copy, 'tokenizer.json'));
    const out = await cli(['layers', copy]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(
      /^iwb: --model-dir .*escape: 'tokenizer\.json' leads out of the folder \(to .*outside\.json\); refused\n$/,
    );
  });
});
