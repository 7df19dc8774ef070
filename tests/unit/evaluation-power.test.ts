// The evaluation panel's size advice (issue 20 §3): its constants are recomputed here from the committed record they
// name (the two-way half-widths and the EK-FAC − identity paired gap of its held-out block), and the advice warns
// for the page's default size and names a size that it then accepts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluationAdvice, predictedHalfWidth, RECORDED_NOISE } from '../../src/eval/power';
import { PAGE_EVALUATION_PRESET } from '../../src/app/evaluation-types';

interface RecordProtocol {
  config: { seedsPerSubset: number };
  protocol: {
    queries: number[];
    subsets: number[];
    strategies: { strategy: string; lds: { low: number; high: number } }[];
    paired: { a: string; b: string; difference: { mean: number } }[];
  };
}

describe('recorded noise', () => {
  const record = JSON.parse(
    readFileSync(path.resolve(__dirname, '../..', RECORDED_NOISE.record), 'utf8'),
  ) as RecordProtocol;

  it('the calibration, gap and seeds are the record’s', () => {
    const { queries, subsets, strategies, paired } = record.protocol;
    // The null formula at the record's held-out size, written out: 1.96 / √((M − 1)·Q).
    const formula = 1.959964 / Math.sqrt((subsets.length - 1) * queries.length);
    const ratios = strategies.map((s) => (s.lds.high - s.lds.low) / 2 / formula);
    const calibration = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    const pair = paired.find((p) => [p.a, p.b].sort().join() === 'ekfac,identity')!;
    expect(RECORDED_NOISE.calibration).toBeCloseTo(calibration, 3);
    expect(RECORDED_NOISE.gap).toBeCloseTo(Math.abs(pair.difference.mean), 3);
    expect(RECORDED_NOISE.seeds).toBe(record.config.seedsPerSubset);
  });
});

describe('evaluationAdvice', () => {
  it('warns for the page’s default size and offers a size it accepts', () => {
    const preset = {
      queries: PAGE_EVALUATION_PRESET.queries,
      subsets: PAGE_EVALUATION_PRESET.subsets,
      seeds: PAGE_EVALUATION_PRESET.seedsPerSubset,
    };
    const advice = evaluationAdvice(preset);
    expect(advice.resolves).toBe(false);
    expect(advice.text).toMatch(/cannot exclude 0/);
    expect(advice.subsetsNeeded).not.toBeNull();
    const bigger = evaluationAdvice({ ...preset, subsets: advice.subsetsNeeded!, seeds: RECORDED_NOISE.seeds });
    expect(bigger.resolves).toBe(true);
    expect(bigger.halfWidth).toBeLessThanOrEqual(RECORDED_NOISE.gap);
    expect(evaluationAdvice({ ...preset, subsets: advice.subsetsNeeded! - 1, seeds: 2 }).resolves).toBe(false);
  });

  it('asks for the record’s seeds, and follows 1/√((M − 1)·Q)', () => {
    const noise = { ...RECORDED_NOISE, gap: 0.3, calibration: 1, seeds: 2 };
    expect(evaluationAdvice({ queries: 64, subsets: 100, seeds: 1 }, noise).fewSeeds).toBe(true);
    expect(evaluationAdvice({ queries: 64, subsets: 100, seeds: 1 }, noise).resolves).toBe(false);
    expect(evaluationAdvice({ queries: 64, subsets: 100, seeds: 2 }, noise).resolves).toBe(true);
    expect(predictedHalfWidth(4, 26, 1)).toBeCloseTo(1.959964 / 10, 12);
    expect(evaluationAdvice({ queries: 1, subsets: 3, seeds: 2 }, { ...noise, gap: 0.01 }).subsetsNeeded).toBeNull();
  });
});
