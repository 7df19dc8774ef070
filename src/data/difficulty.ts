// Difficulty buckets of the demo data (rules and distribution in docs/data.md).
//   math (GSM8K): the number of solution steps, i.e. non-empty lines of the worked solution before "####".
//   code (MBPP): a size-and-structure score of the reference solution:
//     score = code lines + 2 · (loops and branches) + 3 · (extra nesting levels below the first)

export type Difficulty = 'easy' | 'medium' | 'hard';
export const DIFFICULTIES: readonly Difficulty[] = ['easy', 'medium', 'hard'];

/** Solution steps of a GSM8K answer: non-empty lines before the "####" line. */
export function gsm8kSteps(answer: string): number {
  const beforeAnswer = answer.split('\n####')[0]!;
  return beforeAnswer.split('\n').filter((line) => line.trim().length > 0 && !line.startsWith('####')).length;
}

/** easy: 1–2 steps, medium: 3–4, hard: 5 or more. */
export function mathDifficulty(steps: number): Difficulty {
  return steps <= 2 ? 'easy' : steps <= 4 ? 'medium' : 'hard';
}

export interface CodeShape {
  /** Non-blank lines that are not only a comment. */
  lines: number;
  /** Loop and branch keywords: for, while, if, elif, except (comprehension and conditional-expression uses count). */
  loopsAndBranches: number;
  /** Deepest block level: 0 = top level, 1 = a function body, 2 = a loop inside it, … */
  maxDepth: number;
}

const CONTROL_KEYWORD = /\b(?:for|while|if|elif|except)\b/g;

export function codeShape(code: string): CodeShape {
  let lines = 0;
  let loopsAndBranches = 0;
  let maxDepth = 0;
  const indentStack: number[] = [0];
  for (const raw of code.split('\n')) {
    const text = raw.replace(/\s+$/, '');
    const trimmed = text.trimStart();
    if (trimmed.length === 0 || trimmed.startsWith('#')) continue;
    lines++;
    // Tabs expanded to 4 columns: MBPP mixes tabs and spaces but each solution is consistent with itself.
    const indent = text.slice(0, text.length - trimmed.length).replace(/\t/g, '    ').length;
    while (indent < indentStack[indentStack.length - 1]!) indentStack.pop();
    if (indent > indentStack[indentStack.length - 1]!) indentStack.push(indent);
    maxDepth = Math.max(maxDepth, indentStack.length - 1);
    loopsAndBranches += codeOnly(trimmed).match(CONTROL_KEYWORD)?.length ?? 0;
  }
  return { lines, loopsAndBranches, maxDepth };
}

/** The line without string literals and without a trailing comment. */
function codeOnly(line: string): string {
  return line.replace(/(["'])(?:\\.|(?!\1).)*\1/g, '""').replace(/#.*$/, '');
}

export function codeScore(shape: CodeShape): number {
  return shape.lines + 2 * shape.loopsAndBranches + 3 * Math.max(0, shape.maxDepth - 1);
}

/** easy: score ≤ 5, medium: 6–15, hard: 16 or more (roughly terciles of all 974 MBPP tasks). */
export function codeDifficulty(score: number): Difficulty {
  return score <= 5 ? 'easy' : score <= 15 ? 'medium' : 'hard';
}

/**
 * Reading order of category labels (domains, difficulties, benchmarks), the one order every table, list and filter
 * uses: the difficulty buckets easy < medium < hard first, then numbers by value (step counts such as "10" after
 * "9"), then the rest alphabetically ("unknown" among them).
 */
export function compareLabels(a: string, b: string): number {
  const rank = (label: string) => {
    const known = DIFFICULTIES.indexOf(label as Difficulty);
    return known >= 0 ? known : DIFFICULTIES.length;
  };
  return rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true });
}
