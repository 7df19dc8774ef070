/**
 * `iwb`: the workbench's engine from the command line. Returns the exit code: 0 done, 1 bad input or a failed run,
 * 2 bad usage. Every failure is ONE line on stderr naming the file, line, flag or node at fault. The commands are the
 * table in commands.ts; this file only dispatches, answers --help and --version, and is the one error path.
 */
import { readFileSync } from 'node:fs';
import type { CliIo } from './attribute';
import { CliUsageError, oneLine } from './args';
import { COMMANDS, findCommand, fullUsage } from './commands';
import { terminalIo } from './terminal';

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
};

const HELP = new Set(['help', '--help', '-h']);

/** The workbench's version, as package.json gives it. */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export async function runCli(argv: readonly string[], rawIo: CliIo = defaultIo): Promise<number> {
  // Every line on the terminal is escaped: ids, file names and echoed input cannot send control sequences.
  const io = terminalIo(rawIo);
  const [name, ...rest] = argv;
  if (name === undefined || HELP.has(name)) {
    io.stdout(`${fullUsage()}\n`);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`iwb ${packageVersion()}\n`);
    return 0;
  }
  const command = findCommand(name);
  if (command === undefined) {
    const names = COMMANDS.map((c) => c.name).join(', ');
    io.stderr(`iwb: unknown command "${name}" (commands: ${names}; see iwb --help)\n`);
    return 2;
  }
  if (rest.some((arg) => arg === '--help' || arg === '-h')) {
    io.stdout(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(command.parse(rest), io);
  } catch (error) {
    io.stderr(`${command.label}: ${oneLine(error)}\n`);
    if (error instanceof CliUsageError) return 2;
    if (process.env.IWB_DEBUG) io.stderr(`${(error as Error).stack}\n`);
    return 1;
  }
}
