/**
 * `iwb evaluate`: how well each strategy's influence predicts retraining (LDS and leave-one-out), for the built-in
 * demo or a user's causal LM (ONNX) and JSONL data. The model given is the INITIALISATION: it is trained on the whole
 * training set (the model whose influence is evaluated) and retrained from the same weights on every subset, all by
 * the project's training loop. All the evaluation logic is in src/eval; this file is flags, files and printing.
 */
import { parseArgs } from 'node:util';
import { nodeSource } from '../data/node-source';
import { chooseBackend } from '../app/backend-choice';
import { DEFAULT_RUN_CONFIG } from '../app/config';
import { STRATEGIES_PLAINEST_FIRST, STRATEGY_NAMES } from '../core/strategy';
import {
  EVALUATION_TRAINING_DEFAULTS,
  evaluationTraining,
  trainingRecord,
  type EvaluationSettings,
} from '../app/evaluation-job';
import { encodeRunBundle, evaluationContent } from '../app/bundle-content';
import { loadDemoInputs, loadUserInputs, type RunInputs } from '../app/inputs';
import { formatEvaluation } from '../eval/summary';
import { holdoutSplit, parseHoldout, runProtocol, type HoldoutSpec } from '../eval/protocol';
import { formatProtocol } from '../eval/protocol-summary';
import { candidateGrid, runCandidates, type CandidateSettings } from '../app/evaluation-candidates';
import { evaluationRecord, recordEnvironment } from './evaluation-record';
import type { Damping, FisherMode } from '../influence/types';
import { DEFAULT_EVALUATION } from '../eval/types';
import type { BundleContent } from '../store/bundle';
import type { Strategy } from '../core/strategy';
import type { CliIo } from './attribute';
import { CliUsageError, oneLine } from './args';
import { parseOption, RUN_OPTIONS } from '../app/options';
import { INPUT_LIMITS } from '../data/limits';
import { readInputBytes, readInputText } from './input-files';
import { fileInfluenceCache, fileStore } from './evaluation-files';
import { checkOutputPaths, writeOutputsAtomically } from './output';

export const EVALUATE_USAGE = `Usage: iwb evaluate [--model M.onnx --tokenizer T.json --train t.jsonl --queries q.jsonl]
                    [--demo micro|demo] [--limit-train N] [--limit-queries N]
                    [--subsets M] [--fraction A] [--seeds R] [--strategies ${STRATEGY_NAMES.join(',')}]
                    [--loo K] [--seed S] [--damping D[,D…]] [--fisher ${RUN_OPTIONS.fisher.grammar}[,…]]
                    [--holdout SHARE|queries=SHARE,subsets=SHARE] [--permutations P]
                    [--steps N] [--batch-size B] [--lr LR] [--training-seed S] [--track ${RUN_OPTIONS.track.grammar}]
                    [--checkpoint FILE [--saved-only]] [--out result.json|result.iwb] [--quiet]

The model is the initialisation: it is trained on all training examples (the model whose influence is scored) and
retrained from the same weights on M random subsets of a fraction A of them (R seeds each); LDS is the mean over
queries of the Spearman correlation between a subset's summed influence and its retrained measurement (the mean
log-likelihood of the query's reference response), with a bootstrap 95 % interval. --loo K also retrains without
each query's top and bottom K examples. --checkpoint FILE saves every retrain (and each strategy's influence in
FILE.influence.json; with --out x.iwb, the bundled attribution in FILE.influence.<hash>.iwb): run the same command
again to resume: it trains and attributes nothing that is saved. --saved-only trains nothing and scores the subsets whose
retrains are saved so far: a partial result of a long evaluation.
--holdout holds out a share of the queries and of the subsets (seeded): several --damping / --fisher values are
scored on the rest (the tuning split), each strategy keeps its best, and the LDS is reported on the held-out split.
Every run also reports each LDS with a two-way (queries × subsets) bootstrap interval and every pair of strategies
compared per query (difference, its two-way interval, a sign-flip permutation p-value; --permutations P, default
10000, exact for ≤ 16 queries). D is ${RUN_OPTIONS.damping.grammar}, as for iwb attribute: F × mean Λ (default F = 0.1) or an absolute damping.
--track chooses the layers attributed as for iwb attribute (default: the MLP projections); the retrains do not depend
on it, so a second run with another --track and the same --checkpoint attributes again and retrains nothing.
--out FILE.json writes the evaluation record (docs/experiments/records.md): configuration, git commit, machine, every
retrained measurement, predictions and the held-out, paired report.
--out FILE.iwb writes a bundle: the scores of the richest strategy evaluated (EK-FAC first) and the evaluation.
Defaults: --demo micro, M 100, A 0.5, R 1, all four strategies, K 0, --steps 200 --batch-size 8 --lr 0.01.`;

