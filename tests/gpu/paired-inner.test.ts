import { describe, expect, test } from 'vitest';
import { cpu, f32, gpuBackend, randomValues, readBoth, relativeError } from './oracle';

describe('paired inner products ⟨a[b], c[b]⟩ against the float64 CPU backend', () => {
  const shapes: number[][] = [
    [1, 1],
    [7, 3, 5],
    [4, 33, 130],
    [16, 9, 257],
  ];
  for (const shape of shapes) {
    test(`shape [${shape.join(', ')}]`, async () => {
      const gpu = await gpuBackend();
      const size = shape.reduce((x, y) => x * y, 1);
      const a = f32(randomValues(size, size + 1));
      const c = f32(randomValues(size, size + 2));
      const { gpu: g, cpu: expected } = await readBoth(
        gpu,
        gpu.pairedInner(gpu.upload(a, shape), gpu.upload(c, shape)),
        cpu.pairedInner(cpu.upload(a, shape), cpu.upload(c, shape)),
      );
      expect(g.length).toBe(shape[0]);
      expect(relativeError(g, expected)).toBeLessThan(5e-6);
    });
  }

  test('shape mismatch names the kernel and both shapes', async () => {
    const gpu = await gpuBackend();
    expect(() => gpu.pairedInner(gpu.zeros([2, 3]), gpu.zeros([2, 4]))).toThrow(/pairedInner.*a=\[2, 3\].*c=\[2, 4\]/);
  });
});

describe('pairwise inner products ⟨a[q], c[b]⟩ (the sequence form of the scores) against the float64 CPU backend', () => {
  const shapes: [number, number, number[]][] = [
    [1, 1, [1]],
    [3, 7, [3, 5]],
    [2, 33, [33, 7]],
    [5, 16, [9, 130]],
  ];
  for (const [queries, rows, trailing] of shapes) {
    test(`[${queries}, ${trailing.join(', ')}] × [${rows}, ${trailing.join(', ')}]`, async () => {
      const gpu = await gpuBackend();
      const width = trailing.reduce((x, y) => x * y, 1);
      const a = f32(randomValues(queries * width, width + 3));
      const c = f32(randomValues(rows * width, width + 4));
      const { gpu: g, cpu: expected } = await readBoth(
        gpu,
        gpu.pairwiseInner(gpu.upload(a, [queries, ...trailing]), gpu.upload(c, [rows, ...trailing])),
        cpu.pairwiseInner(cpu.upload(a, [queries, ...trailing]), cpu.upload(c, [rows, ...trailing])),
      );
      expect(g.length).toBe(queries * rows);
      expect(relativeError(g, expected)).toBeLessThan(5e-6);
    });
  }

  test('trailing shapes that differ are refused, naming the kernel and both shapes', async () => {
    const gpu = await gpuBackend();
    expect(() => gpu.pairwiseInner(gpu.zeros([2, 3]), gpu.zeros([5, 4]))).toThrow(
      /pairwiseInner.*a=\[2, 3\].*c=\[5, 4\]/,
    );
  });
});
