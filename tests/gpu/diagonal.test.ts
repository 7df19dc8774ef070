/**
 * The diagonal strategy's WebGPU ops against the float64 CPU backend: Λ in the parameter basis (accumulateLambda
 * without bases: G(n)∘² summed, no rotation) and the elementwise preconditioning divideDamped (ekfac.wgsl's
 * divide_damped on a copy). Neither may change its input.
 */
import { describe, expect, test } from 'vitest';
import type { Backend } from '../../src/linalg/backend';
import { cpu, f32, gpuBackend, randomBatch, randomValues, readBoth, relativeError, toBatch } from './oracle';

// One float32 GEMM (the sequence gradients) squared and summed stays near 1e-6; a division adds one rounding.
const SQUARED = 5e-6;
const DIVIDED = 2e-6;

describe('diagonal strategy ops against the float64 CPU backend', () => {
  const shapes: [B: number, T: number, dIn: number, dOut: number, appendOnes: boolean][] = [
    [1, 1, 1, 1, false],
    [3, 7, 33, 9, true],
    [2, 5, 130, 17, true],
  ];
  for (const [B, T, dIn, dOut, appendOnes] of shapes) {
    const dInPrime = dIn + (appendOnes ? 1 : 0);
    test(`accumulateLambda without bases, then divideDamped, B=${B} T=${T} dIn=${dIn} dOut=${dOut}`, async () => {
      const gpu = await gpuBackend();
      const lambdas = [gpu, cpu].map((backend) => backend.zeros([dOut, dInPrime]));
      for (let batch = 0; batch < 2; batch++) {
        const data = randomBatch(B, T, dIn, dOut, appendOnes, true, 300 + batch);
        [gpu, cpu].forEach((backend: Backend, i) =>
          backend.accumulateLambda(lambdas[i]!, toBatch(backend, data), null, null),
        );
      }
      const { gpu: lg, cpu: lc } = await readBoth(gpu, lambdas[0]!, lambdas[1]!);
      expect(relativeError(lg, lc)).toBeLessThan(SQUARED);

      const gradients = f32(randomValues(B * dOut * dInPrime, 11));
      const lambda = f32(lc);
      for (const damping of [
        { kind: 'heuristic', factor: 0.1 },
        { kind: 'absolute', value: 0.5 },
      ] as const) {
        const inputs = [gpu, cpu].map((backend) => backend.upload(gradients, [B, dOut, dInPrime]));
        const run = (backend: Backend, i: number) =>
          backend.divideDamped(inputs[i]!, backend.upload(lambda, [dOut, dInPrime]), damping);
        const { gpu: pg, cpu: pc } = await readBoth(gpu, run(gpu, 0), run(cpu, 1));
        expect(relativeError(pg, pc)).toBeLessThan(DIVIDED);
        expect(Array.from(await gpu.read(inputs[0]!))).toEqual(Array.from(gradients));
      }
    });
  }

  test('a shape mismatch names the op and the shapes', async () => {
    const gpu = await gpuBackend();
    expect(() => gpu.divideDamped(gpu.zeros([2, 3, 4]), gpu.zeros([3, 5]), { kind: 'absolute', value: 1 })).toThrow(
      /divideDamped.*gradients=\[2, 3, 4\].*lambda=\[3, 5\]/,
    );
  });
});
