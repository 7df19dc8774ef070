/**
 * The run's options as one declarative table (in the spirit of kronfluence's FactorArguments / ScoreArguments): for
 * each option its CLI flag, value grammar, default, help line, page control and parser, and the RunConfig fields it
 * sets. Everything else derives from it: `iwb attribute`'s flags and usage text (cli/args.ts), the page's Options
 * controls and their reading (ui/run-controls.ts), and the values `iwb evaluate` shares (damping, Fisher, tracked
 * layers, limits). One grammar and one parser per option: `--damping heuristic:0.05` means the same on the CLI, in
 * `iwb evaluate` and in the page's damping field.
 *
 * Plain data and pure functions: the page imports this (through the worker's protocol) without the engine; the CLI
 * checks the result with config-check.ts's runConfig.
 */
import { STRATEGY_NAMES, type Strategy } from '../core/strategy';
import { MEASURE_MODES, type MeasureMode } from '../data/measure';
import type { FisherMode, Measurement } from '../influence/types';
import {
  BACKEND_CHOICES,
  DEFAULT_RUN_CONFIG,
  FISHER_MODES,
  MEASUREMENTS,
  withChanges,
  type BackendChoice,
  type RunConfig,
  type RunConfigChanges,
} from './config';
import { choice, integerAtLeast, parseDamping, parseTrack, Problem } from './option-grammar';
import { TRACK_PRESETS } from './track-presets';

/** One bad option value: the message names the option (its flag on the CLI, its label on the page) and the grammar. */
export class OptionValueError extends Error {
  override readonly name = 'OptionValueError';
  constructor(
    readonly option: RunOptionName,
    readonly value: string,
    readonly problem: string,
    message: string,
  ) {
    super(message);
  }
}

/** How the page shows an option under Options (its element id is the option's name). */
export interface PageControl {
  readonly control: 'select' | 'text' | 'number' | 'checkbox';
  /** The label beside the control. */
  readonly label: string;
  /** Text and number fields: what an empty field means (empty keeps the default). */
  readonly placeholder?: string;
  /** Selects: the text of each choice (default: the value itself). */
  readonly choiceText?: Readonly<Record<string, string>>;
  /** number fields: the smallest value the field offers. */
  readonly min?: number;
}

export interface RunOption<T> {
  /** `--name` on the command line; null: a page-only control. */
  readonly flag: string | null;
  /** The value's grammar as usage prints it (`ekfac|kfac|…`, `N`); null: a switch that takes no value. */
  readonly grammar: string | null;
  /** Selects and choice flags: the allowed values, in the order offered. */
  readonly choices?: readonly string[];
  readonly help: string;
  /** The default, in words (usage text). */
  readonly defaultText: string;
  readonly page: PageControl | null;
  /** Text → value; throws Problem (the grammar in words). Switches get 'true'. */
  readonly parse: (text: string) => T;
  /** The RunConfig fields the value sets. */
  readonly apply: (value: T) => RunConfigChanges;
}

const d = DEFAULT_RUN_CONFIG;
const heuristicFactor = d.damping.kind === 'heuristic' ? d.damping.factor : 0.1;

const on = (): true => true;
const positive = integerAtLeast(1);

function option<T>(spec: RunOption<T>): RunOption<T> {
  return spec;
}

