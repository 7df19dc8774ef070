import { describe, expect, test } from 'vitest';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';
import { CliUsageError, parseCommand } from '../../src/cli/args';

function usageError(argv: string[]): string {
  try {
    parseCommand(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(CliUsageError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`parseCommand(${argv.join(' ')}) did not throw`);
}

describe('iwb argument parsing', () => {
  test("defaults: demo inputs and the page's run configuration (ekfac, heuristic damping 0.1, automatic backend)", () => {
    const command = parseCommand(['attribute']);
    expect(command.name).toBe('attribute');
    if (command.name !== 'attribute') return;
    expect(command.args.config).toEqual(DEFAULT_RUN_CONFIG);
    expect(command.args.config).toMatchObject({
      strategy: 'ekfac',
      damping: { kind: 'heuristic', factor: 0.1 },
      perToken: false,
      backend: 'auto',
    });
    expect(command.args.model).toBeUndefined();
  });

  test('every flag is read', () => {
    const command = parseCommand([
      'attribute',
      '--model',
      'm.onnx',
      '--tokenizer',
      't.json',
      '--train',
      'a.jsonl',
      '--queries',
      'q.jsonl',
      '--out',
      'r.iwb',
      '--json',
      's.json',
      '--strategy',
      'kfac',
      '--damping',
      '1e-3',
      '--track',
      'mlp/c_fc',
      '--per-token',
      '--backend',
      'cpu',
      '--limit-train',
      '10',
      '--limit-queries',
      '3',
      '--fisher',
      'empirical',
      '--measurement',
      'summed-loss',
      '--batch-size',
      '5',
      '--query-batch',
      '7',
      '--query-rank',
      '2',
      '--seed',
      '0',
      '--refine-eigen',
    ]);
    if (command.name !== 'attribute') throw new Error('expected attribute');
    expect(command.args).toMatchObject({
      model: 'm.onnx',
      tokenizer: 't.json',
      train: 'a.jsonl',
      queries: 'q.jsonl',
      out: 'r.iwb',
      json: 's.json',
    });
    expect(command.args.config).toEqual({
      ...DEFAULT_RUN_CONFIG,
      strategy: 'kfac',
      damping: { kind: 'absolute', value: 1e-3 },
      perToken: true,
      backend: 'cpu',
      limits: { train: 10, queries: 3, sample: false },
      fisher: 'empirical',
      measurement: 'summed-loss',
      trackedLayers: 'mlp/c_fc',
      batchSizes: { ...DEFAULT_RUN_CONFIG.batchSizes, fit: 5, train: 5, query: 7 },
      queryRank: 2,
      seed: 0,
      refineEigen: true,
    });
  });

  test('--sample and --sample-queries draw a stratified sample with the run seed; mixing with --limit-* is refused', () => {
    const command = parseCommand(['attribute', '--sample', '24', '--sample-queries', '4', '--seed', '7', '--plan']);
    if (command.name !== 'attribute') throw new Error('expected attribute');
    expect(command.args.config.limits).toEqual({ train: 24, queries: 4, sample: true });
    expect(command.args.config.seed).toBe(7);
    expect(command.args.plan).toBe(true);
    const trainOnly = parseCommand(['attribute', '--sample', '5']);
    if (trainOnly.name !== 'attribute') throw new Error('expected attribute');
    expect(trainOnly.args.config.limits).toEqual({ train: 5, queries: null, sample: true });
    expect(trainOnly.args.plan).toBe(false);
    expect(usageError(['attribute', '--sample', '5', '--limit-queries', '2'])).toMatch(
      /--limit-queries takes the first rows and --sample a stratified sample/,
    );
    expect(usageError(['attribute', '--sample', '0'])).toMatch(/--sample "0" is not a positive integer/);
  });

  test('help', () => {
    expect(parseCommand([]).name).toBe('help');
    expect(parseCommand(['attribute', '--help']).name).toBe('help');
  });

  test('bad flags give one line naming the flag', () => {
    expect(usageError(['attribute', '--strategy', 'newton'])).toMatch(
      /--strategy "newton" is not one of ekfac, kfac, diagonal, identity/,
    );
    expect(usageError(['attribute', '--damping', 'lots'])).toMatch(/--damping "lots"/);
    expect(usageError(['attribute', '--damping=-1'])).toMatch(/--damping "-1"/);
    // A negative number after a flag reads to parseArgs as another flag; the message says what it is (issue 25).
    expect(usageError(['attribute', '--damping', '-1'])).toBe(
      '--damping "-1": a negative number; damping must be ≥ 0 (or "heuristic")',
    );
    expect(usageError(['attribute', '--limit-train', '2.5'])).toMatch(/--limit-train "2.5" is not a positive integer/);
    expect(usageError(['attribute', '--limit-queries', '0'])).toMatch(/--limit-queries/);
    expect(usageError(['attribute', '--backend', 'tpu'])).toMatch(/--backend "tpu" is not one of auto, webgpu, cpu/);
    expect(usageError(['attribute', '--fisher', 'true'])).toMatch(/--fisher "true" is not one of sampled, empirical/);
    expect(usageError(['attribute', '--measurement', 'acc'])).toMatch(/--measurement "acc"/);
    expect(usageError(['attribute', '--batch-size', '0'])).toMatch(/--batch-size "0" is not a positive integer/);
    expect(usageError(['attribute', '--seed', 'x'])).toMatch(/--seed "x" is not a non-negative integer/);
    expect(usageError(['attribute', '--track', '(['])).toMatch(/--track "\(\[" is not a valid regular expression/);
    expect(usageError(['attribute', '--frobnicate'])).toMatch(/--frobnicate/);
    expect(usageError(['attribute', '--model'])).toMatch(/--model/);
    expect(usageError(['attribute', 'stray'])).toMatch(/stray/);
    expect(usageError(['attribtue'])).toMatch(/unknown command "attribtue"/);
  });

  test('a partial set of inputs names what is missing', () => {
    expect(usageError(['attribute', '--model', 'm.onnx', '--train', 'a.jsonl'])).toBe(
      '--model needs --queries too (or give none of them for the demo)',
    );
  });
});
