/**
 * The fast share of the seeded fuzz suite (tests/fuzz/run.ts; the full plan is `npm run fuzz`): 3,310 cases over
 * JSONL, ONNX, bundles, flags, outputs, external data, tokenizers, output escaping, safetensors headers and
 * crashed writers, every one a clean refusal or an accepted valid input — no crash, no
 * refusal without its place, no overwritten input, no partial write. A failure lists the seeds that reproduce it.
 */
import { describe, expect, it } from 'vitest';
import { checkRefusal, FuzzViolation, isEngineError, Random } from '../fuzz/classify';
import { runFlagCase } from '../fuzz/flags';
import { FAST_PLAN, KINDS, runFuzz } from '../fuzz/run';

describe('seeded fuzz, fast subset', () => {
  it('3,310 cases: zero bad outcomes, and every kind reaches both refusal and acceptance', async () => {
    const report = await runFuzz(FAST_PLAN, 20261130);
    expect(report.cases).toBeGreaterThanOrEqual(2000);
    expect(report.bad, JSON.stringify(report.bad, null, 1)).toEqual([]);
    expect(report.totals.refused + report.totals.accepted).toBe(report.cases);
    for (const kind of KINDS.filter((k) => FAST_PLAN[k] > 0)) {
      expect(report.counts[kind].refused, kind).toBeGreaterThan(0);
      expect(report.counts[kind].accepted, kind).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe('the classifier', () => {
  it('calls a multi-line or unplaced refusal a violation, and knows engine errors', () => {
    expect(() => checkRefusal(new Error('a.jsonl:3: bad'), 'a.jsonl')).not.toThrow();
    expect(() => checkRefusal(new Error('a.jsonl:3: bad\nat x'), 'a.jsonl')).toThrow(FuzzViolation);
    expect(() => checkRefusal(new Error('row 3 is bad'), 'a.jsonl')).toThrow(FuzzViolation);
    expect(isEngineError(new TypeError('x'))).toBe(true);
    expect(isEngineError(new Error('x'))).toBe(false);
  });

  it('accepts well-formed flags and refuses malformed ones', () => {
    expect(runFlagCase(['attribute', '--damping', '0.5', '--limit-train', '3'])).toBe('accepted');
    expect(runFlagCase(['attribute', '--damping', '0x10'])).toBe('refused');
    expect(runFlagCase(['attribute', '--out', 'a', '--out', 'b'])).toBe('refused');
  });

  it('is deterministic: the same seed gives the same draws', () => {
    const a = new Random(7);
    const b = new Random(7);
    expect(Array.from({ length: 5 }, () => a.next())).toEqual(Array.from({ length: 5 }, () => b.next()));
  });
});