/** The table, in the order usage lists it. */
export const RUN_OPTIONS = {
  strategy: option<Strategy>({
    flag: '--strategy',
    grammar: STRATEGY_NAMES.join('|'),
    choices: STRATEGY_NAMES,
    help: 'the preconditioner: EK-FAC, K-FAC, diagonal, or identity (a plain gradient dot product)',
    defaultText: d.strategy,
    page: {
      control: 'select',
      label: 'Strategy',
      choiceText: { ekfac: 'EK-FAC', kfac: 'K-FAC', identity: 'identity (gradient dot product)' },
    },
    parse: choice(STRATEGY_NAMES),
    apply: (strategy) => ({ strategy }),
  }),
  damping: option({
    flag: '--damping',
    grammar: 'heuristic[:F]|<number>',
    help: `heuristic is F x mean(lambda) per layer (F = ${heuristicFactor} unless heuristic:F); a number is an absolute damping`,
    defaultText: 'heuristic',
    page: { control: 'text', label: 'Damping δ', placeholder: `heuristic: ${heuristicFactor} × mean(Λ) per layer` },
    parse: parseDamping,
    apply: (damping) => ({ damping }),
  }),
  fisher: option<FisherMode>({
    flag: '--fisher',
    grammar: FISHER_MODES.join('|'),
    choices: FISHER_MODES,
    help: "labels sampled from the model (the true Fisher) or the data's own (empirical)",
    defaultText: d.fisher,
    page: { control: 'select', label: 'Fisher' },
    parse: choice(FISHER_MODES),
    apply: (fisher) => ({ fisher }),
  }),
  measurement: option<Measurement>({
    flag: '--measurement',
    grammar: MEASUREMENTS.join('|'),
    choices: MEASUREMENTS,
    help: "influence on the query's mean response log-likelihood (positive = the training example helps) or on its summed loss",
    defaultText: d.measurement,
    page: { control: 'select', label: 'Measurement' },
    parse: choice(MEASUREMENTS),
    apply: (measurement) => ({ measurement }),
  }),
  measure: option<MeasureMode>({
    flag: '--measure',
    grammar: MEASURE_MODES.join('|'),
    choices: MEASURE_MODES,
    help:
      'the response tokens a query counts: all, its final answer (after "####"; code: the function bodies) or its ' +
      'rows\' "measure" spans (docs/data.md); a row\'s own spans count whatever the mode',
    defaultText: d.measure,
    page: {
      control: 'select',
      label: 'Measure on',
      choiceText: {
        response: 'the whole response',
        'final-answer': 'the final answer (after ####; code: the function bodies)',
        spans: 'each query\'s own "measure" spans',
      },
    },
    parse: choice(MEASURE_MODES),
    apply: (measure) => ({ measure }),
  }),
  track: option({
    flag: '--track',
    grammar: `${TRACK_PRESETS.join('|')}|<regex>`,
    help:
      'layers by role: mlp (the MLP projections), attention (q/k/v/o projections) or all (every linear layer but ' +
      'the output head); any other value is a regular expression over node names (`iwb layers MODEL` lists them)',
    defaultText: 'the MLP projections',
    page: {
      control: 'text',
      label: 'Tracked layers (mlp, attention, all, or a regex over node names)',
      placeholder: 'MLP projections',
    },
    parse: parseTrack,
    apply: (trackedLayers) => ({ trackedLayers }),
  }),
  'per-token': option({
    flag: '--per-token',
    grammar: null,
    help: 'also keep per-token scores on the training side (memory: queries x training tokens x 8 bytes)',
    defaultText: String(d.perToken),
    page: { control: 'checkbox', label: 'Per-token scores' },
    parse: on,
    apply: (perToken) => ({ perToken }),
  }),
  backend: option<BackendChoice>({
    flag: '--backend',
    grammar: BACKEND_CHOICES.join('|'),
    choices: BACKEND_CHOICES,
    help: 'auto is WebGPU on a hardware adapter and the float64 CPU backend otherwise',
    defaultText: d.backend,
    page: {
      control: 'select',
      label: 'Backend',
      choiceText: { auto: 'automatic (WebGPU on a hardware GPU, else CPU)', webgpu: 'WebGPU', cpu: 'CPU (float64)' },
    },
    parse: choice(BACKEND_CHOICES),
    apply: (backend) => ({ backend }),
  }),
  'limit-train': option({
    flag: '--limit-train',
    grammar: 'N',
    help: 'the first N training rows',
    defaultText: 'every row (the demo: its subsample)',
    page: { control: 'number', label: 'Training examples', placeholder: 'all (demo: its subsample)', min: 1 },
    parse: positive,
    apply: (train) => ({ limits: { train } }),
  }),
  'limit-queries': option({
    flag: '--limit-queries',
    grammar: 'N',
    help: 'the first N queries',
    defaultText: 'every row (the demo: its subsample)',
    page: { control: 'number', label: 'Queries', placeholder: 'all (demo: its subsample)', min: 1 },
    parse: positive,
    apply: (queries) => ({ limits: { queries } }),
  }),
  sample: option({
    flag: '--sample',
    grammar: 'N',
    help:
      'a seeded sample (--seed) of N training rows stratified by domain x difficulty, in proportion with one row ' +
      'per stratum first, instead of the first rows',
    defaultText: 'none',
    page: null,
    parse: positive,
    apply: (train) => ({ limits: { train, sample: true } }),
  }),
  'sample-queries': option({
    flag: '--sample-queries',
    grammar: 'N',
    help: 'a seeded sample of N queries stratified by benchmark',
    defaultText: 'none',
    page: null,
    parse: positive,
    apply: (queries) => ({ limits: { queries, sample: true } }),
  }),
  stratified: option({
    flag: null,
    grammar: null,
    help: 'the page: take the limits as a stratified sample (the CLI: --sample, --sample-queries)',
    defaultText: String(d.limits.sample),
    page: { control: 'checkbox', label: 'Stratified sample (seeded) instead of the first rows' },
    parse: on,
    apply: (sample) => ({ limits: { sample } }),
  }),
  'batch-size': option({
    flag: '--batch-size',
    grammar: 'N',
    help: 'training sequences per batch of every pass over the training set',
    defaultText: String(d.batchSizes.fit),
    page: { control: 'number', label: 'Batch size (sequences)', placeholder: String(d.batchSizes.fit), min: 1 },
    parse: positive,
    apply: (batch) => ({ batchSizes: { fit: batch, train: batch } }),
  }),
  'query-batch': option({
    flag: '--query-batch',
    grammar: 'N',
    help: 'queries scored together',
    defaultText: String(d.batchSizes.query),
    page: { control: 'number', label: 'Query batch', placeholder: String(d.batchSizes.query), min: 1 },
    parse: positive,
    apply: (query) => ({ batchSizes: { query } }),
  }),
  'query-rank': option({
    flag: '--query-rank',
    grammar: 'K',
    help: 'replaces each preconditioned query gradient by a rank-K factorisation',
    defaultText: 'exact',
    page: { control: 'number', label: 'Query rank (low-rank P_q)', placeholder: 'exact', min: 1 },
    parse: positive,
    apply: (queryRank) => ({ queryRank }),
  }),
  seed: option({
    flag: '--seed',
    grammar: 'N',
    help: 'seeds the sampled labels, the stratified samples and sampled generation',
    defaultText: String(d.seed),
    page: { control: 'number', label: 'Seed', placeholder: String(d.seed), min: 0 },
    parse: integerAtLeast(0),
    apply: (seed) => ({ seed }),
  }),
  'refine-eigen': option({
    flag: '--refine-eigen',
    grammar: null,
    help: 'refines every eigendecomposition in float64 on the host',
    defaultText: String(d.refineEigen),
    page: { control: 'checkbox', label: 'Refine eigenbases in float64' },
    parse: on,
    apply: (refineEigen) => ({ refineEigen }),
  }),
} as const;

