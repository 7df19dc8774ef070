/**
 * The `iwb` commands as one table: each has a name, its own usage text, a parser (flags → what it runs; every mistake
 * a CliUsageError, exit 2) and a runner (returns the exit code; a thrown error is a failed run, exit 1). main.ts
 * dispatches through it with one error path. To add a command: write its module (usage, parse, run) and add an entry
 * here (docs/architecture.md, "A CLI command").
 */
import { attribute, planAttribute, type CliIo } from './attribute';
import { CliUsageError, parseCommand, USAGE, type AttributeArgs } from './args';
import { BUNDLE_USAGE, exportCommand, inspectCommand } from './bundle-commands';
import { EVALUATE_USAGE, parseEvaluate, runEvaluate, type EvaluateRun } from './evaluate';
import {
  asksForGroups,
  EVALUATE_GROUPS_USAGE,
  parseEvaluateGroups,
  runEvaluateGroups,
  type EvaluateGroupsRun,
} from './evaluate-groups';
import { layersCommand, LAYERS_USAGE } from './layers';

export interface CliCommand<Parsed> {
  readonly name: string;
  /** What its errors start with: `iwb` (the default) or `iwb <name>`. */
  readonly label: string;
  /** The whole of `iwb <name> --help`. */
  readonly usage: string;
  parse(argv: readonly string[]): Parsed;
  run(parsed: Parsed, io: CliIo): Promise<number>;
}

/**
 * A command's entry, its parse result checked against its own runner. The table holds them as CliCommand<unknown>:
 * main.ts hands each runner only what its own parser returned.
 */
function command<Parsed>(entry: CliCommand<Parsed>): CliCommand<unknown> {
  return entry;
}

/**
 * `iwb inspect` and `iwb export` share one usage text (bundle-commands.ts); each command's help is its own lines of it:
 * from the line that names it up to the line that names another command.
 */
function usageLines(usage: string, name: string): string {
  const lines = usage.split('\n');
  const start = lines.findIndex((line) => line.includes(`iwb ${name} `));
  if (start < 0) return usage;
  const length = lines.slice(start + 1).findIndex((line) => /^\s*(Usage: )?iwb [a-z]+ /.test(line));
  const own = lines.slice(start, length < 0 ? undefined : start + 1 + length);
  own[0] = own[0]!.replace(/^\s*(Usage: )?iwb /, 'Usage: iwb ');
  return own.join('\n');
}

/** Commands whose module runs from the raw arguments (it parses inside): parse only keeps them. */
const passArgs = (argv: readonly string[]): readonly string[] => argv;

export const COMMANDS: readonly CliCommand<unknown>[] = [
  command<AttributeArgs>({
    name: 'attribute',
    label: 'iwb',
    usage: USAGE,
    parse: (argv) => {
      const parsed = parseCommand(['attribute', ...argv]);
      // --help is answered before parsing; parseCommand's own 'help' is for a bare `iwb`.
      if (parsed.name !== 'attribute') throw new CliUsageError('attribute: expected flags');
      return parsed.args;
    },
    run: async (args, io) => {
      if (args.plan) await planAttribute(args, io);
      else await attribute(args, io);
      return 0;
    },
  }),
  command<readonly string[]>({
    name: 'layers',
    label: 'iwb',
    usage: LAYERS_USAGE,
    parse: passArgs,
    run: async (argv, io) => ((await layersCommand(argv, io)) ? 0 : 1),
  }),
  command<EvaluateRun | EvaluateGroupsRun>({
    name: 'evaluate',
    label: 'iwb evaluate',
    usage: `${EVALUATE_USAGE}\n\n${EVALUATE_GROUPS_USAGE}`,
    // --groups: the group-level evidence (evaluate-groups.ts), a separate set of flags.
    parse: (argv) => (asksForGroups(argv) ? parseEvaluateGroups(argv) : parseEvaluate(argv)),
    run: (parsed, io) => ('flags' in parsed ? runEvaluate(parsed, io) : runEvaluateGroups(parsed, io)),
  }),
  command<readonly string[]>({
    name: 'inspect',
    label: 'iwb',
    usage: usageLines(BUNDLE_USAGE, 'inspect'),
    parse: passArgs,
    run: async (argv, io) => (await inspectCommand(argv, io), 0),
  }),
  command<readonly string[]>({
    name: 'export',
    label: 'iwb',
    usage: usageLines(BUNDLE_USAGE, 'export'),
    parse: passArgs,
    run: async (argv, io) => (await exportCommand(argv, io), 0),
  }),
];

/** `iwb --help`: every command's usage, in the table's order. */
export function fullUsage(): string {
  return COMMANDS.map((c) => c.usage).join('\n\n');
}

export function findCommand(name: string): CliCommand<unknown> | undefined {
  return COMMANDS.find((c) => c.name === name);
}
