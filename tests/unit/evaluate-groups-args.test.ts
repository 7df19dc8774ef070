/** `iwb evaluate --groups`: flags checked before anything runs, each mistake one usage error naming the flag. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GROUP_EVIDENCE } from '../../src/app/group-evidence-job';
import { CliUsageError } from '../../src/cli/args';
import { asksForGroups, parseEvaluateGroups } from '../../src/cli/evaluate-groups';

describe('iwb evaluate --groups flags', () => {
  it('routes on --groups and takes the defaults', () => {
    expect(asksForGroups(['--groups', 'domain-difficulty'])).toBe(true);
    expect(asksForGroups(['--groups=domain-difficulty'])).toBe(true);
    expect(asksForGroups(['--subsets', '4'])).toBe(false);
    const run = parseEvaluateGroups(['--groups', 'domain-difficulty']);
    expect(run.settings).toEqual(DEFAULT_GROUP_EVIDENCE);
    expect(run.settings.seeds).toHaveLength(10);
  });

  it('reads every setting', () => {
    const run = parseEvaluateGroups(
      '--groups domain-difficulty --track all --seeds 12 --per-cell 4 --queries 6 --factor 2.5 --steps 40 --checkpoint c.json --saved-only --out r.json'.split(
        ' ',
      ),
    );
    expect(run.settings).toMatchObject({ track: 'all', perCell: 4, queriesPerBenchmark: 6, factor: 2.5 });
    expect(run.settings.seeds).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(run.settings.training).toMatchObject({ steps: 40, warmupSteps: 4 });
    expect([run.checkpoint, run.savedOnly, run.out]).toEqual(['c.json', true, 'r.json']);
  });

  it.each([
    [['--groups', 'tokens'], /--groups/],
    [['--groups', 'domain-difficulty', '--factor', '1'], /--factor must be a number > 1, got "1"/],
    [['--groups', 'domain-difficulty', '--seeds', '1'], /--seeds must be a whole number ≥ 2, got "1"/],
    [['--groups', 'domain-difficulty', '--saved-only'], /--saved-only needs --checkpoint FILE/],
    [['--groups', 'domain-difficulty', '--seeds', '3', '--seeds', '4'], /--seeds is given more than once/],
    [['--groups', 'domain-difficulty', '--subsets', '4'], /subsets/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseEvaluateGroups(argv)).toThrow(CliUsageError);
    expect(() => parseEvaluateGroups(argv)).toThrow(message);
  });
});
