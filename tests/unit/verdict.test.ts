/** The workspace's verdicts on a mean with its bootstrap interval: resolved only when the interval excludes 0. */
import { describe, expect, it } from 'vitest';
import { distinct, resolved, verdict } from '../../src/ui/workspace/model';
import { differenceVerdict } from '../../src/ui/workspace/after-answer-view';

describe('verdicts', () => {
  it('an interval that spans 0 is not resolved, and says at which n', () => {
    expect(resolved({ low: -0.1, high: 0.3 })).toBe(false);
    expect(resolved({ low: 0, high: 0.3 })).toBe(false);
    expect(verdict({ low: -0.1, high: 0.3 }, 32)).toBe('not resolved at n = 32');
    expect(verdict({ low: 0.01, high: 0.3 }, 32)).toBe('helps');
    expect(verdict({ low: -0.5, high: -0.2 }, 8)).toBe('harms');
    // One example: resampling it gives a zero-width interval, which resolves nothing.
    expect(verdict({ low: 0.077, high: 0.077 }, 1)).toBe('not resolved at n = 1');
  });

  it('a difference names the side that helps more', () => {
    const d = { comparison: 'with − without', detail: '', paired: false, mean: 1, count: 12 };
    expect(differenceVerdict({ ...d, low: 0.2, high: 2 })).toBe('with helps more than without');
    expect(differenceVerdict({ ...d, low: -2, high: -0.2 })).toBe('with helps less than without');
    expect(differenceVerdict({ ...d, low: -2, high: 0.2 })).toBe('not resolved at n = 12');
  });

  it('labels are listed easy, medium, hard', () => {
    expect(distinct(['hard', 'easy', 'medium', 'hard'])).toEqual(['easy', 'medium', 'hard']);
  });
});
