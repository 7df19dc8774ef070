/**
 * `iwb evaluate --groups domain-difficulty|segments`: group-level evidence on the demo (issue 24 §3,
 * docs/experiments/groups.md). Every group is removed and up-weighted in turn, each arm retrained with every seed
 * and paired against that seed's unchanged baseline; the actual changes are compared with the groups' summed
 * influence. The logic is in src/app/group-evidence-job.ts and src/eval/group-*.ts; this file is flags, files and
 * printing.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../app/backend-choice';
import {
  DEFAULT_GROUP_EVIDENCE,
  GROUP_KINDS,
  runGroupEvidenceJob,
  type GroupEvidenceOutcome,
  type GroupEvidenceSettings,
  type GroupKind,
} from '../app/group-evidence-job';
import { nodeSource } from '../data/node-source';
import type { GroupCheckpoint } from '../eval/group-run';
import type { CliIo } from './attribute';
import { CliUsageError, oneLine } from './args';
import { parseOption, RUN_OPTIONS } from '../app/options';
import { recordEnvironment, type RecordEnvironment } from './evaluation-record';

export const GROUPS_RECORD_SCHEMA = 'iwb-group-evidence-record/1';

export const EVALUATE_GROUPS_USAGE = `Usage: iwb evaluate --groups domain-difficulty|segments [--track ${RUN_OPTIONS.track.grammar}]
                    [--seeds R [--first-seed F]] [--per-cell P] [--queries Q] [--factor K] [--steps N]
                    [--checkpoint FILE [--saved-only]] [--out record.json] [--quiet]

Group-level evidence on the demo. Groups: each domain × difficulty cell (whole examples), or each segment type of the
after-answer variant (reasoning, final_answer, after_answer; preamble, signature, body, after_code: response tokens,
removed or up-weighted through per-token loss weights). A pool of P training examples from every cell (default 8) and Q
held-out queries per benchmark (default 24); a model of the retrained family (d_model 16) trained on the pool at seed
0 is attributed (EK-FAC, --track as for iwb attribute, default mlp). Each group is then removed and up-weighted K×
(default 3), the rest of its domain taking up or giving the mass so every domain keeps its share, and every arm and
the unchanged pool are retrained with seeds 0 … R−1 (default 10; N steps, default 80). Per benchmark: the actual
change (arm − the same seed's baseline, mean log-likelihood of the queries' answers) against the predicted
Σ (w − 1)·influence / N — calibration slope (through the origin and with intercept), sign accuracy, group-LDS
(Spearman over groups × arms), each with a two-way (groups × seeds) bootstrap interval, and the group-LDS divided by
the square root of the split-half reliability of the actual changes over seeds (the retraining noise ceiling).
--checkpoint FILE saves every retrain (and the influence in FILE.influence.json): the same command resumes; a second
--track with the same FILE retrains nothing. --first-seed F trains seeds F … R−1 only (parts of one evaluation run
side by side, each with its own --checkpoint; their files' runs concatenated are one checkpoint). --out writes the record (docs/experiments/records.md).`;

const OPTIONS = {
  groups: { type: 'string' },
  track: { type: 'string' },
  seeds: { type: 'string' },
  'first-seed': { type: 'string' },
  'per-cell': { type: 'string' },
  queries: { type: 'string' },
  factor: { type: 'string' },
  steps: { type: 'string' },
  checkpoint: { type: 'string' },
  'saved-only': { type: 'boolean' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

export interface EvaluateGroupsRun {
  readonly settings: GroupEvidenceSettings;
  readonly checkpoint: string | undefined;
  readonly savedOnly: boolean;
  readonly out: string | undefined;
  readonly quiet: boolean;
  readonly argv: readonly string[];
}

/** Whether an `iwb evaluate` command line asks for group-level evidence. */
export function asksForGroups(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--groups' || a.startsWith('--groups='));
}

function whole(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < min)
    throw new CliUsageError(`${flag} must be a whole number ≥ ${min}, got "${value}"`);
  return Number(value);
}

export function parseEvaluateGroups(argv: readonly string[]): EvaluateGroupsRun {
  try {
    const { values, tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, tokens: true });
    const seen = new Set<string>();
    for (const t of tokens) {
      if (t.kind !== 'option') continue;
      if (seen.has(t.name)) throw new CliUsageError(`--${t.name} is given more than once; give it once`);
      seen.add(t.name);
    }
    if (values.groups === undefined || !(GROUP_KINDS as readonly string[]).includes(values.groups))
      throw new CliUsageError(`--groups "${values.groups ?? ''}" is not one of ${GROUP_KINDS.join(', ')}`);
    const groups = values.groups as GroupKind;
    const factor = values.factor === undefined ? DEFAULT_GROUP_EVIDENCE.factor : Number(values.factor);
    if (!(Number.isFinite(factor) && factor > 1))
      throw new CliUsageError(`--factor must be a number > 1, got "${values.factor}"`);
    const defaults = DEFAULT_GROUP_EVIDENCE;
    const steps = whole('--steps', values.steps, defaults.training.steps, 1);
    const seeds = whole('--seeds', values.seeds, defaults.seeds.length, 2);
    const first = whole('--first-seed', values['first-seed'], 0, 0);
    if (first >= seeds) throw new CliUsageError(`--first-seed ${first} leaves none of the ${seeds} seeds`);
    if (values['saved-only'] && !values.checkpoint) throw new CliUsageError('--saved-only needs --checkpoint FILE');
    const settings: GroupEvidenceSettings = {
      ...defaults,
      groups,
      track: parseOption('track', values.track ?? 'mlp'),
      perCell: whole('--per-cell', values['per-cell'], defaults.perCell, 2),
      queriesPerBenchmark: whole('--queries', values.queries, defaults.queriesPerBenchmark, 1),
      factor,
      training: { ...defaults.training, steps, warmupSteps: Math.max(1, Math.round(steps / 10)) },
      seeds: Array.from({ length: seeds - first }, (_, i) => first + i),
    };
    return {
      settings,
      checkpoint: values.checkpoint,
      savedOnly: values['saved-only'] ?? false,
      out: values.out,
      quiet: values.quiet ?? false,
      argv,
    };
  } catch (error) {
    throw error instanceof CliUsageError ? error : new CliUsageError(oneLine(error));
  }
}

