/** The protocol's report (src/eval/protocol.ts) as plain JSON (NaN → null) and as text lines for the CLI. */
import type { ProtocolReport } from './protocol';
import type { Interval } from './two-way';

const list = (values: ArrayLike<number>): (number | null)[] =>
  Array.from(values, (v) => (Number.isFinite(v) ? v : null));
const num = (v: number): number | null => (Number.isFinite(v) ? v : null);
const interval = (i: Interval) => ({ mean: num(i.mean), low: num(i.low), high: num(i.high), count: i.count });

export function protocolJson(report: ProtocolReport): Record<string, unknown> {
  return {
    split: report.split,
    queries: report.queries,
    subsets: report.subsets,
    bootstrapSamples: report.bootstrapSamples,
    seed: report.seed,
    strategies: report.strategies.map((s) => ({
      strategy: s.strategy,
      chosen: s.chosen,
      tuning: s.tuning.map((t) => ({ candidate: t.candidate, lds: num(t.lds) })),
      perQuery: list(s.perQuery),
      lds: interval(s.lds),
    })),
    paired: report.paired.map((p) => ({
      a: p.a,
      b: p.b,
      perQuery: list(p.perQuery),
      difference: interval(p.difference),
      p: num(p.signFlip.p),
      patterns: p.signFlip.patterns,
      exact: p.signFlip.exact,
    })),
  };
}

/** Does the interval exclude 0? */
export const resolved = (i: Interval): boolean => i.low > 0 || i.high < 0;

export function formatProtocol(report: ProtocolReport): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(3).padStart(6) : '   n/a');
  const { split } = report;
  const lines = [
    split
      ? `held-out report: ${report.queries.length} of ${split.tuningQueries.length + report.queries.length} queries × ` +
        `${report.subsets.length} of ${split.tuningSubsets.length + report.subsets.length} subsets ` +
        `(settings chosen on the other ${split.tuningQueries.length} queries × ${split.tuningSubsets.length} subsets)`
      : `all ${report.queries.length} queries × ${report.subsets.length} subsets (no held-out split: nothing tuned)`,
    'strategy   LDS     95 % interval (two-way bootstrap: queries × subsets)   setting',
    ...report.strategies.map(
      (s) =>
        `${s.strategy.padEnd(10)} ${f(s.lds.mean)}  [${f(s.lds.low)}, ${f(s.lds.high)}]` +
        `${' '.repeat(33)}${s.chosen}` +
        (s.tuning.length > 1 ? ` (tuning LDS ${s.tuning.map((t) => f(t.lds).trim()).join(' / ')})` : ''),
    ),
    'paired     difference of per-query LDS, two-way 95 % interval, sign-flip p',
    ...report.paired.map(
      (p) =>
        `${`${p.a} − ${p.b}`.padEnd(20)} ${f(p.difference.mean)}  [${f(p.difference.low)}, ${f(p.difference.high)}]  ` +
        `p = ${Number.isFinite(p.signFlip.p) ? p.signFlip.p.toFixed(4) : 'n/a'}` +
        `${p.signFlip.exact ? ' (exact)' : ''}, ${p.difference.count} queries` +
        (resolved(p.difference) ? '' : '  — interval includes 0: not resolved'),
    ),
  ];
  return lines.join('\n');
}
