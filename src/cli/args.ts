/**
 * Command-line parsing for `iwb`. Every mistake becomes one CliUsageError whose message is a single line naming the
 * flag and what was wrong with it; main.ts prints that line and exits non-zero.
 */
import { parseArgs } from 'node:util';
import type { RunConfig } from '../app/config';
import { runConfig } from '../app/config-check';
import { positiveIntegerFlag } from '../app/option-grammar';
import { optionChanges, runOption, RUN_OPTION_NAMES, type OptionInput } from '../app/options';
import { optionFlags, optionSynopsis, optionUsage } from '../app/option-usage';
import type { DemoVariant } from '../data/dataset';

export interface AttributeArgs {
  /** The four inputs; all undefined means the built-in demo. */
  readonly model?: string;
  /** The model's external data file, when not beside it under the name the model gives. */
  readonly modelData?: string;
  /** A model folder (config.json, tokenizer.json, onnx/*.onnx): gives the model and, unless given, the tokenizer. */
  readonly modelDir?: string;
  /** Which ONNX file of the model folder runs, by name (`model_q4`); default float32 > float16 > quantized. */
  readonly variant?: string;
  /** The folder's tokenizer_config.json (special tokens, chat_template), set from --model-dir. */
  readonly tokenizerConfig?: string;
  readonly tokenizer?: string;
  readonly train?: string;
  readonly queries?: string;
  readonly out?: string;
  readonly json?: string;
  /** A kronfluence factors directory to score with instead of fitting factors here. */
  readonly factors?: string;
  /** Where to write this run's factors and raw scores in kronfluence's layout. */
  readonly kronfluenceOut?: string;
  /** Where to write this run's fitted factors (kronfluence's layout) with their fingerprint, for --factors later. */
  readonly saveFactors?: string;
  /** A prompt: the model's greedy answer to it is the run's query (cli/generate.ts). */
  readonly generate?: string;
  /** At most this many generated tokens (default 64). */
  readonly maxNewTokens: number;
  /** A reference answer to the --generate prompt, attributed beside the model's and compared with it. */
  readonly compare?: string;
  /** 0: greedy generation; T > 0: sampled from softmax(logits / T) with the run's --seed. */
  readonly temperature: number;
  /** The longest sequence the model takes; undefined: read from the graph's position embedding. */
  readonly maxLength?: number;
  /** Cut sequences longer than the context instead of refusing them. */
  readonly truncate: boolean;
  readonly quiet: boolean;
  /** Print the memory plan and time estimate and exit. */
  readonly plan: boolean;
  /** Which built-in demo runs without inputs: 'micro' is the tiny test version, 'after' the after-answer variant. */
  readonly demo: DemoVariant;
  /** The run configuration, the page's: defaults from app/config.ts, changed by the flags. */
  readonly config: RunConfig;
}

export type Command = { readonly name: 'attribute'; readonly args: AttributeArgs } | { readonly name: 'help' };

export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

export const USAGE = `Usage: iwb attribute [--model M.onnx --tokenizer T.json --train train.jsonl --queries queries.jsonl]
                     [--model-data M.onnx.data] [--model-dir DIR [--variant NAME]]
                     [--out result.iwb] [--json summary.json] [--plan] [--quiet] [--help]
                     [--max-length N] [--truncate] [--demo demo|micro|after]
                     [--factors DIR] [--kronfluence-out DIR] [--save-factors DIR]
                     [--generate PROMPT [--max-new-tokens N] [--temperature T] [--compare REFERENCE]]
${optionSynopsis(21)}

Without --model/--train/--queries, attributes the built-in demo model on a subsample of its data.
--plan prints the memory plan and time estimate for the model, data and backend, and exits without running.
--factors DIR scores with factors from a kronfluence factors directory (or an earlier --kronfluence-out) instead of
fitting them; --kronfluence-out DIR writes this run's factors and raw scores in kronfluence's layout.
--save-factors DIR writes the fitted factors with a fingerprint (model, training data, strategy, Fisher, layers);
a later --factors DIR scores new queries against them and refuses them, naming what differs, for another run.
--generate PROMPT attributes the model's own greedy answer to PROMPT (at most --max-new-tokens, default 64) instead
of --queries (--temperature T > 0: sampled with --seed instead); --compare REFERENCE attributes a reference answer
beside it and lists the training examples that push toward one rather than the other.
--max-length N is the model's context (default: the size of its position embedding); a longer row is refused with
its file:line, or cut to N tokens with --truncate. The outputs are written whole or not at all.
A model with external data (model.onnx + model.onnx.data) is read with its data file from beside it, or from
--model-data FILE. float16/bfloat16 weights are cast to float32 on load, quantized ones dequantized (docs/models.md).
--model-dir DIR takes a model folder as downloaded (onnx/model*.onnx, tokenizer.json): float32 before float16 before
quantized, or --variant NAME (model_q4).

Run options (the page's Options offer the same, with the same defaults):
${optionUsage()}`;