async function replaceFile(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(`${file}.partial`, text);
  await rename(`${file}.partial`, file);
}

async function readJson<T>(file: string): Promise<T | null> {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    throw new Error(`${file}: not a readable checkpoint (${oneLine(error)})`, { cause: error });
  }
}

export async function runEvaluateGroups(run: EvaluateGroupsRun, io: CliIo): Promise<number> {
  const env = recordEnvironment(['evaluate', ...run.argv]);
  const file = run.checkpoint;
  const influenceFile = file ? `${file}.influence.json` : undefined;
  const chosen = await chooseBackend('cpu', undefined);
  let outcome: GroupEvidenceOutcome;
  try {
    outcome = await runGroupEvidenceJob(nodeSource(), run.settings, chosen, {
      savedOnly: run.savedOnly,
      onStep: (line) => {
        if (!run.quiet) io.stderr(`${line}\n`);
      },
      ...(file
        ? {
            store: {
              load: () => readJson<GroupCheckpoint>(file),
              save: (checkpoint) => replaceFile(file, JSON.stringify(checkpoint)),
            },
            cache: {
              async load(key) {
                const saved = await readJson<Record<string, number[]>>(influenceFile!);
                return saved?.[key] ? Float64Array.from(saved[key]) : null;
              },
              async save(key, values) {
                const saved = (await readJson<Record<string, number[]>>(influenceFile!)) ?? {};
                await replaceFile(influenceFile!, JSON.stringify({ ...saved, [key]: Array.from(values) }));
              },
            },
          }
        : {}),
    });
  } finally {
    chosen.dispose();
  }
  io.stdout(formatGroupEvidence(outcome));
  if (run.out) await replaceFile(run.out, JSON.stringify(groupRecord(env, outcome), null, 1) + '\n');
  return 0;
}

const fixed = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** The printed summary: one block per benchmark. */
export function formatGroupEvidence(outcome: GroupEvidenceOutcome): string {
  const lines = [
    `group evidence (${outcome.settings.groups}, track ${outcome.settings.track}): ${outcome.arms.length} group arms, ` +
      `${outcome.completeSeeds.length} of ${outcome.settings.seeds.length} seeds complete`,
  ];
  if (!outcome.evidence) return [...lines, 'fewer than 2 complete seeds: no statistics yet', ''].join('\n');
  for (const [benchmark, e] of Object.entries(outcome.evidence)) {
    const est = (x: { value: number; low: number; high: number }) =>
      `${fixed(x.value)} [${fixed(x.low)}, ${fixed(x.high)}]`;
    lines.push(
      `${benchmark}: ${e.points} points × ${e.seeds} seeds`,
      `  slope through origin ${est(e.slopeThroughOrigin)}; with intercept: slope ${est(e.slope)}, intercept ` +
        `${e.intercept.value.toExponential(2)}`,
      `  sign accuracy ${est(e.signAccuracy)}; group-LDS ${est(e.groupLds)}; reliability ${fixed(e.reliability)}; ` +
        `normalised group-LDS ${e.normalisedLds === null ? 'n/a (reliability ≤ 0)' : fixed(e.normalisedLds)}`,
    );
  }
  return [...lines, ''].join('\n');
}

/** The committed record: everything tests/recompute/groups.ts needs to re-derive every headline. */
export function groupRecord(env: RecordEnvironment, outcome: GroupEvidenceOutcome): Record<string, unknown> {
  const cpu = process.cpuUsage(env.cpuBefore);
  return {
    schema: GROUPS_RECORD_SCHEMA,
    command: `iwb ${env.argv.join(' ')}`,
    git: env.git,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      platform: `${process.platform} ${process.arch}`,
      node: process.version,
    },
    startedAt: env.startedAt,
    finishedAt: new Date().toISOString(),
    // This invocation only (a resumed run's earlier retrains are not counted here).
    wallSeconds: (performance.now() - env.started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    loadBefore: env.loadBefore,
    loadAfter: loadavg(),
    settings: outcome.settings,
    models: { retrained: outcome.retrainModel, attributed: outcome.attributedModel },
    attributionSeconds: outcome.attributionSeconds,
    pool: outcome.pool,
    influence: outcome.influence,
    queries: outcome.queries,
    benchmarks: outcome.benchmarks,
    seeds: outcome.completeSeeds,
    arms: outcome.arms,
    runs: outcome.runs,
    evidence: outcome.evidence,
  };
}
