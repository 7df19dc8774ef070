/**
 * The evaluation record `iwb evaluate --out FILE.json` writes (issue 24 §1; schema in docs/experiments/records.md):
 * everything a reader needs to recompute every figure without this code — configuration, seeds, git commit, machine,
 * time, subset membership, every retrained measurement, per candidate setting and strategy the predictions (and the
 * influence when small), and the protocol's held-out, two-way, paired report. tests/recompute/lds.ts re-derives the
 * headline figures of every committed record from these fields alone.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import type { CandidateRun } from '../app/evaluation-candidates';
import { protocolJson } from '../eval/protocol-summary';
import type { ProtocolReport } from '../eval/protocol';
import { evaluationJson } from '../eval/summary';

export const RECORD_SCHEMA = 'iwb-evaluation-record/1';

/** The influence matrices are kept when a strategy's [Q × N] has at most this many values (the record stays small). */
export const RECORD_INFLUENCE_LIMIT = 1 << 15;

export interface RecordEnvironment {
  readonly argv: readonly string[];
  readonly startedAt: string;
  readonly loadBefore: readonly number[];
  readonly cpuBefore: NodeJS.CpuUsage;
  readonly started: number;
  /** Taken when the command starts: the code that ran, not what the tree holds when it ends. */
  readonly git: { commit: string; dirty: boolean } | null;
}

export function recordEnvironment(argv: readonly string[]): RecordEnvironment {
  return {
    argv,
    startedAt: new Date().toISOString(),
    loadBefore: loadavg(),
    cpuBefore: process.cpuUsage(),
    started: performance.now(),
    git: gitState(),
  };
}

/** The commit the code ran at and whether the work tree differed from it; null outside a git checkout. */
function gitState(): { commit: string; dirty: boolean } | null {
  try {
    const run = (args: string[]) =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
    return { commit: run(['rev-parse', 'HEAD']), dirty: run(['status', '--porcelain', '--untracked-files=no']) !== '' };
  } catch {
    return null;
  }
}

const list = (values: ArrayLike<number>): (number | null)[] =>
  Array.from(values, (v) => (Number.isFinite(v) ? v : null));

export function evaluationRecord(
  env: RecordEnvironment,
  runs: readonly CandidateRun[],
  report: ProtocolReport,
  extra: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const first = runs[0]!.result;
  const cpu = process.cpuUsage(env.cpuBefore);
  const { config, trainSize, querySize } = first;
  return {
    schema: RECORD_SCHEMA,
    command: `iwb ${env.argv.join(' ')}`,
    argv: env.argv,
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
    wallSeconds: (performance.now() - env.started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    loadBefore: env.loadBefore,
    loadAfter: loadavg(),
    ...extra,
    // The first candidate's evaluation in the earlier JSON form (config, lds, subsetMask, measurements, loo …).
    ...evaluationJson(first),
    candidates: runs.map((run) => ({
      label: run.label,
      settings: run.settings,
      strategies: run.result.strategies.map((s) => {
        const values = run.influence.get(s.strategy);
        return {
          strategy: s.strategy,
          lds: { mean: s.lds.mean, low: s.lds.low, high: s.lds.high, queries: s.lds.count },
          perQuery: list(s.perQuery),
          predictions: list(s.predictions),
          influence: values && values.length <= RECORD_INFLUENCE_LIMIT ? list(values) : null,
        };
      }),
    })),
    protocol: protocolJson(report),
    sizes: { subsets: config.subsets, seeds: config.seedsPerSubset, trainSize, querySize },
  };
}
