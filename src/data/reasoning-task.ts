/**
 * A synthetic reasoning task in two domains, small enough for a tiny GPT to learn in seconds and checked exactly, for
 * the difficulty-flip experiment (docs/experiments/reweighting.md). Every number is a single digit (0–9), so each step
 * is one fact of a 10 × 10 addition/subtraction table; difficulty is the number of steps (easy 1, medium 2, hard 3).
 *
 *   math  prompt `3+4-2=`                 response `7,5`      (the running value after each operation)
 *   code  prompt `a=3;a+=2;p(a)`          response `5`        easy: one update of one variable
 *         prompt `a=3;b=a+2;a=b-1;p(a)`   response `5,4`      medium: two variables, each assignment traced
 *         prompt `a=1;r3:a+=2;p(a)`       response `3,5,7`    hard: a loop of 3 iterations, each traced
 *
 * The response is the trace of the intermediate values (a scratchpad) and the final answer is its last number: the
 * accuracy of a model is the exact match of that number under greedy decoding (src/eval/reasoning-accuracy.ts).
 * Pure and seeded: the same seed gives the same problems. The tokenizer is one token per character of REASONING_CHARS
 * after the three special tokens, so examples are pre-tokenized and need no tokenizer file.
 */
import { seededUniform } from '../core/random';
import type { Example } from './dataset';

export type ReasoningDomain = 'math' | 'code';
export type ReasoningDifficulty = 'easy' | 'medium' | 'hard';
export const REASONING_DOMAINS: readonly ReasoningDomain[] = ['math', 'code'];
export const REASONING_DIFFICULTIES: readonly ReasoningDifficulty[] = ['easy', 'medium', 'hard'];
/** Steps of each difficulty: operations (math), traced assignments (code). */
export const REASONING_STEPS: Readonly<Record<ReasoningDifficulty, number>> = { easy: 1, medium: 2, hard: 3 };

export interface ReasoningProblem {
  readonly domain: ReasoningDomain;
  readonly difficulty: ReasoningDifficulty;
  readonly prompt: string;
  /** The trace: intermediate values separated by ',', the last one the final answer. */
  readonly response: string;
  readonly answer: number;
}

/** The special tokens (ids 0, 1, 2) and then one token per character. */
export const REASONING_SPECIALS = { pad: 0, bos: 1, eos: 2 } as const;
export const REASONING_CHARS = '0123456789+-=,;:()abpr';
export const REASONING_VOCAB_SIZE = 3 + REASONING_CHARS.length;

export function encodeReasoning(text: string): number[] {
  return Array.from(text, (c, i) => {
    const at = REASONING_CHARS.indexOf(c);
    if (at < 0) throw new Error(`reasoning tokenizer: character ${JSON.stringify(c)} at ${i} is not in the vocabulary`);
    return 3 + at;
  });
}

/** Text of ids; specials are left out, decoding stops at eos. */
export function decodeReasoning(ids: ArrayLike<number>): string {
  let text = '';
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id === REASONING_SPECIALS.eos) break;
    if (id >= 3 && id < REASONING_VOCAB_SIZE) text += REASONING_CHARS[id - 3];
  }
  return text;
}

/** The final answer of a trace: its last comma-separated field if it is a single digit, else null (no answer). */
export function finalAnswer(trace: string): number | null {
  const last = trace.split(',').pop() ?? '';
  return /^[0-9]$/.test(last) ? Number(last) : null;
}

/** The task's seeded uniform generator on [0, 1): core's mulberry32, the same stream as before. */
export const reasoningRandom = seededUniform;

