/**
 * `iwb`: the workbench's engine from the command line. Returns the exit code: 0 done, 1 bad input or a failed run,
 * 2 bad usage. Every failure is ONE line on stderr naming the file, line, flag or node at fault.
 */
import { attribute, planAttribute, type CliIo } from './attribute';
import { CliUsageError, oneLine, parseCommand, USAGE } from './args';
import { BUNDLE_USAGE, exportCommand, inspectCommand } from './bundle-commands';
import { evaluateCommand, EVALUATE_USAGE } from './evaluate';
import { layersCommand, LAYERS_USAGE } from './layers';
import { terminalIo } from './terminal';

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
};

export async function runCli(argv: readonly string[], rawIo: CliIo = defaultIo): Promise<number> {
  // Every line on the terminal is escaped: ids, file names and echoed input cannot send control sequences.
  const io = terminalIo(rawIo);
  if (argv[0] === 'evaluate') return evaluateCommand(argv.slice(1), io);
  if (argv[0] === 'layers') {
    try {
      return (await layersCommand(argv.slice(1), io)) ? 0 : 1;
    } catch (error) {
      io.stderr(`iwb: ${oneLine(error)}\n`);
      return error instanceof CliUsageError ? 2 : 1;
    }
  }
  if (argv[0] === 'inspect' || argv[0] === 'export') {
    try {
      await (argv[0] === 'inspect' ? inspectCommand : exportCommand)(argv.slice(1), io);
      return 0;
    } catch (error) {
      io.stderr(`iwb: ${oneLine(error)}\n`);
      return error instanceof CliUsageError ? 2 : 1;
    }
  }
  let command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    io.stderr(`iwb: ${oneLine(error)}\n`);
    return error instanceof CliUsageError ? 2 : 1;
  }
  if (command.name === 'help') {
    io.stdout(`${USAGE}\n\n${LAYERS_USAGE}\n\n${EVALUATE_USAGE}\n\n${BUNDLE_USAGE}\n`);
    return 0;
  }
  try {
    if (command.args.plan) await planAttribute(command.args, io);
    else await attribute(command.args, io);
    return 0;
  } catch (error) {
    io.stderr(`iwb: ${oneLine(error)}\n`);
    if (process.env.IWB_DEBUG) io.stderr(`${(error as Error).stack}\n`);
    return 1;
  }
}
