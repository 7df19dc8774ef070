/**
 * Category labels in reading order: difficulty easy → medium → hard (not alphabetical, which put "hard" before
 * "medium"), numbers by value, the rest alphabetically; the cross-domain table comes out in that order.
 */
import { describe, expect, it } from 'vitest';
import { compareLabels } from '../../src/data/difficulty';
import { crossDomainTable } from '../../src/influence/aggregate';
import type { ExampleMeta } from '../../src/influence/types';

describe('compareLabels', () => {
  it('orders difficulties easy, medium, hard, then numbers by value, then the rest alphabetically', () => {
    const labels = ['unknown', 'hard', '10', 'medium', 'code', '9', 'easy', 'math'];
    expect([...labels].sort(compareLabels)).toEqual(['easy', 'medium', 'hard', '9', '10', 'code', 'math', 'unknown']);
  });
});

describe('crossDomainTable order', () => {
  it('puts the columns of each benchmark in domain order, difficulties easy → medium → hard', () => {
    const difficulties = ['hard', 'medium', 'easy', 'medium', 'hard', 'easy'];
    const train: ExampleMeta[] = difficulties.flatMap((difficulty, i) => [
      { id: `m${i}`, domain: 'math', difficulty },
      { id: `c${i}`, domain: 'code', difficulty },
    ]);
    const queries: ExampleMeta[] = [
      { id: 'q0', benchmark: 'mbpp' },
      { id: 'q1', benchmark: 'gsm8k' },
    ];
    const values = Float64Array.from({ length: queries.length * train.length }, (_, i) => i);
    const view = { values, queries: queries.length, train: train.length, normalization: 'none' as const, label: '' };
    const cells = crossDomainTable(view, queries, train);
    const columns = ['easy', 'medium', 'hard'];
    expect(cells.map((c) => `${c.benchmark}/${c.domain}/${c.difficulty}`)).toEqual(
      ['gsm8k', 'mbpp'].flatMap((b) => ['code', 'math'].flatMap((d) => columns.map((x) => `${b}/${d}/${x}`))),
    );
    // The means are still those of each column's members (order changed, not content).
    const hardMath = cells.find((c) => c.benchmark === 'gsm8k' && c.domain === 'math' && c.difficulty === 'hard')!;
    const members = train.flatMap((e, n) => (e.domain === 'math' && e.difficulty === 'hard' ? [n] : []));
    expect(hardMath.mean).toBe(members.reduce((s, n) => s + values[train.length + n]!, 0) / members.length);
  });
});