export type RunOptionName = keyof typeof RUN_OPTIONS;
export const RUN_OPTION_NAMES = Object.keys(RUN_OPTIONS) as RunOptionName[];

/** An option's spec, typed loosely (the table's entries differ in their value type). */
export function runOption(name: RunOptionName): RunOption<unknown> {
  return RUN_OPTIONS[name] as RunOption<unknown>;
}

/**
 * What was given, as typed: a flag's or a field's text, or a switch's state. Absent (or false for a switch): the
 * default. The page leaves out empty fields.
 */
export type OptionInput = { readonly [K in RunOptionName]?: string | boolean };

/** Who names the option in messages: the CLI by its flag, the page by its label. */
export type OptionNaming = 'flag' | 'label';

/** One option's text parsed, or one OptionValueError naming it, the value and the grammar. */
export function parseOption<K extends RunOptionName>(
  name: K,
  text: string,
  naming: OptionNaming = 'flag',
): ReturnType<(typeof RUN_OPTIONS)[K]['parse']> {
  const spec = runOption(name);
  try {
    return spec.parse(text) as ReturnType<(typeof RUN_OPTIONS)[K]['parse']>;
  } catch (error) {
    if (!(error instanceof Problem)) throw error;
    const value = error.withValue ? ` "${text}"` : '';
    const message =
      naming === 'label' && spec.page
        ? `${spec.page.label}:${value} ${error.message}`
        : `${spec.flag ?? name}${value} ${error.message}`;
    throw new OptionValueError(name, text, error.message, message);
  }
}

/** The RunConfig changes the given options make, each value checked by its option's grammar. */
export function optionChanges(input: OptionInput, naming: OptionNaming = 'flag'): RunConfigChanges {
  const given = RUN_OPTION_NAMES.filter((name) => input[name] !== undefined && input[name] !== false);
  // --limit-* takes the first rows, --sample* a stratified sample: the two mean different rows.
  const first = given.find((n) => n === 'limit-train' || n === 'limit-queries');
  const sampled = given.find((n) => n === 'sample' || n === 'sample-queries');
  if (first && sampled)
    throw new Error(
      `--${first} takes the first rows and --${sampled} a stratified sample: use --sample and --sample-queries together`,
    );
  let changes: RunConfigChanges = {};
  for (const name of given) {
    const raw = input[name]!;
    const value = parseOption(name, raw === true ? 'true' : String(raw), naming);
    changes = mergeChanges(changes, runOption(name).apply(value));
  }
  return changes;
}

/** The defaults with the given options: what the page starts a run with (the worker checks the rest). */
export function configFromOptions(input: OptionInput, naming: OptionNaming = 'flag'): RunConfig {
  return withChanges(DEFAULT_RUN_CONFIG, optionChanges(input, naming));
}

function mergeChanges(a: RunConfigChanges, b: RunConfigChanges): RunConfigChanges {
  return {
    ...a,
    ...b,
    ...((a.limits || b.limits) && { limits: { ...a.limits, ...b.limits } }),
    ...((a.batchSizes || b.batchSizes) && { batchSizes: { ...a.batchSizes, ...b.batchSizes } }),
  };
}
