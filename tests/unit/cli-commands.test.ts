/**
 * `iwb` as a command table (src/cli/commands.ts): each command's --help prints its own usage and nothing else,
 * `iwb --version` prints package.json's version, unknown commands and usage mistakes go through the one error path
 * (one line, exit 2), failed runs exit 1.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { COMMANDS } from '../../src/cli/commands';
import { cli } from '../helpers/cli';

const NAMES = ['attribute', 'layers', 'evaluate', 'inspect', 'export'];

/** The commands a usage text shows a synopsis for ("iwb <name> " at a line's start, after "Usage:" or spaces). */
function synopses(usage: string): string[] {
  return [...usage.matchAll(/^(?:Usage:)?\s*iwb ([a-z]+) /gm)].map((m) => m[1]!);
}

/** The commands whose synopses a usage text prints, in order; a command may have several forms (evaluate --groups). */
function commandsIn(usage: string): string[] {
  return synopses(usage).filter((name, i, all) => name !== all[i - 1]);
}

describe('iwb command table', () => {
  test('the table holds every command once', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(NAMES);
  });

  test.each(NAMES)('iwb %s --help prints only its own usage', async (name) => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await cli([name, flag]);
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout.startsWith(`Usage: iwb ${name} `)).toBe(true);
      expect(commandsIn(stdout)).toEqual([name]);
    }
  });

  test('--help after other flags still prints the command usage, and runs nothing', async () => {
    const { code, stdout } = await cli(['attribute', '--strategy', 'kfac', '--help']);
    expect(code).toBe(0);
    expect(synopses(stdout)).toEqual(['attribute']);
  });

  test('iwb --help (and a bare iwb) prints every command usage in the table order', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], []]) {
      const { code, stdout } = await cli(argv);
      expect(code).toBe(0);
      expect(commandsIn(stdout)).toEqual(NAMES);
    }
  });

  test('iwb --version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-V']) {
      const { code, stdout, stderr } = await cli([flag]);
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toBe(`iwb ${version}\n`);
    }
  });

  test('an unknown command is one line naming it and the commands (exit 2)', async () => {
    const { code, stdout, stderr } = await cli(['attirbute']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'iwb: unknown command "attirbute" (commands: attribute, layers, evaluate, inspect, export; see iwb --help)\n',
    );
  });

  test('usage mistakes exit 2 and failed runs exit 1, one line each, labelled as before', async () => {
    const layers = await cli(['layers']);
    expect(layers.code).toBe(2);
    expect(layers.stderr).toMatch(/^iwb: give one model file Usage: iwb layers [^\n]*\n$/);
    const flag = await cli(['attribute', '--strategy', 'newton']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^iwb: --strategy "newton" is not one of ekfac, kfac, diagonal, identity/);
    expect(flag.stderr.trimEnd().split('\n')).toHaveLength(1);
    const unknownFlag = await cli(['inspect', 'x.iwb', '--nope']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/^iwb: .*--nope/);
    const evaluate = await cli(['evaluate', '--demo', 'large']);
    expect(evaluate.code).toBe(2);
    expect(evaluate.stderr).toBe('iwb evaluate: --demo "large" is not one of micro, demo\n');
    const missing = await cli(['inspect', '/nonexistent/run.iwb']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^iwb: .*\/nonexistent\/run\.iwb.*\n$/);
  });
});
