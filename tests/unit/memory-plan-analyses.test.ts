/**
 * The planner counts the token analyses (group per-token scores within the scores stage, top-k pair token scores as
 * their own stage) in time and memory, and decides when the Λ pass's batches serve the first score pass.
 */
import { describe, expect, test } from 'vitest';
import { deviceProfile, formatPlan, ORT_HEAP_BYTES, THROUGHPUT } from '../../src/app/run-plan';
import { applyPlan, planMemory, type DataProfile, type GraphProfile } from '../../src/influence/memory-plan';
import { DEFAULT_CONFIG, type AttributionConfig, type LayerInfo } from '../../src/influence/types';

const layers: LayerInfo[] = [
  { name: 'fc', dIn: 64, dOut: 256, hasBias: true },
  { name: 'proj', dIn: 256, dOut: 64, hasBias: true },
];
const graph: GraphProfile = {
  vocab: 512,
  weightBytes: 4e6,
  linearWidth: 2000,
  heapBytes: ORT_HEAP_BYTES,
  flopsPerSecond: THROUGHPUT.ortWasm,
};
const data = (changes: Partial<DataProfile> = {}): DataProfile => ({
  train: 200,
  queries: 8,
  maxTokens: 64,
  trainTokens: 200 * 48,
  queryTokens: 8 * 40,
  ...changes,
});
const config = (changes: Partial<AttributionConfig> = {}): AttributionConfig => ({ ...DEFAULT_CONFIG, ...changes });
const cpu = deviceProfile({ kind: 'cpu' });
const scores = (plan: ReturnType<typeof planMemory>) => plan.stages.find((s) => s.stage === 'scores')!;

describe('token analyses in the plan', () => {
  test('group per-token scores add their time and memory to the scores stage, more with more groups', () => {
    const off = planMemory(config({ groupTokens: false }), layers, graph, data(), cpu);
    const two = planMemory(config(), layers, graph, data({ queryGroups: 2 }), cpu);
    const four = planMemory(config(), layers, graph, data({ queryGroups: 4 }), cpu);
    expect(off.tokenAnalyses.groupTokens).toBeNull();
    const group = two.tokenAnalyses.groupTokens!;
    expect(group.groups).toBe(2);
    expect(group.seconds).toBeGreaterThan(0);
    // One query chunk (8 ≤ 16): nothing kept across chunks, so the stage differs by exactly the group share.
    expect(scores(two).seconds - scores(off).seconds).toBeCloseTo(group.seconds, 12);
    expect(scores(two).peakBytes - scores(off).peakBytes).toBe(group.peakBytes);
    // The host rows alone: 8 bytes per group and training token.
    expect(group.peakBytes).toBeGreaterThanOrEqual(8 * 2 * data().trainTokens);
    expect(four.tokenAnalyses.groupTokens!.seconds).toBeGreaterThan(group.seconds);
    expect(four.tokenAnalyses.groupTokens!.peakBytes).toBeGreaterThan(group.peakBytes);
  });

  test('top-k pair token scores are a stage of their own when asked for, growing with k (at most N)', () => {
    const none = planMemory(config(), layers, graph, data(), cpu);
    expect(none.stages.map((s) => s.stage)).not.toContain('pair-tokens');
    expect(none.tokenAnalyses.pairTokens).toBeNull();
    const k20 = planMemory(config(), layers, graph, data({ pairTokensTopK: 20 }), cpu);
    const k40 = planMemory(config(), layers, graph, data({ pairTokensTopK: 40 }), cpu);
    const pair = k20.stages.find((s) => s.stage === 'pair-tokens')!;
    expect(pair.seconds).toBeGreaterThan(0);
    expect(pair.peakBytes).toBeGreaterThan(0);
    expect(k20.seconds).toBeCloseTo(none.seconds + pair.seconds, 12);
    expect(k40.tokenAnalyses.pairTokens!.seconds).toBeGreaterThan(pair.seconds);
    const capped = planMemory(config(), layers, graph, data({ train: 10, trainTokens: 480, pairTokensTopK: 20 }), cpu);
    expect(capped.tokenAnalyses.pairTokens!.k).toBe(10);
  });

  test('the plan in words names both analyses', () => {
    const plan = planMemory(config(), layers, graph, data({ queryGroups: 3, pairTokensTopK: 20 }), cpu);
    const text = formatPlan({ plan, device: cpu, config: DEFAULT_CONFIG as never }).join('\n');
    expect(text).toMatch(/group token scores \(3 groups, within scores\): about/);
    expect(text).toMatch(/pair token scores \(top 20 per query, after the scores\): about/);
    expect(text).toMatch(/pair-tokens +peak/);
  });
});

describe("the Λ pass's batches for the first score pass", () => {
  const empirical = config({ fisher: 'empirical', groupTokens: false });

  test('kept with the empirical Fisher when the budget holds them: the first pass skips its gradient graph', () => {
    const reuse = planMemory(empirical, layers, graph, data(), cpu);
    // Fit and score batches differ: the batches would not match, nothing is kept.
    const unlike = planMemory(
      { ...empirical, batchSizes: { ...empirical.batchSizes, fit: 4 } },
      layers,
      graph,
      data(),
      cpu,
    );
    expect(reuse.lambdaBatchBytes).toBeGreaterThan(0);
    expect(unlike.lambdaBatchBytes).toBe(0);
    // The whole training set kept: the first (only) pass spares one gradient-graph pass over every training token.
    const ort = (4 * (graph.weightBytes / 4) * data().trainTokens) / graph.flopsPerSecond;
    expect(scores(unlike).seconds - scores(reuse).seconds).toBeCloseTo(ort, 9);
    expect(scores(reuse).peakBytes - scores(unlike).peakBytes).toBe(reuse.lambdaBatchBytes);
    expect(applyPlan(empirical, reuse).scorePath?.lambdaBatchBytes).toBe(reuse.lambdaBatchBytes);
    expect(formatPlan({ plan: reuse, device: cpu, config: DEFAULT_CONFIG as never }).join('\n')).toMatch(
      /the Λ pass's training batches \([\d.]+ \w+\) serve the first score pass/,
    );
  });

  test('never with the sampled Fisher, nor for strategies without Λ; within the budget otherwise', () => {
    expect(planMemory({ ...empirical, fisher: 'sampled' }, layers, graph, data(), cpu).lambdaBatchBytes).toBe(0);
    expect(planMemory({ ...empirical, strategy: 'kfac' }, layers, graph, data(), cpu).lambdaBatchBytes).toBe(0);
    const roomy = planMemory(empirical, layers, graph, data(), cpu);
    const budget = roomy.peakBytes - roomy.lambdaBatchBytes / 2;
    const tight = planMemory(
      empirical,
      layers,
      graph,
      data(),
      deviceProfile({ kind: 'cpu', memoryBudgetBytes: budget }),
    );
    expect(tight.lambdaBatchBytes).toBeGreaterThan(0);
    expect(tight.lambdaBatchBytes).toBeLessThan(roomy.lambdaBatchBytes);
    expect(tight.peakBytes).toBeLessThanOrEqual(budget);
  });
});
