/**
 * Command-line parsing for `iwb`. Every mistake becomes one CliUsageError whose message is a single line naming the
 * flag and what was wrong with it; main.ts prints that line and exits non-zero.
 */
import { parseArgs } from 'node:util';

export const STRATEGIES = ['ekfac', 'kfac', 'diagonal', 'identity'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export type DampingChoice = { readonly kind: 'heuristic'; readonly factor: number } | { readonly kind: 'absolute'; readonly value: number };

export interface AttributeArgs {
  /** The four inputs; all undefined means the built-in demo. */
  readonly model?: string;
  readonly tokenizer?: string;
  readonly train?: string;
  readonly queries?: string;
  readonly out?: string;
  readonly json?: string;
  /** A kronfluence factors directory to score with instead of fitting factors here. */
  readonly factors?: string;
  /** Where to write this run's factors and raw scores in kronfluence's layout. */
  readonly kronfluenceOut?: string;
  readonly strategy: StrategyName;
  readonly damping: DampingChoice;
  /** Regular expression over node names (and weight names) choosing the tracked layers; undefined: the model's MLP projections. */
  readonly track?: RegExp;
  readonly perToken: boolean;
  /** undefined: WebGPU on a hardware adapter, else CPU. */
  readonly backend?: 'webgpu' | 'cpu';
  readonly limitTrain?: number;
  readonly limitQueries?: number;
  /** The longest sequence the model takes; undefined: read from the graph's position embedding. */
  readonly maxLength?: number;
  /** Cut sequences longer than the context instead of refusing them. */
  readonly truncate: boolean;
  readonly quiet: boolean;
  /** Which built-in demo runs without inputs: 'micro' is the tiny test version. */
  readonly demo: 'demo' | 'micro';
}

export type Command = { readonly name: 'attribute'; readonly args: AttributeArgs } | { readonly name: 'help' };

export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

/** kronfluence's heuristic damping: δ = 0.1 · mean(Λ) per layer. */
export const HEURISTIC_DAMPING_FACTOR = 0.1;

export const USAGE = `Usage: iwb attribute [--model M.onnx --tokenizer T.json --train train.jsonl --queries queries.jsonl]
                     [--out result.iwb] [--json summary.json]
                     [--strategy ekfac|kfac|diagonal|identity] [--damping heuristic|<number>]
                     [--track <regex>] [--per-token] [--backend webgpu|cpu]
                     [--limit-train N] [--limit-queries N] [--max-length N] [--truncate]
                     [--demo demo|micro] [--quiet]
                     [--factors DIR] [--kronfluence-out DIR]

Without --model/--train/--queries, attributes the built-in demo model on a subsample of its data.
--damping heuristic (default) is 0.1 x mean(lambda) per layer; a number is an absolute damping.
--backend defaults to WebGPU on a hardware adapter and to the float64 CPU backend otherwise.
Scores are influence on the query's mean response log-likelihood: positive = the training example helps.
--factors DIR scores with factors from a kronfluence factors directory (or an earlier --kronfluence-out) instead of
fitting them; --kronfluence-out DIR writes this run's factors and raw scores in kronfluence's layout.
--max-length N is the model's context (default: the size of its position embedding); a longer row is refused with
its file:line, or cut to N tokens with --truncate. --out and --json are written whole or not at all.`;

const OPTIONS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  train: { type: 'string' },
  queries: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'string' },
  factors: { type: 'string' },
  'kronfluence-out': { type: 'string' },
  strategy: { type: 'string' },
  damping: { type: 'string' },
  track: { type: 'string' },
  'per-token': { type: 'boolean' },
  backend: { type: 'string' },
  'limit-train': { type: 'string' },
  'limit-queries': { type: 'string' },
  'max-length': { type: 'string' },
  truncate: { type: 'boolean' },
  quiet: { type: 'boolean' },
  demo: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseCommand(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') return { name: 'help' };
  if (command !== 'attribute') throw new CliUsageError(`unknown command "${command}" (the only command is "attribute"; see iwb --help)`);
  let values: ReturnType<typeof parseAttributeFlags>;
  try {
    values = parseAttributeFlags(rest);
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    // Node's messages name the option; some span lines ("argument is ambiguous.\nDid you forget…"): keep one line.
    throw new CliUsageError(oneLine((error as Error).message));
  }
  if (values.help) return { name: 'help' };
  return { name: 'attribute', args: attributeArgs(values) };
}

