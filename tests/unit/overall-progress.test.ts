/** Overall progress across a run's stages, weighted by the estimate's seconds per stage. */
import { describe, expect, it } from 'vitest';
import { overallFraction } from '../../src/ui/overall-progress';
import type { ProgressEvent, RunEstimate } from '../../src/worker/protocol';

const stage = (name: string, seconds: number) => ({ stage: name, seconds, peakBytes: 0, peak: '', time: '' });
const estimate = {
  stages: [stage('prepare', 10), stage('covariance', 20), stage('eigen', 10), stage('lambda', 20), stage('scores', 40)],
} as unknown as RunEstimate;
const event = (name: string, done: number, total: number, unit: ProgressEvent['unit'] | 'steps' = 'sequences') =>
  ({ stage: name, done, total, unit, itemsPerSecond: 0, etaSeconds: null }) as unknown as ProgressEvent;

describe('overallFraction', () => {
  it('weights each stage by its estimated seconds', () => {
    expect(overallFraction(event('covariance', 0, 8), 0, estimate)).toBeCloseTo(10 / 100, 12);
    expect(overallFraction(event('covariance', 4, 8), 0, estimate)).toBeCloseTo(20 / 100, 12);
    expect(overallFraction(event('lambda', 8, 8), 0, estimate)).toBeCloseTo(60 / 100, 12);
    expect(overallFraction(event('scores', 1, 2), 0, estimate)).toBeCloseTo((60 + 0.85 * 0.5 * 40) / 100, 12);
    expect(overallFraction(event('self', 2, 2), 0, estimate)).toBeCloseTo(1, 12);
  });

  it('moves during preparation by elapsed time over its estimate, and stops short of its end', () => {
    expect(overallFraction(event('loading data', 0, 1, 'steps'), 0, estimate)).toBe(0);
    expect(overallFraction(event('preparing the model', 0, 1, 'steps'), 5, estimate)).toBeCloseTo(0.05, 12);
    expect(overallFraction(event('preparing the model', 0, 1, 'steps'), 60, estimate)).toBeCloseTo(0.095, 12);
  });

  it('says nothing for a stage the estimate does not have', () => {
    expect(overallFraction(event('query', 1, 2, 'queries'), 0, estimate)).toBeNull();
  });
});
