/** The `--json` summary of a run and the text report `iwb attribute` prints. */
import type { BackendReport } from '../app/backend-choice';
import type { JobOutcome } from '../app/job';
import type { RunInputs } from '../app/inputs';
import {
  benchmarkOf,
  crossDomainTable,
  segmentSummary,
  tokenCategorySummary,
  type CrossDomainCell,
  type GroupSummary,
} from '../influence/aggregate';
import { groupTokenResult } from '../influence/group-tokens';
import { TOKEN_CATEGORIES } from '../data/categories';
import { scoreView } from '../influence/normalize';
import { topInfluences } from '../app/results';

export interface RankedId {
  readonly id: string;
  readonly influence: number;
}

export interface RunSummary {
  readonly scoreMeaning: string;
  readonly model: string;
  readonly backend: BackendReport;
  readonly onnxruntime: 'wasm' | 'webgpu';
  readonly strategy: string;
  readonly damping: readonly { readonly layer: string; readonly delta: number }[];
  readonly subsample: string | null;
  /** The stratified samples (seed, N, strata counts) with --sample/--sample-queries; null otherwise. */
  readonly sample: JobOutcome['sample'];
  readonly counts: { readonly train: number; readonly queries: number; readonly layers: number };
  readonly queries: readonly {
    readonly id: string;
    readonly benchmark: string;
    readonly helpful: readonly RankedId[];
    readonly harmful: readonly RankedId[];
  }[];
  readonly benchmarks: readonly {
    readonly benchmark: string;
    readonly queries: number;
    readonly helpful: readonly RankedId[];
    readonly harmful: readonly RankedId[];
  }[];
  readonly crossDomain: readonly CrossDomainCell[];
  /**
   * Per benchmark, influence by response segment and by token category (aggregate.ts), from the run's group token
   * scores (docs/token-analyses.md); null when the run has none.
   */
  readonly tokenAnalyses:
    | readonly {
        readonly benchmark: string;
        readonly segments: readonly GroupSummary[];
        readonly categories: readonly GroupSummary[];
      }[]
    | null;
  readonly timings: JobOutcome['timings'];
  readonly peakGpuBytes: number | null;
  /** With --generate: the prompt, the generated answer (text and token ids) and why generation stopped. */
  readonly generation?: {
    readonly prompt: string;
    readonly text: string;
    readonly tokenIds: readonly number[];
    readonly stop: string;
  };
  /** With --compare: per training example I(generated) − I(reference), the most toward each side first. */
  readonly comparison?: {
    readonly towardGenerated: readonly RankedId[];
    readonly towardReference: readonly RankedId[];
  };
}

const TOP = 10;

export function runSummary(inputs: RunInputs, outcome: JobOutcome): RunSummary {
  const { result, backend } = outcome;
  const ranked = (target: Parameters<typeof topInfluences>[2]) => {
    const top = topInfluences(result, outcome.trainTexts, target, TOP);
    const ids = (rows: typeof top.helpful) => rows.map((r) => ({ id: r.trainId, influence: r.score }));
    return { helpful: ids(top.helpful), harmful: ids(top.harmful) };
  };
  const benchmarks = [...new Set(result.queries.map(benchmarkOf))];
  return {
    scoreMeaning: scoreView(result).label,
    model: inputs.modelName,
    backend,
    onnxruntime: outcome.ortBackend,
    strategy: result.config.strategy,
    damping: result.layers.map((l) => ({ layer: l.name, delta: l.damping })),
    subsample: inputs.subsample,
    sample: outcome.sample,
    counts: { train: result.train.length, queries: result.queries.length, layers: result.layers.length },
    queries: result.queries.map((q) => ({ id: q.id, benchmark: benchmarkOf(q), ...ranked({ query: q.id }) })),
    benchmarks: benchmarks.map((benchmark) => ({
      benchmark,
      queries: result.queries.filter((q) => benchmarkOf(q) === benchmark).length,
      ...ranked({ benchmark }),
    })),
    crossDomain: crossDomainTable(scoreView(result), result.queries, result.train),
    tokenAnalyses: result.groupTokens
      ? result.groupTokens.groups.map(({ name }) => {
          const reduced = groupTokenResult(result, name);
          return {
            benchmark: name,
            segments: segmentSummary(reduced, [0]),
            categories: tokenCategorySummary(reduced, [0], TOKEN_CATEGORIES),
          };
        })
      : null,
    timings: outcome.timings,
    peakGpuBytes: outcome.peakGpuBytes,
  };
}

/** A short human-readable report: what ran, how long each stage took, the top examples per benchmark, the table. */
export function formatReport(summary: RunSummary, shown = 3): string {
  const lines: string[] = [];
  lines.push(`model: ${summary.model}`);
  lines.push(
    `backend: ${summary.backend.description} (${summary.backend.reason}); onnxruntime-web ${summary.onnxruntime}`,
  );
  lines.push(
    `${summary.counts.queries} queries x ${summary.counts.train} training examples, ${summary.counts.layers} tracked layers, strategy ${summary.strategy}`,
  );
  if (summary.subsample) lines.push(summary.subsample);
  lines.push('stages:');
  for (const t of summary.timings) {
    const rate = t.items !== undefined && t.seconds > 0 ? `  ${formatNumber(t.items / t.seconds)} ${t.unit}/s` : '';
    lines.push(`  ${t.stage.padEnd(10)} ${t.seconds.toFixed(2).padStart(8)} s${rate}`);
  }
  lines.push(`scores: ${summary.scoreMeaning}`);
  for (const b of summary.benchmarks) {
    lines.push(`benchmark ${b.benchmark} (${b.queries} queries): most helpful / most harmful training examples`);
    for (let i = 0; i < shown; i++) {
      const h = b.helpful[i];
      const x = b.harmful[i];
      lines.push(
        `  ${h ? `${formatScore(h.influence)} ${h.id}` : ''.padEnd(12)}`.padEnd(44) +
          (x ? `${formatScore(x.influence)} ${x.id}` : ''),
      );
    }
  }
  lines.push('cross-domain mean influence (benchmark <- training domain, difficulty: mean [training examples]):');
  for (const c of summary.crossDomain) {
    lines.push(`  ${c.benchmark} <- ${c.domain}, ${c.difficulty}: ${formatScore(c.mean)} [${c.trainCount}]`);
  }
  return lines.join('\n');
}

function formatScore(value: number): string {
  const text = value.toExponential(3);
  return value >= 0 ? `+${text}` : text;
}

function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toString() : value.toPrecision(3);
}
