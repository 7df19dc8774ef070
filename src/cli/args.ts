/**
 * Command-line parsing for `iwb`. Every mistake becomes one CliUsageError whose message is a single line naming the
 * flag and what was wrong with it; main.ts prints that line and exits non-zero.
 */
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, DEFAULT_RUN_CONFIG, FISHER_MODES, MEASUREMENTS, type RunConfig } from '../app/config';
import { runConfig } from '../app/config-check';
import { STRATEGY_NAMES } from '../core/strategy';
import { isTrackPreset, TRACK_PRESETS } from '../app/track-presets';
import type { DemoVariant } from '../data/dataset';
import { MEASURE_MODES } from '../data/measure';

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

const defaults = DEFAULT_RUN_CONFIG;
const heuristicFactor = defaults.damping.kind === 'heuristic' ? defaults.damping.factor : 0;

export const USAGE = `Usage: iwb attribute [--model M.onnx --tokenizer T.json --train train.jsonl --queries queries.jsonl]
                     [--model-data M.onnx.data] [--model-dir DIR [--variant NAME]]
                     [--out result.iwb] [--json summary.json]
                     [--strategy ${STRATEGY_NAMES.join('|')}] [--damping heuristic|<number>]
                     [--fisher sampled|empirical] [--measurement mean-log-likelihood|summed-loss]
                     [--track mlp|attention|all|<regex>] [--per-token] [--backend auto|webgpu|cpu]
                     [--limit-train N] [--limit-queries N] [--sample N] [--sample-queries N]
                     [--batch-size N] [--query-batch N] [--plan]
                     [--query-rank K] [--seed N] [--refine-eigen] [--max-length N] [--truncate]
                     [--demo demo|micro|after] [--quiet] [--factors DIR] [--kronfluence-out DIR]
                     [--measure response|final-answer|spans] [--save-factors DIR]
                     [--generate PROMPT [--max-new-tokens N] [--temperature T] [--compare REFERENCE]]

Without --model/--train/--queries, attributes the built-in demo model on a subsample of its data.
--damping heuristic (default) is ${heuristicFactor} x mean(lambda) per layer; a number is an absolute damping.
--backend auto (default) is WebGPU on a hardware adapter and the float64 CPU backend otherwise.
--limit-train/--limit-queries take the first N rows; --sample/--sample-queries take a seeded sample (--seed)
stratified by domain x difficulty (queries: by benchmark) instead, in proportion with one row per stratum first.
--plan prints the memory plan and time estimate for the model, data and backend, and exits without running.
--batch-size (default ${defaults.batchSizes.fit}) sets the training sequences per batch of every pass over the
training set; --query-batch (default ${defaults.batchSizes.query}) the queries scored together. --query-rank K
replaces each preconditioned query gradient by a rank-K factorisation. --refine-eigen refines every
eigendecomposition in float64 on the host. The page's run controls offer the same options with the same defaults.
Scores are influence on the query's mean response log-likelihood: positive = the training example helps.
--measure final-answer counts only each query's final answer (after "####"; code: the function bodies), spans only
its rows' "measure" spans (docs/data.md); a row's own "measure" spans are used whatever the mode.
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
quantized, or --variant NAME (model_q4). --track mlp (the default's layers), attention (q/k/v/o projections) or all
(every linear layer but the output head) chooses layers by role; any other value is a regular expression over node
names. iwb layers MODEL lists what --track chooses.`;