const OPTIONS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  train: { type: 'string' },
  queries: { type: 'string' },
  demo: { type: 'string' },
  'limit-train': { type: 'string' },
  'limit-queries': { type: 'string' },
  subsets: { type: 'string' },
  fraction: { type: 'string' },
  seeds: { type: 'string' },
  strategies: { type: 'string' },
  loo: { type: 'string' },
  seed: { type: 'string' },
  damping: { type: 'string' },
  fisher: { type: 'string' },
  holdout: { type: 'string' },
  permutations: { type: 'string' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'training-seed': { type: 'string' },
  track: { type: 'string' },
  checkpoint: { type: 'string' },
  'saved-only': { type: 'boolean' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseFlags>;

function parseFlags(argv: readonly string[]) {
  const { values, tokens } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    allowPositionals: false,
    strict: true,
    tokens: true,
  });
  // As for `iwb attribute`: a repeated flag is refused rather than silently taking the last value.
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new Error(`--${token.name} is given more than once; give it once`);
    seen.add(token.name);
  }
  return values;
}

/** Plain decimals only: Number() would also take 0x10, 0b1, Infinity and '  5'. */
const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** What `iwb evaluate` runs: its flags and the settings checked from them. */
export interface EvaluateRun {
  readonly flags: Flags;
  readonly settings: EvaluationSettings;
  /** The command line as given, for the evaluation record's environment. */
  readonly argv: readonly string[];
}

/**
 * The flags, which inputs go together and every setting, checked before anything runs: any mistake here is a usage
 * error (exit 2). Files are read by the run (a missing one: exit 1).
 */
export function parseEvaluate(argv: readonly string[]): EvaluateRun {
  try {
    const flags = parseFlags(argv);
    checkInputs(flags);
    return { flags, settings: settingsFrom(flags), argv };
  } catch (error) {
    throw error instanceof CliUsageError ? error : new CliUsageError(oneLine(error));
  }
}

export async function runEvaluate({ flags, settings, argv }: EvaluateRun, io: CliIo): Promise<number> {
  await evaluate(flags, settings, io, recordEnvironment(['evaluate', ...argv]));
  return 0;
}

/** Every flag value checked before anything runs: a mistake is a usage error (exit 2). */
function settingsFrom(flags: Flags): EvaluationSettings {
  const evaluation = {
    ...DEFAULT_EVALUATION,
    subsets: integer('--subsets', flags.subsets, DEFAULT_EVALUATION.subsets, 2),
    fraction: fractionFlag(flags.fraction),
    seedsPerSubset: integer('--seeds', flags.seeds, DEFAULT_EVALUATION.seedsPerSubset, 1),
    looPerQuery: integer('--loo', flags.loo, 0, 0),
    seed: integer('--seed', flags.seed, DEFAULT_EVALUATION.seed, 0),
  };
  const strategies = strategyList(flags.strategies);
  // Every value of the comma-separated lists is checked here; protocolFlags builds the candidates from them.
  listFlag(flags.fisher).forEach((f) => parseOption('fisher', f));
  const { candidates, holdout } = protocolFlags(flags);
  const { damping, fisher } = candidates[0]!;
  if (candidates.length > 1 && holdout === null)
    throw new Error(
      `${candidates.length} damping/Fisher settings would be chosen on the reported queries and subsets; ` +
        'give --holdout SHARE to choose on a tuning split and report on the held-out one',
    );
  const d = EVALUATION_TRAINING_DEFAULTS;
  const training = evaluationTraining({
    steps: integer('--steps', flags.steps, d.steps, 1),
    batchSize: integer('--batch-size', flags['batch-size'], d.batchSize, 1),
    peakLearningRate: number('--lr', flags.lr, d.peakLearningRate),
    seed: integer('--training-seed', flags['training-seed'], d.seed, 0),
  });
  optionalInteger('--limit-train', flags['limit-train']);
  optionalInteger('--limit-queries', flags['limit-queries']);
  const trackedLayers = flags.track === undefined ? null : parseOption('track', flags.track);
  return { evaluation, strategies, damping, fisher, training, ...(trackedLayers === null ? {} : { trackedLayers }) };
}

