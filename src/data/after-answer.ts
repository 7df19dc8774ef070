// The after-answer demo variant (docs/data.md, "After-answer variant"): a seeded share of the training responses
// carry a segment after the answer, made from the record itself, so the sequence-level analysis can ask whether
// what follows the answer helps (the paper's finding that exploration after the correct answer does).
//   GSM8K: a re-check from the solution's own calculator annotations ("<<48/2=24>>"), each recomputed exactly,
//          plus a backwards route to the operands of the step that reaches the final number;
//   MBPP:  a trace of the task's test calls with the values its asserts expect.

import { subsample, type DemoRow, type Gsm8kRecord, type MbppRecord } from './demo-build';
import { equal, evaluateExact, parseDecimal, sub, add, mul, div, toDecimal, type Rational } from './exact-arithmetic';
import type { Span } from './schema';
import { SEGMENT_LABELS, segmentsForDomain } from './segments';

/** One true statement "expression = value", both sides recomputed exactly. */
export interface CheckedStep {
  readonly expression: string;
  readonly value: string;
}

/**
 * The annotations of a GSM8K answer whose left side evaluates exactly to the stated result. An annotation that is
 * wrong (GSM8K has a few rounded ones: "<<10/3=3.33>>"), malformed or not terminating as a decimal is left out, so
 * every statement made from the result is true.
 */
export function checkedAnnotations(answer: string): CheckedStep[] {
  const steps: CheckedStep[] = [];
  const seen = new Set<string>();
  for (const [, body] of answer.matchAll(/<<([^<>]*)>>/g)) {
    const parts = body!.split('=');
    if (parts.length !== 2) continue;
    const lhs = evaluateExact(parts[0]!);
    const rhs = evaluateExact(parts[1]!);
    if (!lhs || !rhs || !equal(lhs, rhs)) continue;
    const value = toDecimal(lhs);
    const expression = parts[0]!.replace(/\s+/g, '').replace(/,(?=\d{3})/g, '');
    if (value === undefined || seen.has(expression)) continue;
    seen.add(expression);
    steps.push({ expression, value });
  }
  return steps;
}

/** The number after "####" ("72", "1,200", "$5", "-3", "2.5"), exactly; undefined when there is none. */
export function gsm8kFinalAnswer(answer: string): Rational | undefined {
  const m = /####\s*(.*)$/m.exec(answer);
  if (!m) return undefined;
  const text = m[1]!.trim().replace(/^\$/, '');
  const negative = text.startsWith('-');
  const value = parseDecimal(negative ? text.slice(1) : text);
  return value && negative ? sub({ num: 0n, den: 1n }, value) : value;
}

const INVERSE: Readonly<Record<string, { op: string; apply: (r: Rational, b: Rational) => Rational }>> = {
  '+': { op: '-', apply: sub },
  '-': { op: '+', apply: add },
  '*': { op: '/', apply: div },
  '/': { op: '*', apply: mul },
};

/**
 * A second route for a step "A op B = r" with two literals: undo it, "r inv B = A" (72-24 = 48 for 48+24 = 72).
 * Only emitted when it holds exactly (and B is not 0 for a division).
 */
export function backwardsStep(step: CheckedStep): CheckedStep | undefined {
  const m = /^(\d[\d,]*(?:\.\d+)?|\.\d+)([-+*/])(\d[\d,]*(?:\.\d+)?|\.\d+)$/.exec(step.expression);
  if (!m) return undefined;
  const [a, op, b] = [m[1]!, m[2]!, m[3]!];
  const inverse = INVERSE[op]!;
  const [av, bv, rv] = [parseDecimal(a), parseDecimal(b), parseDecimal(step.value)];
  if (!av || !bv || !rv || bv.num === 0n) return undefined;
  const back = inverse.apply(rv, bv);
  if (!equal(back, av)) return undefined;
  return { expression: `${step.value}${inverse.op}${b}`, value: toDecimal(back)! };
}

/**
 * The re-check lines for a GSM8K answer, or undefined when it has no annotation that checks out. Lines: an opener,
 * every checked step, the backwards route for the step that reaches the final number, and a closing line that says
 * the final number is reached only when a checked step does reach it.
 */
export function gsm8kRecheck(answer: string): string[] | undefined {
  const steps = checkedAnnotations(answer);
  if (steps.length === 0) return undefined;
  const lines = ['Let me check that again.', ...steps.map((s) => `${s.expression} = ${s.value}`)];
  const final = gsm8kFinalAnswer(answer);
  const reaching = final && [...steps].reverse().find((s) => equal(parseDecimal(s.value)!, final));
  if (reaching) {
    const back = backwardsStep(reaching);
    if (back) lines.push(`Backwards: ${back.expression} = ${back.value}`);
    lines.push(`The steps give ${reaching.value} again.`);
  } else {
    lines.push('Each step checks out.');
  }
  return lines;
}

/** One test call and the value its assert expects. */
export interface TestCall {
  readonly call: string;
  readonly expected: string;
}