const OPTIONS = {
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
  strategy: { type: 'string' },
  damping: { type: 'string' },
  track: { type: 'string' },
  'per-token': { type: 'boolean' },
  fisher: { type: 'string' },
  measurement: { type: 'string' },
  measure: { type: 'string' },
  backend: { type: 'string' },
  'limit-train': { type: 'string' },
  'limit-queries': { type: 'string' },
  sample: { type: 'string' },
  'sample-queries': { type: 'string' },
  plan: { type: 'boolean' },
  'batch-size': { type: 'string' },
  'query-batch': { type: 'string' },
  'query-rank': { type: 'string' },
  seed: { type: 'string' },
  'refine-eigen': { type: 'boolean' },
  'max-length': { type: 'string' },
  truncate: { type: 'boolean' },
  quiet: { type: 'boolean' },
  demo: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

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
  const batchSize = positiveInteger('--batch-size', values['batch-size']);
  const queryBatch = positiveInteger('--query-batch', values['query-batch']);
  const seed = values.seed === undefined ? undefined : nonNegativeInteger('--seed', values.seed);
  const config = runConfig({
    strategy: oneOf('--strategy', values.strategy, STRATEGY_NAMES) ?? defaults.strategy,
    damping: damping(values.damping),
    fisher: oneOf('--fisher', values.fisher, FISHER_MODES) ?? defaults.fisher,
    measurement: oneOf('--measurement', values.measurement, MEASUREMENTS) ?? defaults.measurement,
    measure: oneOf('--measure', values.measure, MEASURE_MODES) ?? defaults.measure,
    trackedLayers: trackFlag(values.track),
    perToken: values['per-token'] ?? defaults.perToken,
    backend: oneOf('--backend', values.backend, BACKEND_CHOICES) ?? defaults.backend,
    limits: limits(values),
    batchSizes: {
      ...(batchSize !== undefined && { fit: batchSize, train: batchSize }),
      ...(queryBatch !== undefined && { query: queryBatch }),
    },
    queryRank: positiveInteger('--query-rank', values['query-rank']) ?? defaults.queryRank,
    ...(seed !== undefined && { seed }),
    refineEigen: values['refine-eigen'] ?? defaults.refineEigen,
  });
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

/** --limit-* (first rows) or --sample* (a stratified sample), not both kinds at once: the two mean different rows. */
function limits(values: ReturnType<typeof parseAttributeFlags>): RunConfig['limits'] {
  const first = [values['limit-train'] && '--limit-train', values['limit-queries'] && '--limit-queries'];
  const sampled = [values.sample && '--sample', values['sample-queries'] && '--sample-queries'];
  const [firstFlag, sampleFlag] = [first.find(Boolean), sampled.find(Boolean)];
  if (firstFlag && sampleFlag) {
    throw new CliUsageError(
      `${firstFlag} takes the first rows and ${sampleFlag} a stratified sample: use --sample and --sample-queries together`,
    );
  }
  if (sampleFlag) {
    return {
      train: positiveInteger('--sample', values.sample) ?? null,
      queries: positiveInteger('--sample-queries', values['sample-queries']) ?? null,
      sample: true,
    };
  }
  return {
    train: positiveInteger('--limit-train', values['limit-train']) ?? null,
    queries: positiveInteger('--limit-queries', values['limit-queries']) ?? null,
    sample: false,
  };
}

export function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new CliUsageError(`${flag} "${value}" is not one of ${allowed.join(', ')}`);
}

function temperature(value: string | undefined): number {
  if (value === undefined) return 0;
  const number = Number(value);
  if (value.trim() === '' || !(Number.isFinite(number) && number >= 0))
    throw new CliUsageError(`--temperature "${value}" is not a number ≥ 0 (0: greedy)`);
  return number;
}

function damping(value: string | undefined): RunConfig['damping'] {
  if (value === undefined || value === 'heuristic') return defaults.damping;
  const number = Number(value);
  // Plain decimals only: Number() would also take 0x10, 0b1, Infinity and '  5'.
  if (!DECIMAL.test(value) || !Number.isFinite(number) || number < 0) {
    throw new CliUsageError(`--damping "${value}" is neither "heuristic" nor a non-negative decimal number`);
  }
  return { kind: 'absolute', value: number };
}

/** --track: a preset (mlp, attention, all: layers by role, app/track-presets.ts) or a regular expression over names. */
export function trackFlag(value: string | undefined): string | null {
  if (value === undefined) return defaults.trackedLayers;
  if (isTrackPreset(value)) return value;
  if (value === '')
    throw new CliUsageError(`--track is empty: give ${TRACK_PRESETS.join(', ')} or a regular expression`);
  try {
    new RegExp(value);
  } catch (error) {
    throw new CliUsageError(
      `--track "${value}" is not a valid regular expression: ${firstLine((error as Error).message)}`,
    );
  }
  return value;
}

function demo(value: string | undefined, filesGiven: boolean): DemoVariant {
  if (value === undefined) return 'demo';
  if (filesGiven)
    throw new CliUsageError('--demo runs a built-in demo: leave out --model/--tokenizer/--train/--queries');
  if (value === 'demo' || value === 'micro' || value === 'after') return value;
  throw new CliUsageError(`--demo "${value}" is not one of demo, micro, after`);
}

function positiveInteger(flag: string, value: string | undefined): number | undefined {
  const number = value === undefined ? undefined : nonNegativeInteger(flag, value);
  if (number === 0) throw new CliUsageError(`${flag} "${value}" is not a positive integer`);
  return number;
}

function nonNegativeInteger(flag: string, value: string): number {
  const number = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(number)) {
    const kind = flag === '--seed' ? 'non-negative' : 'positive';
    throw new CliUsageError(`${flag} "${value}" is not a ${kind} integer (decimal digits only)`);
  }
  return number;
}

const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
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
