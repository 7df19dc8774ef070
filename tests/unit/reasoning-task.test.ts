// The synthetic reasoning task of the flip experiment: seeded, every answer checked by evaluators written here
// independently of the generator (math by exact rational arithmetic, code by a small interpreter), and difficulty =
// number of steps.
import { describe, expect, it } from 'vitest';
import { evaluateExact, toDecimal } from '../../src/data/exact-arithmetic';
import {
  decodeReasoning,
  encodeReasoning,
  finalAnswer,
  REASONING_SPECIALS,
  REASONING_STEPS,
  REASONING_VOCAB_SIZE,
  reasoningExample,
  reasoningProblems,
  type ReasoningProblem,
} from '../../src/data/reasoning-task';

const ALL = { easy: 60, medium: 60, hard: 60 };

/** Interprets the code domain's statements: `v=E`, `v+=d`, `v-=d`, `rK:S` (S run K times), `p(v)`. */
function interpret(program: string): { printed: number; assigned: number[] } {
  const vars = new Map<string, number>();
  const assigned: number[] = [];
  let printed = NaN;
  const value = (term: string): number => (/^\d$/.test(term) ? Number(term) : vars.get(term)!);
  const run = (statement: string): void => {
    const loop = /^r(\d):(.*)$/.exec(statement);
    if (loop) {
      for (let k = 0; k < Number(loop[1]); k++) run(loop[2]!);
      return;
    }
    const print = /^p\((\w)\)$/.exec(statement);
    if (print) {
      printed = vars.get(print[1]!)!;
      return;
    }
    const update = /^(\w)([+-])=(\d)$/.exec(statement);
    if (update) {
      const [, v, op, d] = update;
      vars.set(v!, vars.get(v!)! + (op === '+' ? 1 : -1) * Number(d));
      assigned.push(vars.get(v!)!);
      return;
    }
    const assign = /^(\w)=(\w)(?:([+-])(\d))?$/.exec(statement);
    if (!assign) throw new Error(`cannot interpret ${statement}`);
    const [, v, a, op, d] = assign;
    vars.set(v!, value(a!) + (op ? (op === '+' ? 1 : -1) * Number(d) : 0));
    assigned.push(vars.get(v!)!);
  };
  program.split(';').forEach(run);
  return { printed, assigned };
}

function check(problem: ReasoningProblem): void {
  const trace = problem.response.split(',').map(Number);
  expect(trace.every((v) => Number.isInteger(v) && v >= 0 && v <= 9)).toBe(true);
  expect(trace.at(-1)).toBe(problem.answer);
  expect(finalAnswer(problem.response)).toBe(problem.answer);
  if (problem.domain === 'math') {
    const expression = problem.prompt.slice(0, -1);
    expect(problem.prompt.endsWith('=')).toBe(true);
    expect(toDecimal(evaluateExact(expression)!)).toBe(String(problem.answer));
    // Each traced value is the exact value of the expression up to that operation.
    const prefixes = [...expression.matchAll(/[+-]/g)].map((m) => expression.slice(0, m.index));
    const partial = [...prefixes.slice(1), expression].map((e) => Number(toDecimal(evaluateExact(e)!)));
    expect(trace).toEqual(partial);
    expect(prefixes.length).toBe(REASONING_STEPS[problem.difficulty]);
  } else {
    const { printed, assigned } = interpret(problem.prompt);
    expect(printed).toBe(problem.answer);
    // The trace is every assignment after the first (the initial value is given, not computed).
    expect(assigned.slice(1)).toEqual(trace);
  }
}

describe('reasoning task generator', () => {
  const problems = reasoningProblems(11, { math: ALL, code: ALL });

  it('is seeded: the same seed gives the same problems, another seed others', () => {
    expect(reasoningProblems(11, { math: ALL, code: ALL })).toEqual(problems);
    expect(reasoningProblems(12, { math: ALL, code: ALL })).not.toEqual(problems);
  });

  it('gives every answer and every traced value the independent evaluators compute', () => {
    expect(problems).toHaveLength(360);
    for (const problem of problems) check(problem);
  });

  it('gives each difficulty its number of steps, with operands within the maximum', () => {
    for (const p of problems) expect(p.response.split(',')).toHaveLength(REASONING_STEPS[p.difficulty]);
    const hardCode = problems.filter((p) => p.domain === 'code' && p.difficulty === 'hard');
    expect(hardCode.every((p) => /^a=\d;r3:a[+-]=\d;p\(a\)$/.test(p.prompt))).toBe(true);
    const operands = problems.flatMap((p) => [...p.prompt.matchAll(/[+-]=?(\d)/g)].map((m) => Number(m[1])));
    expect(Math.max(...operands)).toBe(3);
    const wide = reasoningProblems(5, { math: ALL, code: ALL }, 9);
    for (const problem of wide) check(problem);
    expect(Math.max(...wide.flatMap((p) => [...p.prompt.matchAll(/[+-]=?(\d)/g)].map((m) => Number(m[1]))))).toBe(9);
    expect(() => reasoningProblems(5, { math: ALL, code: ALL }, 10)).toThrow(/operandMax must be an integer from 1/);
  });

  it('tokenizes one token per character and decodes back, stopping at eos', () => {
    for (const p of problems.slice(0, 50)) {
      const ids = encodeReasoning(p.prompt + p.response);
      expect(ids.every((id) => id >= 3 && id < REASONING_VOCAB_SIZE)).toBe(true);
      expect(decodeReasoning([...ids, REASONING_SPECIALS.eos, ...encodeReasoning('9')])).toBe(p.prompt + p.response);
    }
    expect(() => encodeReasoning('a=3;x')).toThrow(/character "x" at 4 is not in the vocabulary/);
  });

  it('reads the final answer as the last traced digit, or none', () => {
    expect(finalAnswer('3,5,7')).toBe(7);
    expect(finalAnswer('4')).toBe(4);
    expect(finalAnswer('3,')).toBeNull();
    expect(finalAnswer('12')).toBeNull();
    expect(finalAnswer('')).toBeNull();
  });

  it('makes pre-tokenized examples: [bos] prompt trace [eos], loss on the trace', () => {
    const p = problems.find((q) => q.domain === 'code' && q.difficulty === 'medium')!;
    const e = reasoningExample(p, 'x1');
    expect(e.inputIds[0]).toBe(REASONING_SPECIALS.bos);
    expect(e.inputIds.at(-1)).toBe(REASONING_SPECIALS.eos);
    expect(e.promptLen).toBe(1 + p.prompt.length);
    expect(decodeReasoning(e.inputIds.slice(e.promptLen))).toBe(p.response);
    expect(e.extra.answer).toBe(p.answer);
    expect([e.domain, e.difficulty]).toEqual(['code', 'medium']);
  });
});
