/**
 * The options table (src/app/options.ts) drives `iwb attribute`'s flags and usage and the page's Options controls:
 * every option is in the usage text and docs/cli.md, a bad value is one error naming the flag (or, on the page, the
 * control) and the grammar, and the page's reading of its controls gives the CLI's config for the same inputs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';
import {
  configFromOptions,
  RUN_OPTION_NAMES,
  runOption,
  type OptionInput,
  type RunOptionName,
} from '../../src/app/options';
import { ATTRIBUTE_FLAGS, CliUsageError, parseCommand, USAGE } from '../../src/cli/args';

const flagged = RUN_OPTION_NAMES.filter((name) => runOption(name).flag !== null);

function cliConfig(argv: readonly string[]) {
  const command = parseCommand(['attribute', ...argv]);
  if (command.name !== 'attribute') throw new Error('expected an attribute command');
  return command.args.config;
}

function refusal(argv: readonly string[]): string {
  try {
    parseCommand(['attribute', ...argv]);
  } catch (error) {
    expect(error).toBeInstanceOf(CliUsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('the options table', () => {
  it('gives every flag of iwb attribute a place in its usage, and every run option its line', () => {
    for (const flag of Object.keys(ATTRIBUTE_FLAGS)) expect(USAGE, flag).toContain(`--${flag}`);
    for (const name of flagged) {
      const spec = runOption(name);
      const synopsis = `[${spec.flag}${spec.grammar ? ` ${spec.grammar}` : ''}]`;
      expect(USAGE, name).toContain(synopsis);
      expect(USAGE, name).toMatch(new RegExp(`^  ${spec.flag}( |$)`, 'm'));
    }
    // The option lines stay within the terminal width the rest of the text keeps.
    expect(Math.max(...USAGE.split('\n').map((line) => line.length))).toBeLessThanOrEqual(120);
  });

  it('names every run option in docs/cli.md', () => {
    const doc = readFileSync(join(__dirname, '../../docs/cli.md'), 'utf8');
    for (const name of flagged) expect(doc, name).toMatch(new RegExp(`\`${runOption(name).flag}[ \`]`));
  });

  it('refuses a bad value with one line naming the flag and the grammar', () => {
    const bad: Record<string, [string, RegExp]> = {
      strategy: ['newton', /^--strategy "newton" is not one of ekfac, kfac, diagonal, identity$/],
      damping: ['lots', /^--damping "lots" is not heuristic, heuristic:F \(F > 0\) or a non-negative decimal number$/],
      fisher: ['true', /^--fisher "true" is not one of sampled, empirical$/],
      measurement: ['loss', /^--measurement "loss" is not one of mean-log-likelihood, summed-loss$/],
      measure: ['all', /^--measure "all" is not one of response, final-answer, spans$/],
      track: ['([', /^--track "\(\[" is not a valid regular expression: /],
      backend: ['tpu', /^--backend "tpu" is not one of auto, webgpu, cpu$/],
      'limit-train': ['2.5', /^--limit-train "2.5" is not a positive integer \(decimal digits only\)$/],
      'limit-queries': ['0', /^--limit-queries "0" is not a positive integer \(decimal digits only\)$/],
      sample: ['1e3', /^--sample "1e3" is not a positive integer \(decimal digits only\)$/],
      'sample-queries': ['x', /^--sample-queries "x" is not a positive integer \(decimal digits only\)$/],
      'batch-size': ['0', /^--batch-size "0" is not a positive integer \(decimal digits only\)$/],
      'query-batch': ['0x10', /^--query-batch "0x10" is not a positive integer \(decimal digits only\)$/],
      'query-rank': [' 5', /^--query-rank " 5" is not a positive integer \(decimal digits only\)$/],
      seed: ['1.5', /^--seed "1.5" is not a non-negative integer \(decimal digits only\)$/],
    };
    const valued = flagged.filter((name) => runOption(name).grammar !== null);
    expect(Object.keys(bad).sort()).toEqual([...valued].sort());
    for (const [name, [value, message]] of Object.entries(bad))
      expect(refusal([runOption(name as RunOptionName).flag!, value])).toMatch(message);
  });

  it('takes one damping grammar: heuristic, heuristic:F or a number, on the CLI as on the page', () => {
    expect(cliConfig(['--damping', 'heuristic:0.05']).damping).toEqual({ kind: 'heuristic', factor: 0.05 });
    expect(configFromOptions({ damping: 'heuristic:0.05' }, 'label').damping).toEqual({
      kind: 'heuristic',
      factor: 0.05,
    });
    expect(cliConfig(['--damping', '1e-3']).damping).toEqual({ kind: 'absolute', value: 0.001 });
    expect(() => configFromOptions({ damping: '0x10' }, 'label')).toThrow(
      'Damping δ: "0x10" is not heuristic, heuristic:F (F > 0) or a non-negative decimal number',
    );
  });
});

describe('the page and the CLI', () => {
  const cases: { name: string; page: OptionInput; argv: string[] }[] = [
    { name: 'nothing given: the defaults', page: {}, argv: [] },
    {
      name: 'every option set',
      page: {
        strategy: 'kfac',
        damping: 'heuristic:0.05',
        fisher: 'empirical',
        measurement: 'summed-loss',
        measure: 'final-answer',
        track: 'attention',
        'per-token': true,
        backend: 'cpu',
        'limit-train': '10',
        'limit-queries': '3',
        'batch-size': '4',
        'query-batch': '2',
        'query-rank': '5',
        seed: '7',
        'refine-eigen': true,
      },
      argv: [
        '--strategy',
        'kfac',
        '--damping',
        'heuristic:0.05',
        '--fisher',
        'empirical',
        '--measurement',
        'summed-loss',
        '--measure',
        'final-answer',
        '--track',
        'attention',
        '--per-token',
        '--backend',
        'cpu',
        '--limit-train',
        '10',
        '--limit-queries',
        '3',
        '--batch-size',
        '4',
        '--query-batch',
        '2',
        '--query-rank',
        '5',
        '--seed',
        '7',
        '--refine-eigen',
      ],
    },
    {
      name: "the page's stratified sample is the CLI's --sample",
      page: { 'limit-train': '12', 'limit-queries': '4', stratified: true, damping: '0.5', 'per-token': false },
      argv: ['--sample', '12', '--sample-queries', '4', '--damping', '0.5'],
    },
  ];
  for (const { name, page, argv } of cases)
    it(`give the same config: ${name}`, () => {
      expect(configFromOptions(page, 'label')).toEqual(cliConfig(argv));
    });

  it('start from the one set of defaults', () => {
    expect(configFromOptions({}, 'label')).toEqual(DEFAULT_RUN_CONFIG);
  });

  it('offer each page control once, from the table', () => {
    const ids = RUN_OPTION_NAMES.filter((name) => runOption(name).page !== null);
    expect(ids).toContain('stratified');
    const source = readFileSync(join(__dirname, '../../src/ui/run-controls.ts'), 'utf8');
    for (const id of ids) expect(source, id).toContain(`'${id}'`);
    expect(() => configFromOptions({ 'batch-size': '0' }, 'label')).toThrow(
      /^Batch size \(sequences\): "0" is not a positive integer \(decimal digits only\)$/,
    );
  });
});