const pick = (random: () => number, lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

/**
 * The largest operand by default: with operands 1–3 the tiny model of the experiment learns the task partly within
 * its training budget (accuracy between floor and ceiling, docs/experiments/reweighting.md); with 1–9 it barely does.
 */
export const DEFAULT_OPERAND_MAX = 3;

/** An operation on a digit that keeps the result a digit: '+' d with v + d ≤ 9 or '-' d with v − d ≥ 0, 1 ≤ d ≤ max. */
function step(random: () => number, value: number, max: number): { op: '+' | '-'; operand: number; result: number } {
  const canAdd = value < 9;
  const canSub = value > 0;
  const op = canAdd && (!canSub || random() < 0.5) ? '+' : '-';
  const operand = op === '+' ? pick(random, 1, Math.min(max, 9 - value)) : pick(random, 1, Math.min(max, value));
  return { op, operand, result: op === '+' ? value + operand : value - operand };
}

function mathProblem(random: () => number, difficulty: ReasoningDifficulty, max: number): ReasoningProblem {
  let value = pick(random, 0, 9);
  let prompt = String(value);
  const trace: number[] = [];
  for (let s = 0; s < REASONING_STEPS[difficulty]; s++) {
    const next = step(random, value, max);
    prompt += `${next.op}${next.operand}`;
    value = next.result;
    trace.push(value);
  }
  return { domain: 'math', difficulty, prompt: `${prompt}=`, response: trace.join(','), answer: value };
}

function codeProblem(random: () => number, difficulty: ReasoningDifficulty, max: number): ReasoningProblem {
  const start = pick(random, 0, 9);
  let prompt: string;
  let trace: number[];
  if (difficulty === 'easy') {
    const s = step(random, start, max);
    prompt = `a=${start};a${s.op}=${s.operand};p(a)`;
    trace = [s.result];
  } else if (difficulty === 'medium') {
    const s1 = step(random, start, max);
    const s2 = step(random, s1.result, max);
    prompt = `a=${start};b=a${s1.op}${s1.operand};a=b${s2.op}${s2.operand};p(a)`;
    trace = [s1.result, s2.result];
  } else {
    // A loop adds (or subtracts) the same digit three times: 3 · d must stay within the digits.
    const op = start <= 6 && (start < 3 || random() < 0.5) ? '+' : '-';
    const d =
      op === '+'
        ? pick(random, 1, Math.min(max, Math.floor((9 - start) / 3)))
        : pick(random, 1, Math.min(max, Math.floor(start / 3)));
    prompt = `a=${start};r3:a${op}=${d};p(a)`;
    const sign = op === '+' ? 1 : -1;
    trace = [1, 2, 3].map((k) => start + sign * k * d);
  }
  return { domain: 'code', difficulty, prompt, response: trace.join(','), answer: trace[trace.length - 1]! };
}

export function reasoningProblem(
  random: () => number,
  domain: ReasoningDomain,
  difficulty: ReasoningDifficulty,
  operandMax = DEFAULT_OPERAND_MAX,
): ReasoningProblem {
  if (!(Number.isInteger(operandMax) && operandMax >= 1 && operandMax <= 9))
    throw new Error(`reasoning task: operandMax must be an integer from 1 to 9, got ${operandMax}`);
  return domain === 'math' ? mathProblem(random, difficulty, operandMax) : codeProblem(random, difficulty, operandMax);
}

/** `counts[domain][difficulty]` problems from `seed`, cell by cell (math, code; easy → hard), operands 1…operandMax. */
export function reasoningProblems(
  seed: number,
  counts: Readonly<Record<ReasoningDomain, Readonly<Record<ReasoningDifficulty, number>>>>,
  operandMax = DEFAULT_OPERAND_MAX,
): ReasoningProblem[] {
  const random = reasoningRandom(seed);
  const out: ReasoningProblem[] = [];
  for (const domain of REASONING_DOMAINS)
    for (const difficulty of REASONING_DIFFICULTIES)
      for (let i = 0; i < counts[domain][difficulty]; i++)
        out.push(reasoningProblem(random, domain, difficulty, operandMax));
  return out;
}

/** A problem as a pre-tokenized Example: [bos] prompt response [eos], the loss on the response and eos. */
export function reasoningExample(problem: ReasoningProblem, id: string): Example {
  const prompt = encodeReasoning(problem.prompt);
  const response = encodeReasoning(problem.response);
  const inputIds = Int32Array.from([REASONING_SPECIALS.bos, ...prompt, ...response, REASONING_SPECIALS.eos]);
  const promptLen = 1 + prompt.length;
  return {
    id,
    domain: problem.domain,
    difficulty: problem.difficulty,
    prompt: problem.prompt,
    response: problem.response,
    inputIds,
    promptLen,
    segments: [{ label: 'trace', start: promptLen, end: inputIds.length }],
    tokenCategories: new Uint8Array(inputIds.length),
    extra: { answer: problem.answer },
  };
}