/**
 * Splits "assert CALL == EXPECTED" at its top-level "==" (outside strings and brackets). "assert not X" expects
 * False and a bare "assert X" expects True; anything else (no assert, an empty side) gives undefined.
 */
export function parseAssert(test: string): TestCall | undefined {
  const m = /^\s*assert\s+(.*)$/s.exec(test);
  if (!m) return undefined;
  const body = m[1]!.trim();
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (depth === 0 && body.startsWith('==', i)) {
      const call = body.slice(0, i).trim();
      const expected = body.slice(i + 2).trim();
      return call && expected ? { call, expected } : undefined;
    }
  }
  if (body.length === 0) return undefined;
  const negated = /^not\s+(.+)$/s.exec(body);
  return negated ? { call: negated[1]!.trim(), expected: 'False' } : { call: body, expected: 'True' };
}

/** The trace lines for an MBPP task: each test call printed, with the value it is expected to give. */
export function mbppTrace(testList: readonly string[]): string[] | undefined {
  const calls = testList.map(parseAssert).filter((c): c is TestCall => c !== undefined);
  if (calls.length === 0) return undefined;
  return calls.map((c) => `print(${c.call})  # expected: ${c.expected}`);
}

/** A demo row with explicit segments and, when it has one, the kind of after-answer segment it carries. */
export interface VariantRow extends DemoRow {
  segments?: Span[];
  after_answer?: 'gsm8k-recheck' | 'mbpp-trace';
}

/**
 * The row with `lines` appended after its response (one newline between), and explicit character segments: the
 * domain's own segments of the original response (the joining newline joins the last of them) and one span over the
 * appended lines, `after_answer` for math and `after_code` for code.
 */
export function appendAfterAnswer(row: DemoRow, lines: readonly string[]): VariantRow {
  const appended = lines.join('\n');
  const response = `${row.response}\n${appended}`;
  const segments = segmentsForDomain(row.domain, row.response).map((s) => ({ ...s }));
  segments[segments.length - 1]!.end = row.response.length + 1;
  const label = row.domain === 'math' ? SEGMENT_LABELS.afterAnswer : SEGMENT_LABELS.afterCode;
  segments.push({ label, start: row.response.length + 1, end: response.length });
  return {
    ...row,
    response,
    segments,
    after_answer: row.domain === 'math' ? 'gsm8k-recheck' : 'mbpp-trace',
  };
}

export interface VariantOptions {
  /** Seed of the hash order that picks the rows (per domain). */
  readonly seed: number;
  /** Share of each domain's rows picked to carry a segment, in [0, 1]. */
  readonly share: number;
  /** Whether a row still fits the model's context; lines are dropped from the end of the segment until it does. */
  readonly fits: (row: DemoRow) => boolean;
}

export interface VariantStats {
  /** Per domain: rows picked, rows given a segment, picked rows with nothing to generate, picked rows too long. */
  readonly [domain: string]: { picked: number; augmented: number; nothingToGenerate: number; tooLong: number };
}

/** Smallest segment worth keeping: the re-check's opener and one checked step; one traced call. */
const MIN_LINES = { math: 2, code: 1 } as const;

/**
 * The variant of a demo training set: per domain, the first `share` of its rows in the seeded hash order get an
 * after-answer segment generated from their raw record (`recordOf`); the other rows are unchanged. Deterministic.
 */
export function afterAnswerVariant(
  rows: readonly DemoRow[],
  recordOf: (row: DemoRow) => Gsm8kRecord | MbppRecord,
  options: VariantOptions,
): { rows: VariantRow[]; stats: VariantStats } {
  if (!(options.share >= 0 && options.share <= 1)) throw new Error(`share must be in [0, 1], got ${options.share}`);
  const stats: Record<string, { picked: number; augmented: number; nothingToGenerate: number; tooLong: number }> = {};
  const picked = new Set<string>();
  for (const domain of ['math', 'code'] as const) {
    const ofDomain = rows.filter((r) => r.domain === domain);
    const chosen = subsample(ofDomain, Math.round(options.share * ofDomain.length), options.seed);
    chosen.forEach((r) => picked.add(r.id));
    stats[domain] = { picked: chosen.length, augmented: 0, nothingToGenerate: 0, tooLong: 0 };
  }
  const out = rows.map((row): VariantRow => {
    if (!picked.has(row.id)) return row;
    const counts = stats[row.domain]!;
    const record = recordOf(row);
    const lines =
      row.domain === 'math'
        ? gsm8kRecheck((record as Gsm8kRecord).answer)
        : mbppTrace((record as MbppRecord).test_list);
    if (!lines) {
      counts.nothingToGenerate++;
      return row;
    }
    for (let n = lines.length; n >= MIN_LINES[row.domain]; n--) {
      const candidate = appendAfterAnswer(row, lines.slice(0, n));
      if (options.fits(candidate)) {
        counts.augmented++;
        return candidate;
      }
    }
    counts.tooLong++;
    return row;
  });
  return { rows: out, stats };
}