/** The flags of \`iwb attribute\` itself (files, outputs, generation); the run's options come from app/options.ts. */
const OWN_OPTIONS = {
  model: { type: 'string' },
  'model-data': { type: 'string' },
  'model-dir': { type: 'string' },
  variant: { type: 'string' },
  tokenizer: { type: 'string' },
  train: { type: 'string' },
  queries: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'string' },
  factors: { type: 'string' },
  'kronfluence-out': { type: 'string' },
  'save-factors': { type: 'string' },
  generate: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  compare: { type: 'string' },
  temperature: { type: 'string' },
  plan: { type: 'boolean' },
  'max-length': { type: 'string' },
  truncate: { type: 'boolean' },
  quiet: { type: 'boolean' },
  demo: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Every flag \`iwb attribute\` takes, as node:util parseArgs's table. */
export const ATTRIBUTE_FLAGS = { ...OWN_OPTIONS, ...optionFlags() };

type OwnValues = {
  readonly [K in keyof typeof OWN_OPTIONS]?: (typeof OWN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};
type FlagValues = OwnValues & { readonly [flag: string]: string | boolean | undefined };

export function parseCommand(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') return { name: 'help' };
  if (command !== 'attribute')
    throw new CliUsageError(
      `unknown command "${command}" (commands: attribute, layers, evaluate, inspect, export; see iwb --help)`,
    );
  let values: ReturnType<typeof parseAttributeFlags>;
  try {
    values = parseAttributeFlags(rest);
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    // Node's messages name the option; some span lines ("argument is ambiguous.\nDid you forget…"): keep one line.
    throw new CliUsageError(parseArgsMessage(error, rest));
  }
  if (values.help) return { name: 'help' };
  return { name: 'attribute', args: attributeArgs(values) };
}

function parseAttributeFlags(args: string[]): FlagValues {
  const { values, tokens } = parseArgs({
    args,
    options: ATTRIBUTE_FLAGS,
    allowPositionals: false,
    strict: true,
    tokens: true,
  });
  // parseArgs keeps the last of a repeated flag; a repeat is almost always a mistake (two --out, two --train).
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new CliUsageError(`--${token.name} is given more than once; give it once`);
    seen.add(token.name);
  }
  // The table's flags make parseArgs's values an index signature; each is a string or a switch's boolean.
  return values as FlagValues;
}

function attributeArgs(values: FlagValues): AttributeArgs {
  const inputs = { model: values.model, tokenizer: values.tokenizer, train: values.train, queries: values.queries };
  const given = Object.entries({ ...inputs, 'model-dir': values['model-dir'] })
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  if (values['model-dir'] !== undefined && (values.model !== undefined || values['model-data'] !== undefined))
    throw new CliUsageError('--model-dir gives the model: leave out --model and --model-data');
  if (values.variant !== undefined && values['model-dir'] === undefined)
    throw new CliUsageError('--variant needs --model-dir (it names one ONNX file of that folder)');
  if (given.length > 0) {
    // --generate makes the queries: --queries is not needed then; --model-dir gives the model.
    const needed = values.generate !== undefined ? ['model', 'train'] : ['model', 'train', 'queries'];
    const required = needed
      .filter((k) => !given.includes(k))
      .filter((k) => k !== 'model' || !given.includes('model-dir'));
    if (required.length > 0) {
      throw new CliUsageError(
        `--${given[0]} needs ${required.map((k) => `--${k}`).join(' and ')} too (or give none of them for the demo)`,
      );
    }
  }
  // The run's options: each flag's text through its option's one parser (app/options.ts), then the config checks.
  const options = Object.fromEntries(
    RUN_OPTION_NAMES.flatMap((name) => {
      const flag = runOption(name).flag;
      return flag ? [[name, values[flag.slice(2)]]] : [];
    }),
  ) as OptionInput;
  const config = runConfig(usage(() => optionChanges(options)));
  if (values.compare !== undefined && values.generate === undefined)
    throw new CliUsageError('--compare needs --generate (it is a reference answer to the same prompt)');
  if (values.generate !== undefined && values.queries !== undefined)
    throw new CliUsageError('--generate makes the queries: give --generate or --queries, not both');
  if (values['model-data'] !== undefined && values.model === undefined)
    throw new CliUsageError('--model-data needs --model (it is the data file of that model)');
  return {
    ...inputs,
    ...(values['model-data'] !== undefined && { modelData: values['model-data'] }),
    ...(values['model-dir'] !== undefined && { modelDir: values['model-dir'] }),
    ...(values.variant !== undefined && { variant: values.variant }),
    out: values.out,
    json: values.json,
    factors: values.factors,
    kronfluenceOut: values['kronfluence-out'],
    ...(values['save-factors'] !== undefined && { saveFactors: values['save-factors'] }),
    ...(values.generate !== undefined && { generate: values.generate }),
    maxNewTokens: positiveInteger('--max-new-tokens', values['max-new-tokens']) ?? 64,
    ...(values.compare !== undefined && { compare: values.compare }),
    temperature: temperature(values.temperature),
    maxLength: positiveInteger('--max-length', values['max-length']),
    truncate: values.truncate ?? false,
    quiet: values.quiet ?? false,
    plan: values.plan ?? false,
    demo: demo(values.demo, given.length > 0),
    config,
  };
}

function temperature(value: string | undefined): number {
  if (value === undefined) return 0;
  const number = Number(value);
  if (value.trim() === '' || !(Number.isFinite(number) && number >= 0))
    throw new CliUsageError(`--temperature "${value}" is not a number ≥ 0 (0: greedy)`);
  return number;
}

function demo(value: string | undefined, filesGiven: boolean): DemoVariant {
  if (value === undefined) return 'demo';
  if (filesGiven)
    throw new CliUsageError('--demo runs a built-in demo: leave out --model/--tokenizer/--train/--queries');
  if (value === 'demo' || value === 'micro' || value === 'after') return value;
  throw new CliUsageError(`--demo "${value}" is not one of demo, micro, after`);
}

/** A flag of the command's own that takes a positive integer: the table's grammar (app/options.ts). */
function positiveInteger(flag: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : usage(() => positiveIntegerFlag(flag, value));
}

/** A flag value's refusal (app/options.ts: one error naming the flag and its grammar) as a usage error, exit 2. */
export function usage<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new CliUsageError(oneLine(error), { cause: error });
  }
}

/** An error (or message) as one line, for the CLI's one-line refusals. */
/**
 * node:util parseArgs's error as one line, whole (its hint included). A flag given a negative number (`--damping -1`)
 * reads to parseArgs as a flag followed by another flag ("argument is ambiguous"); that case says what it is.
 */
export function parseArgsMessage(error: unknown, args: readonly string[]): string {
  const message = oneLine(error);
  const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
  if (ambiguous) {
    const flag = ambiguous[1]!;
    const value = args[args.indexOf(flag) + 1];
    if (value !== undefined && /^-(\d|\.\d)/.test(value)) {
      const rule = flag === '--damping' ? 'damping must be ≥ 0 (or "heuristic")' : 'it takes no negative number';
      return `${flag} "${value}": a negative number; ${rule}`;
    }
  }
  return message;
}

export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .trim()
    .split(/\s*\n\s*/)
    .join(' ');
}