/** A comma-separated flag value as its items (none when the flag is absent); an empty item is refused. */
function listFlag(value: string | undefined): string[] {
  if (value === undefined) return [];
  const items = value.split(',').map((v) => v.trim());
  if (items.some((v) => v === '')) throw new Error(`"${value}" has an empty item in its comma-separated list`);
  return [...new Set(items)];
}

/** The damping × Fisher settings asked for and the held-out split's shares (checked by settingsFrom). */
function protocolFlags(flags: Flags): {
  candidates: CandidateSettings[];
  holdout: HoldoutSpec | null;
  permutations: number;
} {
  const dampings: Damping[] = listFlag(flags.damping).map((d) => parseOption('damping', d));
  const fishers = listFlag(flags.fisher) as FisherMode[];
  return {
    candidates: candidateGrid(
      dampings.length > 0 ? dampings : [DEFAULT_RUN_CONFIG.damping],
      fishers.length > 0 ? fishers : [DEFAULT_RUN_CONFIG.fisher],
    ),
    holdout: flags.holdout === undefined ? null : parseHoldout(flags.holdout),
    permutations: integer('--permutations', flags.permutations, 10000, 1),
  };
}

async function evaluate(
  flags: Flags,
  settings: EvaluationSettings,
  io: CliIo,
  env: ReturnType<typeof recordEnvironment>,
): Promise<void> {
  const log = (line: string) => flags.quiet || io.stderr(`${line}\n`);
  if (flags.out !== undefined) {
    const inputFlags = (['model', 'tokenizer', 'train', 'queries', 'checkpoint'] as const).filter(
      (k) => flags[k] !== undefined,
    );
    const planned = inputFlags.map((k) => ({ flag: `--${k}`, file: flags[k]! }));
    await checkOutputPaths([{ flag: '--out', file: flags.out }], planned);
  }
  const inputs = await loadInputs(flags);
  if (inputs.subsample) log(inputs.subsample);
  const { candidates, holdout, permutations } = protocolFlags(flags);
  const chosen = await chooseBackend('cpu', undefined);
  const started = performance.now();
  let runs;
  const bundledAs = isBundlePath(flags.out ?? '') ? bundledStrategy(settings.strategies) : null;
  try {
    runs = await runCandidates(inputs, settings, candidates, chosen, {
      // A bundle holds the richest strategy's whole attribution; saved beside the checkpoint like the influence.
      ...(bundledAs
        ? {
            bundled: {
              strategy: bundledAs,
              modelName: `${inputs.modelName} trained by iwb evaluate`,
              onContent: () => {},
            },
          }
        : {}),
      ...(flags.checkpoint === undefined
        ? {}
        : {
            store: fileStore(flags.checkpoint),
            influenceCache: fileInfluenceCache(`${flags.checkpoint}.influence.json`),
          }),
      ...(flags['saved-only'] ? { savedOnly: true } : {}),
      onStep: log,
      onRetrain: (e) => {
        const elapsed = ((performance.now() - started) / 1000).toFixed(0);
        log(`retrain ${e.done}/${e.total} ${e.key}${e.resumed ? ' (from the checkpoint)' : ''}, ${elapsed} s`);
      },
    });
  } finally {
    chosen.dispose();
  }
  const first = runs[0]!.result;
  const config = first.config;
  const report = runProtocol(runs, {
    split: holdout && holdoutSplit(first.querySize, config.subsets, holdout, config.seed),
    samples: config.bootstrapSamples,
    seed: config.seed + 15485863,
    permutations,
  });
  if (flags.out !== undefined && bundledAs !== null) {
    // The bundled strategy's attribution and evaluation at the setting the protocol chose for it.
    const pick = report.strategies.find((s) => s.strategy === bundledAs)!.chosen;
    const run = runs.find((r) => r.label === pick)!;
    const evaluation = evaluationContent(run.result, trainingRecord({ ...settings, ...run.candidate }));
    const data = await encodeRunBundle({ ...(run.bundled as BundleContent), evaluation }, 'iwb evaluate');
    await writeOutputsAtomically([{ flag: '--out', file: flags.out, data }]);
  } else if (flags.out !== undefined) {
    const { training, damping } = settings;
    const executionProvider = settings.executionProvider ?? 'wasm';
    // The layers attributed: null is the default (the MLP projections).
    const tracked = settings.trackedLayers ?? null;
    const extra = { training, damping, executionProvider, model: inputs.modelName, tracked };
    const json = evaluationRecord(env, runs, report, extra);
    await writeOutputsAtomically([{ flag: '--out', file: flags.out, data: JSON.stringify(json, null, 2) + '\n' }]);
  }
  if (!flags.quiet) io.stdout(`${formatEvaluation(first)}\n${formatProtocol(report)}\n`);
}