function parseAttributeFlags(args: string[]) {
  const { values, tokens } = parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true, tokens: true });
  // parseArgs keeps the last of a repeated flag; a repeat is almost always a mistake (two --out, two --train).
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new CliUsageError(`--${token.name} is given more than once; give it once`);
    seen.add(token.name);
  }
  return values;
}

function attributeArgs(values: ReturnType<typeof parseAttributeFlags>): AttributeArgs {
  const inputs = { model: values.model, tokenizer: values.tokenizer, train: values.train, queries: values.queries };
  const given = Object.entries(inputs).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (given.length > 0) {
    const required = ['model', 'train', 'queries'].filter((k) => !given.includes(k));
    if (required.length > 0) {
      throw new CliUsageError(`--${given[0]} needs ${required.map((k) => `--${k}`).join(' and ')} too (or give none of them for the demo)`);
    }
  }
  return {
    ...inputs,
    out: values.out,
    json: values.json,
    factors: values.factors,
    kronfluenceOut: values['kronfluence-out'],
    strategy: strategy(values.strategy),
    damping: damping(values.damping),
    track: track(values.track),
    perToken: values['per-token'] ?? false,
    backend: backend(values.backend),
    limitTrain: positiveInteger('--limit-train', values['limit-train']),
    limitQueries: positiveInteger('--limit-queries', values['limit-queries']),
    maxLength: positiveInteger('--max-length', values['max-length']),
    truncate: values.truncate ?? false,
    quiet: values.quiet ?? false,
    demo: demo(values.demo, given.length > 0),
  };
}

function strategy(value: string | undefined): StrategyName {
  if (value === undefined) return 'ekfac';
  if ((STRATEGIES as readonly string[]).includes(value)) return value as StrategyName;
  throw new CliUsageError(`--strategy "${value}" is not one of ${STRATEGIES.join(', ')}`);
}

function damping(value: string | undefined): DampingChoice {
  if (value === undefined || value === 'heuristic') return { kind: 'heuristic', factor: HEURISTIC_DAMPING_FACTOR };
  const number = Number(value);
  // Plain decimals only: Number() would also take 0x10, 0b1, Infinity and '  5'.
  if (!DECIMAL.test(value) || !Number.isFinite(number) || number < 0) {
    throw new CliUsageError(`--damping "${value}" is neither "heuristic" nor a non-negative decimal number`);
  }
  return { kind: 'absolute', value: number };
}

function track(value: string | undefined): RegExp | undefined {
  if (value === undefined) return undefined;
  try {
    return new RegExp(value);
  } catch (error) {
    throw new CliUsageError(`--track "${value}" is not a valid regular expression: ${firstLine((error as Error).message)}`);
  }
}

function demo(value: string | undefined, filesGiven: boolean): 'demo' | 'micro' {
  if (value === undefined) return 'demo';
  if (filesGiven) throw new CliUsageError('--demo runs a built-in demo: leave out --model/--tokenizer/--train/--queries');
  if (value === 'demo' || value === 'micro') return value;
  throw new CliUsageError(`--demo "${value}" is not one of demo, micro`);
}

function backend(value: string | undefined): 'webgpu' | 'cpu' | undefined {
  if (value === undefined || value === 'webgpu' || value === 'cpu') return value;
  throw new CliUsageError(`--backend "${value}" is not one of webgpu, cpu`);
}

function positiveInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(number) || number < 1) {
    throw new CliUsageError(`${flag} "${value}" is not a positive integer (decimal digits only)`);
  }
  return number;
}

const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

function oneLine(message: string): string {
  return message.trim().split(/\s*\n\s*/).join(' ');
}
