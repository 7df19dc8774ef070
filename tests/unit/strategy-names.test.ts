/**
 * The strategy names are spelled once (src/core/strategy.ts): every other list, union or check derives from
 * STRATEGY_NAMES. This reads every source file and refuses two strategy names written side by side (a hand-written
 * union, array, message or usage line; comments may name them), which is how a second spelling starts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isStrategy, STRATEGIES_PLAINEST_FIRST, STRATEGY_NAMES } from '../../src/core/strategy';

const ROOT = join(__dirname, '../..');
const NAME = `(?:${STRATEGY_NAMES.join('|')})`;
/** Two names next to each other: 'a' | 'b', 'a', 'b', a|b, "a", "b". */
const SIDE_BY_SIDE = new RegExp(`(['"\`]?)\\b${NAME}\\1\\s*[|,]\\s*\\1${NAME}\\b\\1`);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('strategy names', () => {
  it('are written out only in src/core/strategy.ts', () => {
    const offenders = sources(join(ROOT, 'src'))
      .filter((file) => !file.endsWith(join('core', 'strategy.ts')))
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          // Prose may name them (comments); code may not.
          .flatMap((line, i) =>
            SIDE_BY_SIDE.test(line) && !/^\s*(\*|\/\/|\/\*)/.test(line)
              ? [`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`]
              : [],
          ),
      );
    expect(offenders).toEqual([]);
  });

  it('the check catches a hand-written union, array and usage line', () => {
    for (const line of [
      "type S = 'identity' | 'diagonal';",
      "const ORDER = ['kfac', 'ekfac'] as const;",
      '[--strategy ekfac|kfac]',
    ])
      expect(SIDE_BY_SIDE.test(line), line).toBe(true);
    expect(SIDE_BY_SIDE.test("diagonal: fromRun('diagonal'),")).toBe(false);
  });

  it('are four, each once, and the two orders are each other reversed', () => {
    expect(new Set(STRATEGY_NAMES).size).toBe(4);
    expect([...STRATEGIES_PLAINEST_FIRST].reverse()).toEqual([...STRATEGY_NAMES]);
    expect(STRATEGY_NAMES.every(isStrategy)).toBe(true);
    expect(isStrategy('newton')).toBe(false);
  });
});
