/**
 * The page's time estimate: a 'prepare' stage first (the measured part plus onnxruntime's session, modelled), each
 * engine stage its arithmetic plus a fixed overhead, every modelled second divided by the machine's measured speed.
 */
import { describe, expect, it } from 'vitest';
import {
  runEstimate,
  SESSION_SECONDS,
  STAGE_OVERHEAD_SECONDS,
  deviceProfile,
  type RunPlan,
} from '../../src/app/run-plan';
import type { GradientGraph } from '../../src/onnx/gradient-graph';
import type { RunInputs } from '../../src/app/inputs';
import { measureSpeed } from '../../src/app/speed-probe';

const plan = (kind: 'cpu' | 'webgpu') =>
  ({
    device: deviceProfile(kind === 'cpu' ? { kind } : { kind, software: true }),
    plan: {
      stages: [
        { stage: 'covariance', peakBytes: 10, seconds: 4 },
        { stage: 'scores', peakBytes: 20, seconds: 6 },
      ],
      seconds: 10,
      peakBytes: 20,
      batchSizes: { fit: 8, train: 8, query: 16, batchesPerChunk: 1 },
      changes: [],
      notes: [],
      problems: [],
    },
  }) as unknown as RunPlan;
const graph = { layers: [], model: { graph: { nodes: new Array(100).fill(null) } } } as unknown as GradientGraph;
const inputs = { train: new Array(32), queries: new Array(4) } as unknown as RunInputs;

describe('runEstimate time', () => {
  it('adds preparing the model and each stage overhead, scaled by the machine speed', () => {
    const speed = 0.25;
    const e = runEstimate(plan('cpu'), graph, inputs, 'CPU', 3, speed);
    const session = SESSION_SECONDS.wasm.base + 100 * SESSION_SECONDS.wasm.perNode;
    expect(e.stages.map((s) => s.stage)).toEqual(['prepare', 'covariance', 'scores']);
    expect(e.stages[0]!.seconds).toBeCloseTo(3 + session / speed, 12);
    expect(e.stages[1]!.seconds).toBeCloseTo((4 + STAGE_OVERHEAD_SECONDS.cpu) / speed, 12);
    expect(e.stages[2]!.seconds).toBeCloseTo((6 + STAGE_OVERHEAD_SECONDS.cpu) / speed, 12);
    expect(e.seconds).toBeCloseTo(
      e.stages.reduce((t, s) => t + s.seconds, 0),
      12,
    );
    expect(e.stages[0]!.peak).toBe('—');
    expect([e.deviceKind, e.speed, e.counts]).toEqual(['cpu', speed, { train: 32, queries: 4 }]);
  });

  it('on a software WebGPU adapter, uses onnxruntime on WebGPU and the software overhead', () => {
    const e = runEstimate(plan('webgpu'), graph, inputs, 'SwiftShader', 0, 1);
    expect(e.stages[0]!.seconds).toBeCloseTo(SESSION_SECONDS.webgpu.base + 100 * SESSION_SECONDS.webgpu.perNode, 12);
    expect(e.stages[1]!.seconds).toBeCloseTo(4 + STAGE_OVERHEAD_SECONDS.software, 12);
  });

  it('measures a finite speed within its clamp', () => {
    const speed = measureSpeed(20);
    expect(speed).toBeGreaterThanOrEqual(0.02);
    expect(speed).toBeLessThanOrEqual(2);
  });
});
