// Raw GSM8K and MBPP records → demo rows (used by scripts/build-demo-data.ts; the rules are in docs/data.md).

import { codeDifficulty, codeScore, codeShape, gsm8kSteps, mathDifficulty, type Difficulty } from './difficulty';
import { stableHash } from '../core/hash';

/** A demo row as written to public/data/*.jsonl: the user text format plus provenance fields. */
export interface DemoRow {
  id: string;
  domain: 'math' | 'code';
  difficulty: Difficulty;
  prompt: string;
  response: string;
  /** Dataset, split and record: "gsm8k/train.jsonl#12", "mbpp/mbpp.jsonl#task_id=601". */
  source: string;
  /** math: solution steps; code: the size-and-structure score. */
  difficulty_measure: number;
}

export interface Gsm8kRecord {
  question: string;
  answer: string;
}

export interface MbppRecord {
  task_id: number;
  text: string;
  code: string;
  test_list: string[];
}

export type MbppSplit = 'prompt' | 'test' | 'validation' | 'train';

/** The Hugging Face loader's split of MBPP task ids (the upstream README reserves 11–510 for evaluation). */
export function mbppSplit(taskId: number): MbppSplit {
  if (taskId <= 10) return 'prompt';
  if (taskId <= 510) return 'test';
  if (taskId <= 600) return 'validation';
  return 'train';
}

/** Removes GSM8K's calculator annotations: "48/2 = <<48/2=24>>24" → "48/2 = 24". */
export function stripCalculatorAnnotations(answer: string): string {
  return answer.replace(/<<[^<>]*>>/g, '');
}

/**
 * GSM8K: the prompt is "Question: …\nAnswer:\n"; the response is the worked solution without calculator
 * annotations, one step per line, ending with the answer line "#### <number>".
 */
export function gsm8kRow(record: Gsm8kRecord, split: 'train' | 'test', index: number): DemoRow {
  const steps = gsm8kSteps(record.answer);
  const lines = stripCalculatorAnnotations(record.answer)
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.trim().length > 0);
  return {
    id: `gsm8k-${split}-${String(index).padStart(5, '0')}`,
    domain: 'math',
    difficulty: mathDifficulty(steps),
    prompt: `Question: ${record.question.trim()}\nAnswer:\n`,
    response: lines.join('\n'),
    source: `gsm8k/${split}.jsonl#${index}`,
    difficulty_measure: steps,
  };
}

/** MBPP code with CRLF line ends, trailing spaces and trailing blank lines removed (tabs are kept). */
export function normalizeCode(code: string): string {
  return code
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n')
    .replace(/^\n+|\n+$/g, '');
}

/**
 * MBPP: the prompt is the task text with its first test, "Task: …\nTest: assert …\nCode:\n"; the response is the code.
 */
export function mbppRow(record: MbppRecord): DemoRow {
  const code = normalizeCode(record.code);
  const score = codeScore(codeShape(code));
  const test = record.test_list[0];
  if (test === undefined) throw new Error(`mbpp task ${record.task_id} has no test`);
  return {
    id: `mbpp-${record.task_id}`,
    domain: 'code',
    difficulty: codeDifficulty(score),
    prompt: `Task: ${record.text.trim()}\nTest: ${test.trim()}\nCode:\n`,
    response: code,
    source: `mbpp/mbpp.jsonl#task_id=${record.task_id}`,
    difficulty_measure: score,
  };
}

/** The first `count` rows in hash order, returned in their original order. */
export function subsample<T extends { id: string }>(rows: readonly T[], count: number, seed: number): T[] {
  const order = rows.map((row, i) => ({ i, h: stableHash(row.id, seed) }));
  order.sort((a, b) => a.h - b.h || a.i - b.i);
  return order
    .slice(0, count)
    .map((o) => o.i)
    .sort((a, b) => a - b)
    .map((i) => rows[i]!);
}
