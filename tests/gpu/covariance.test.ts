import { describe, expect, test } from 'vitest';
import { cpu, f32, gpuBackend, randomMask, randomValues, readBoth, relativeError } from './oracle';

// float32 sums of up to ~1000 products of values in (-1, 1), blocked: the error stays near 1e-7 · √rows.
const TOLERANCE = 2e-6;

describe('covariance accumulation against the float64 CPU backend', () => {
  const cases: [rows: number, d: number, appendOnes: boolean, masked: boolean][] = [
    [1, 1, false, false],
    [7, 7, true, true],
    [33, 33, false, true],
    [130, 130, true, true],
    [257, 63, true, false],
    [64, 64, false, false],
  ];
  for (const [rows, d, appendOnes, masked] of cases) {
    test(`rows=${rows} d=${d} ones=${appendOnes} mask=${masked}`, async () => {
      const gpu = await gpuBackend();
      const x = f32(randomValues(rows * d, rows * 31 + d));
      const mask = masked ? randomMask(rows, d) : null;
      const dPrime = d + (appendOnes ? 1 : 0);
      const results = [];
      for (const backend of [gpu, cpu]) {
        const acc = backend.zeros([dPrime, dPrime]);
        backend.accumulateCovariance(
          acc,
          backend.upload(x, [rows, d]),
          mask && backend.upload(mask, [rows]),
          appendOnes,
        );
        results.push(backend.finalizeCovariance(acc, 3));
      }
      const { gpu: g, cpu: c } = await readBoth(gpu, results[0]!, results[1]!);
      expect(relativeError(g, c)).toBeLessThan(TOLERANCE);
      // The mirrored matrix is exactly symmetric.
      for (let i = 0; i < dPrime; i++) for (let j = 0; j < i; j++) expect(g[i * dPrime + j]).toBe(g[j * dPrime + i]);
    });
  }

  test('accumulates [B, T, d] batches on the GPU without reading back between them', async () => {
    const gpu = await gpuBackend();
    const [B, T, d] = [3, 41, 20];
    const accGpu = gpu.zeros([d + 1, d + 1]);
    const accCpu = cpu.zeros([d + 1, d + 1]);
    for (let batch = 0; batch < 4; batch++) {
      const x = f32(randomValues(B * T * d, 100 + batch));
      const mask = randomMask(B * T, 200 + batch);
      gpu.accumulateCovariance(accGpu, gpu.upload(x, [B, T, d]), gpu.upload(mask, [B, T]), true);
      cpu.accumulateCovariance(accCpu, cpu.upload(x, [B, T, d]), cpu.upload(mask, [B, T]), true);
    }
    const { gpu: g, cpu: c } = await readBoth(
      gpu,
      gpu.finalizeCovariance(accGpu, 400),
      cpu.finalizeCovariance(accCpu, 400),
    );
    expect(relativeError(g, c)).toBeLessThan(TOLERANCE);
  });

  test('a long run of rows keeps float32 accuracy (blocked sums)', async () => {
    const gpu = await gpuBackend();
    const [rows, d] = [8192, 5];
    // A large common offset makes naive float32 accumulation drift; the blocked sum stays close.
    const x = f32(randomValues(rows * d, 7).map((v) => 3 + v));
    const results = [];
    for (const backend of [gpu, cpu]) {
      const acc = backend.zeros([d, d]);
      backend.accumulateCovariance(acc, backend.upload(x, [rows, d]), null, false);
      results.push(backend.finalizeCovariance(acc, rows));
    }
    const { gpu: g, cpu: c } = await readBoth(gpu, results[0]!, results[1]!);
    expect(relativeError(g, c)).toBeLessThan(1e-6);
  });
});
