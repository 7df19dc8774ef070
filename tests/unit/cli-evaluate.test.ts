/**
 * `iwb evaluate` in-process: the micro demo and user files (ONNX + tokenizer + JSONL), --out JSON and .iwb (with
 * inspect and export), and resuming from --checkpoint (the second run retrains nothing and reports the same
 * numbers). Tiny settings keep it to seconds.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { serializeModel } from '../../src/onnx/protobuf';
import { seededDemoModel } from '../../src/app/demo-model';
import { cli } from '../helpers/cli';
import { decodeBundle } from '../../src/store/bundle';
import { parseOption } from '../../src/app/options';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';

const dir = mkdtempSync(path.join(tmpdir(), 'iwb-evaluate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SMALL = ['--limit-train', '6', '--limit-queries', '2', '--subsets', '3', '--steps', '3', '--batch-size', '2'];

interface EvaluationJson {
  trainSize: number;
  querySize: number;
  lds: {
    strategy: string;
    mean: number;
    low: number;
    high: number;
    perQuery: (number | null)[];
    predictions: number[];
  }[];
  subsetMask: number[];
  loo: { examples: number[]; actual: number[]; byStrategy: { strategy: string }[] } | null;
  retrains: { done: number; resumed: number };
  training: { steps: number };
}

test('micro demo: LDS per strategy, --out JSON; a second run resumes every retrain from --checkpoint', async () => {
  const out = path.join(dir, 'micro.json');
  const checkpoint = path.join(dir, 'micro.checkpoint.json');
  const args = [
    'evaluate',
    ...SMALL,
    '--strategies',
    'identity,ekfac',
    '--loo',
    '1',
    '--out',
    out,
    '--checkpoint',
    checkpoint,
  ];
  const first = await cli(args);
  expect(first.stderr.split('\n').filter((l) => l.startsWith('iwb'))).toEqual([]);
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/LDS over 3 subsets of 50 % of 6 training examples/);
  expect(first.stdout).toMatch(/^identity +-?\d\.\d{3} +\[/m);
  expect(first.stdout).toMatch(/^ekfac +-?\d\.\d{3} +\[/m);
  const result = JSON.parse(readFileSync(out, 'utf8')) as EvaluationJson;
  expect([result.trainSize, result.querySize, result.training.steps]).toEqual([6, 2, 3]);
  expect(result.lds.map((s) => s.strategy)).toEqual(['identity', 'ekfac']);
  expect(result.subsetMask).toHaveLength(3 * 6);
  const looRetrains = result.loo!.examples.length;
  expect(result.retrains).toEqual({ done: 3 + 1 + looRetrains, resumed: 0 });

  const second = await cli(args);
  expect(second.code).toBe(0);
  expect(second.stdout).toMatch(new RegExp(`retrains: 0 run, ${3 + 1 + looRetrains} from the checkpoint`));
  const again = JSON.parse(readFileSync(out, 'utf8')) as EvaluationJson;
  expect(again.lds).toEqual(result.lds);
  expect(again.loo).toEqual(result.loo);
});

test('--out FILE.iwb: a bundle with the scores and the evaluation, equal to the JSON; inspect and export show it', async () => {
  const bundleFile = path.join(dir, 'micro.iwb');
  const jsonFile = path.join(dir, 'micro-again.json');
  const checkpoint = path.join(dir, 'bundle.checkpoint.json');
  const args = ['evaluate', ...SMALL, '--strategies', 'identity,ekfac', '--loo', '1', '--checkpoint', checkpoint];
  expect((await cli([...args, '--out', bundleFile])).code).toBe(0);
  // The same evaluation as JSON, from the checkpoint: the bundle must hold exactly its numbers.
  expect((await cli([...args, '--out', jsonFile])).code).toBe(0);
  const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as EvaluationJson;
  const bundle = await decodeBundle(readFileSync(bundleFile));
  expect(bundle.manifest.strategy).toBe('ekfac');
  expect(bundle.manifest.generator).toBe('iwb evaluate');
  const evaluation = bundle.evaluation!;
  expect(evaluation.info.strategies.map((s) => [s.strategy, s.mean, s.low, s.high])).toEqual(
    json.lds.map((s) => [s.strategy, s.mean, s.low, s.high]),
  );
  expect(Array.from(evaluation.subsetMask)).toEqual(json.subsetMask);
  json.lds.forEach((s, i) => {
    expect(Array.from(evaluation.strategies[i]!.predictions)).toEqual(s.predictions);
    expect(Array.from(evaluation.strategies[i]!.perQuery)).toEqual(s.perQuery.map((v) => v ?? 0));
  });
  expect(Array.from(evaluation.loo!.actual)).toEqual(json.loo!.actual);

  const inspected = await cli(['inspect', bundleFile]);
  expect(inspected.code).toBe(0);
  expect(inspected.stdout).toMatch(/evaluation: LDS over M = 3 subsets of α = 0\.5 \(R = 1 seed each, seed 0\)/);
  expect(inspected.stdout).toMatch(
    /^ {2}ekfac +LDS -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] over \d of 2 queries; LOO Pearson/m,
  );
  const csv = path.join(dir, 'csv');
  const exported = await cli(['export', bundleFile, '--csv', csv]);
  expect(exported.code).toBe(0);
  const summary = readFileSync(path.join(csv, 'lds_summary.csv'), 'utf8').trim().split('\n');
  expect(summary[0]).toBe('strategy,lds,low,high,queries_ranked,subsets,fraction,seeds,loo_pearson,loo_spearman');
  expect(summary[2]!.split(',').slice(0, 4)).toEqual([
    'ekfac',
    ...[json.lds[1]!.mean, json.lds[1]!.low, json.lds[1]!.high].map(String),
  ]);
  const subsets = readFileSync(path.join(csv, 'lds_subsets.csv'), 'utf8').trim().split('\n');
  expect(subsets).toHaveLength(1 + 2 * 3 * 2);
  expect(Number(subsets[1]!.split(',')[3])).toBe(json.lds[0]!.predictions[0]);
  expect(readFileSync(path.join(csv, 'loo.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 2 * 2 * 2);
});

test('--out FILE.iwb twice with --checkpoint: the second trains and attributes nothing and writes the same bundle', async () => {
  const checkpoint = path.join(dir, 'reuse.checkpoint.json');
  const [first, second] = [path.join(dir, 'reuse-1.iwb'), path.join(dir, 'reuse-2.iwb')];
  const args = ['evaluate', ...SMALL, '--strategies', 'identity,ekfac', '--checkpoint', checkpoint];
  const made = await cli([...args, '--out', first]);
  expect(made.code).toBe(0);
  expect(made.stderr).toMatch(/^training the model on all 6 examples/m);
  expect(made.stderr).toMatch(/^influence \(ekfac\): [\d.]+ s/m);
  const again = await cli([...args, '--out', second]);
  expect(again.code).toBe(0);
  expect(again.stderr).toMatch(/^influence \(identity, ekfac\): from the saved influence$/m);
  expect(again.stderr).not.toMatch(/^training the model/m);
  expect(again.stderr).not.toMatch(/^influence \((identity|ekfac)\): [\d.]+ s/m);
  expect(again.stdout).toMatch(/retrains: 0 run, 3 from the checkpoint/);
  // The same bundle but for the time it was written: every tensor's checksum, rows, factors, scores and evaluation.
  const [a, b] = [await decodeBundle(readFileSync(first)), await decodeBundle(readFileSync(second))];
  expect(b.manifest.createdAt >= a.manifest.createdAt).toBe(true);
  expect({ ...b.manifest, createdAt: '' }).toEqual({ ...a.manifest, createdAt: '' });
  expect(b.scores).toEqual(a.scores);
  expect(b.factors).toEqual(a.factors);
  expect(b.evaluation).toEqual(a.evaluation);
  expect(a.manifest.evaluation!.training).toMatchObject({ steps: 3, executionProvider: 'wasm' });
});

test('user files: ONNX model, tokenizer and JSONL', async () => {
  const tokenizer = 'public/data/micro/tokenizer.json';
  const vocab = (JSON.parse(readFileSync(tokenizer, 'utf8')) as { model: { vocab: Record<string, number> } }).model
    .vocab;
  const model = path.join(dir, 'micro.onnx');
  writeFileSync(model, serializeModel(seededDemoModel('micro', Math.max(...Object.values(vocab)) + 1, 512).model));
  const files = ['--model', model, '--tokenizer', tokenizer, '--train', 'public/data/micro/train.jsonl'];
  const { code, stdout, stderr } = await cli([
    'evaluate',
    ...files,
    '--queries',
    'public/data/micro/queries.jsonl',
    ...SMALL,
    '--strategies',
    'kfac',
  ]);
  expect(stderr).toMatch(/^training the model on all 6 examples/m);
  expect(stderr.split('\n').filter((l) => l.startsWith('iwb'))).toEqual([]);
  expect(code).toBe(0);
  expect(stdout).toMatch(/^kfac +-?\d\.\d{3} +\[/m);
});

test('bad flags are one usage line naming the flag (exit 2); a missing file names it (exit 1)', async () => {
  const fraction = await cli(['evaluate', '--fraction', '1.5']);
  expect(fraction.code).toBe(2);
  expect(fraction.stderr).toBe('iwb evaluate: --fraction "1.5" is not between 0 and 1 (exclusive)\n');
  const strategy = await cli(['evaluate', '--strategies', 'ekfac,tracin']);
  expect(strategy.code).toBe(2);
  expect(strategy.stderr).toMatch(/--strategies: "tracin" is not one of/);
  const unknown = await cli(['evaluate', '--subset', '3']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/--subset/);
  const help = await cli(['evaluate', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^Usage: iwb evaluate .*\n(.*\n)*.*--checkpoint FILE/);
  expect((await cli(['--help'])).stdout).toMatch(/Usage: iwb attribute(.*\n)*Usage: iwb evaluate/);
  const missing = await cli(['evaluate', '--model', 'nope.onnx', '--train', 'a.jsonl', '--queries', 'b.jsonl']);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toBe('iwb evaluate: --model nope.onnx: no such file\n');
});

test('--damping takes the heuristic with its own factor (a damping sweep), an absolute value, or refuses', () => {
  // One grammar for every --damping (app/options.ts): attribute, evaluate and the page's field.
  expect(DEFAULT_RUN_CONFIG.damping).toEqual({ kind: 'heuristic', factor: 0.1 });
  expect(parseOption('damping', 'heuristic')).toEqual({ kind: 'heuristic', factor: 0.1 });
  expect(parseOption('damping', 'heuristic:0.01')).toEqual({ kind: 'heuristic', factor: 0.01 });
  expect(parseOption('damping', 'heuristic:1e-3')).toEqual({ kind: 'heuristic', factor: 0.001 });
  expect(parseOption('damping', '0.5')).toEqual({ kind: 'absolute', value: 0.5 });
  for (const bad of ['heuristic:0', 'heuristic:-1', 'heuristic:', 'heuristic:x', 'lots'])
    expect(() => parseOption('damping', bad)).toThrow(
      /^--damping ".*" is not heuristic, heuristic:F \(F > 0\) or a non-negative/,
    );
});

test('--fisher empirical attributes again on the same retrains (not the sampled Fisher’s saved influence)', async () => {
  const checkpoint = path.join(dir, 'fisher.checkpoint.json');
  const base = ['evaluate', ...SMALL, '--strategies', 'ekfac', '--checkpoint', checkpoint];
  const sampledFile = path.join(dir, 'fisher-sampled.json');
  const empiricalFile = path.join(dir, 'fisher-empirical.json');
  expect((await cli([...base, '--out', sampledFile])).code).toBe(0);
  const empirical = await cli([...base, '--fisher', 'empirical', '--saved-only', '--out', empiricalFile]);
  expect(empirical.code).toBe(0);
  // The retrains are reused; the influence is not: the empirical Fisher's factors give other predictions.
  expect(empirical.stdout).toMatch(/retrains: 0 run, 3 from the checkpoint/);
  expect(empirical.stderr).toMatch(/influence \(ekfac\): [\d.]+ s/);
  const [s, e] = [sampledFile, empiricalFile].map((f) => JSON.parse(readFileSync(f, 'utf8')) as EvaluationJson);
  expect(e.subsetMask).toEqual(s.subsetMask);
  expect(e.lds[0]!.predictions).not.toEqual(s.lds[0]!.predictions);
  // A second empirical run reads its own saved influence: identical predictions, nothing attributed.
  const again = await cli([...base, '--fisher', 'empirical', '--saved-only', '--out', empiricalFile]);
  expect(again.stderr).toMatch(/influence \(ekfac\): from the saved influence/);
  expect((JSON.parse(readFileSync(empiricalFile, 'utf8')) as EvaluationJson).lds).toEqual(e.lds);
  const bad = await cli([...base, '--fisher', 'true']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--fisher "true" is not one of sampled, empirical/);
}, 180_000);