const isBundlePath = (file: string): boolean => file.toLowerCase().endsWith('.iwb');

/** A bundle holds one strategy's scores: the richest evaluated. */
function bundledStrategy(strategies: readonly Strategy[]): Strategy {
  return [...STRATEGIES_PLAINEST_FIRST].reverse().find((s) => strategies.includes(s))!;
}

function checkInputs(flags: Flags): void {
  const given = (['model', 'tokenizer', 'train', 'queries'] as const).filter((k) => flags[k] !== undefined);
  if (given.length > 0) {
    const missing = ['model', 'train', 'queries'].filter((k) => !(given as string[]).includes(k));
    if (missing.length > 0) throw new Error(`--${given[0]} needs ${missing.map((k) => `--${k}`).join(' and ')} too`);
    if (flags.demo !== undefined) throw new Error('--demo runs a built-in demo: leave out --model/--train/--queries');
  }
  if (flags['saved-only'] && flags.checkpoint === undefined)
    throw new Error('--saved-only scores the retrains saved in a checkpoint: give --checkpoint FILE');
  if (flags.demo !== undefined && flags.demo !== 'micro' && flags.demo !== 'demo') {
    throw new Error(`--demo "${flags.demo}" is not one of micro, demo`);
  }
}

async function loadInputs(flags: Flags): Promise<RunInputs> {
  const limits = {
    train: optionalInteger('--limit-train', flags['limit-train']) ?? null,
    queries: optionalInteger('--limit-queries', flags['limit-queries']) ?? null,
  };
  if (flags.model === undefined) {
    // The initialisation is the demo family's seeded model, never the trained one in public/: retraining starts fresh.
    const variant = flags.demo === 'demo' ? 'demo' : 'micro';
    return loadDemoInputs({ data: nodeSource(), trainedModel: null }, variant, limits);
  }
  // Regular files under the size limits, text decoded strictly (src/cli/input-files.ts), as for `iwb attribute`.
  const tokenizer =
    flags.tokenizer === undefined
      ? null
      : { name: flags.tokenizer, text: (await readInputText('--tokenizer', flags.tokenizer, 'tokenizer')).text };
  return loadUserInputs(
    {
      model: { name: flags.model, bytes: await readInputBytes('--model', flags.model, INPUT_LIMITS.model) },
      tokenizer,
      train: { name: flags.train!, text: (await readInputText('--train', flags.train!, 'jsonl')).text },
      queries: { name: flags.queries!, text: (await readInputText('--queries', flags.queries!, 'jsonl')).text },
    },
    limits,
  );
}

function strategyList(value: string | undefined): Strategy[] {
  if (value === undefined) return [...STRATEGIES_PLAINEST_FIRST];
  const names = value.split(',').map((s) => s.trim());
  const unknown = names.find((s) => !(STRATEGY_NAMES as readonly string[]).includes(s));
  if (unknown !== undefined) throw new Error(`--strategies: "${unknown}" is not one of ${STRATEGY_NAMES.join(', ')}`);
  return [...new Set(names as Strategy[])];
}

function fractionFlag(value: string | undefined): number {
  const fraction = number('--fraction', value, DEFAULT_EVALUATION.fraction);
  if (!(fraction > 0 && fraction < 1)) throw new Error(`--fraction "${value}" is not between 0 and 1 (exclusive)`);
  return fraction;
}

function number(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!DECIMAL.test(value) || !Number.isFinite(parsed)) throw new Error(`${flag} "${value}" is not a decimal number`);
  return parsed;
}

function integer(flag: string, value: string | undefined, fallback: number, minimum: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < minimum) {
    throw new Error(`${flag} "${value}" is not an integer ≥ ${minimum}`);
  }
  return parsed;
}

function optionalInteger(flag: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : integer(flag, value, 0, 1);
}
