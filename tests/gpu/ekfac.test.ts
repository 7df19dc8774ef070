import { describe, expect, test } from 'vitest';
import type { Backend } from '../../src/linalg/backend';
import {
  cpu,
  f32,
  gpuBackend,
  randomBasis,
  randomBatch,
  randomValues,
  readBoth,
  relativeError,
  toBatch,
} from './oracle';

// Tolerances, relative to the float64 result's Frobenius norm: one float32 GEMM stays near 1e-7·√K; two chained
// GEMMs (a rotation) near 1e-6; rotations plus a division by Λ + δ near 1e-5.
const ONE_GEMM = 2e-6;
const ROTATION = 5e-6;
const PRECONDITIONED = 2e-5;

const shapes: [B: number, T: number, dIn: number, dOut: number, appendOnes: boolean, masked: boolean][] = [
  [1, 1, 1, 1, false, false],
  [2, 7, 7, 33, true, true],
  [3, 33, 33, 7, false, true],
  [2, 5, 130, 9, true, true],
];

describe('EK-FAC kernels against the float64 CPU backend', () => {
  for (const [B, T, dIn, dOut, appendOnes, masked] of shapes) {
    const label = `B=${B} T=${T} dIn=${dIn} dOut=${dOut} ones=${appendOnes} mask=${masked}`;
    const dInPrime = dIn + (appendOnes ? 1 : 0);

    test(`sequenceGradients ${label}`, async () => {
      const gpu = await gpuBackend();
      const data = randomBatch(B, T, dIn, dOut, appendOnes, masked, B * 100 + T);
      const { gpu: g, cpu: c } = await readBoth(
        gpu,
        gpu.sequenceGradients(toBatch(gpu, data)),
        cpu.sequenceGradients(toBatch(cpu, data)),
      );
      expect(relativeError(g, c)).toBeLessThan(ONE_GEMM);
    });

    test(`rotate into and back ${label}`, async () => {
      const gpu = await gpuBackend();
      const matrices = f32(randomValues(B * dOut * dInPrime, 5));
      const qS = randomBasis(dOut, 6);
      const qA = randomBasis(dInPrime, 7);
      for (const direction of ['into', 'back'] as const) {
        const run = (backend: Backend) =>
          backend.rotate(
            backend.upload(matrices, [B, dOut, dInPrime]),
            backend.upload(qS, [dOut, dOut]),
            backend.upload(qA, [dInPrime, dInPrime]),
            direction,
          );
        const { gpu: g, cpu: c } = await readBoth(gpu, run(gpu), run(cpu));
        expect(relativeError(g, c)).toBeLessThan(ROTATION);
      }
    });

    test(`rotatedGradients (G(n) built and rotated on the GPU; the CPU may rotate token rows) ${label}`, async () => {
      const gpu = await gpuBackend();
      const data = randomBatch(B, T, dIn, dOut, appendOnes, masked, B * 300 + T);
      const qS = randomBasis(dOut, 8);
      const qA = randomBasis(dInPrime, 9);
      const run = (backend: Backend) =>
        backend.rotatedGradients(
          toBatch(backend, data),
          backend.upload(qS, [dOut, dOut]),
          backend.upload(qA, [dInPrime, dInPrime]),
        );
      const { gpu: g, cpu: c } = await readBoth(gpu, run(gpu), run(cpu));
      expect(relativeError(g, c)).toBeLessThan(ROTATION);
    });

    test(`accumulateLambda over several batches, then damping and preconditioning ${label}`, async () => {
      const gpu = await gpuBackend();
      const qS = randomBasis(dOut, 8);
      const qA = randomBasis(dInPrime, 9);
      const lambdas = [gpu, cpu].map((backend) => backend.zeros([dOut, dInPrime]));
      for (let batch = 0; batch < 3; batch++) {
        const data = randomBatch(B, T, dIn, dOut, appendOnes, masked, 1000 + batch);
        [gpu, cpu].forEach((backend: Backend, i) =>
          backend.accumulateLambda(
            lambdas[i]!,
            toBatch(backend, data),
            backend.upload(qS, [dOut, dOut]),
            backend.upload(qA, [dInPrime, dInPrime]),
          ),
        );
      }
      const { gpu: lg, cpu: lc } = await readBoth(gpu, lambdas[0]!, lambdas[1]!);
      expect(relativeError(lg, lc)).toBeLessThan(ROTATION);

      for (const damping of [
        { kind: 'heuristic', factor: 0.1 },
        { kind: 'absolute', value: 0.25 },
      ] as const) {
        const deltaGpu = await gpu.dampingValue(lambdas[0]!, damping);
        const deltaCpu = await cpu.dampingValue(lambdas[1]!, damping);
        expect(Math.abs(deltaGpu - deltaCpu)).toBeLessThanOrEqual(1e-5 * Math.abs(deltaCpu) + 1e-12);

        const queries = f32(randomValues(2 * dOut * dInPrime, 10));
        const run = (backend: Backend, lambda: (typeof lambdas)[number]) =>
          backend.precondition(
            backend.upload(queries, [2, dOut, dInPrime]),
            backend.upload(qS, [dOut, dOut]),
            backend.upload(qA, [dInPrime, dInPrime]),
            lambda,
            damping,
          );
        const { gpu: pg, cpu: pc } = await readBoth(gpu, run(gpu, lambdas[0]!), run(cpu, lambdas[1]!));
        expect(relativeError(pg, pc)).toBeLessThan(PRECONDITIONED);
      }
    });

    test(`scores, per-token scores and low-rank scores ${label}`, async () => {
      const gpu = await gpuBackend();
      const Q = 3;
      const data = randomBatch(B, T, dIn, dOut, appendOnes, masked, 77);
      const p = f32(randomValues(Q * dOut * dInPrime, 78));
      for (const perToken of [false, true]) {
        const run = (backend: Backend) =>
          backend.scores(backend.upload(p, [Q, dOut, dInPrime]), toBatch(backend, data), perToken);
        const { gpu: g, cpu: c } = await readBoth(gpu, run(gpu), run(cpu));
        expect(relativeError(g, c)).toBeLessThan(ONE_GEMM * 5);
      }
      const rank = Math.min(2, dOut, dInPrime);
      const factors = await cpu.lowRank(cpu.upload(p, [Q, dOut, dInPrime]), rank);
      const [u, v] = [f32(await cpu.read(factors.u)), f32(await cpu.read(factors.v))];
      for (const perToken of [false, true]) {
        const run = (backend: Backend) =>
          backend.lowRankScores(
            backend.upload(u, [Q, dOut, rank]),
            backend.upload(v, [Q, dInPrime, rank]),
            toBatch(backend, data),
            perToken,
          );
        const { gpu: g, cpu: c } = await readBoth(gpu, run(gpu), run(cpu));
        expect(relativeError(g, c)).toBeLessThan(ONE_GEMM * 5);
      }
    });
  }

  test('per-token scores sum to the sequence scores, and padding tokens score 0', async () => {
    const gpu = await gpuBackend();
    const [Q, B, T, dIn, dOut] = [2, 3, 9, 6, 5];
    const data = randomBatch(B, T, dIn, dOut, true, true, 4);
    const p = gpu.upload(f32(randomValues(Q * dOut * (dIn + 1), 3)), [Q, dOut, dIn + 1]);
    const batch = toBatch(gpu, data);
    const tokens = await gpu.read(gpu.scores(p, batch, true));
    const sequences = await gpu.read(gpu.scores(p, batch, false));
    for (let q = 0; q < Q; q++) {
      for (let n = 0; n < B; n++) {
        let sum = 0;
        for (let t = 0; t < T; t++) {
          const score = tokens[(q * B + n) * T + t]!;
          if (data.mask![n * T + t] === 0) expect(score).toBe(0);
          sum += score;
        }
        expect(Math.abs(sum - sequences[q * B + n]!)).toBeLessThan(1e-5 * (1 + Math.abs(sum)));
      }
    }
  });

  test('lowRank at full rank reproduces the full-rank scores', async () => {
    const gpu = await gpuBackend();
    const [Q, dIn, dOut] = [2, 4, 6];
    const data = randomBatch(2, 5, dIn, dOut, true, false, 12);
    const p = gpu.upload(f32(randomValues(Q * dOut * (dIn + 1), 13)), [Q, dOut, dIn + 1]);
    const { u, v } = await gpu.lowRank(p, dIn + 1);
    expect(u.shape).toEqual([Q, dOut, dIn + 1]);
    const batch = toBatch(gpu, data);
    const full = await gpu.read(gpu.scores(p, batch, false));
    const factored = await gpu.read(gpu.lowRankScores(u, v, batch, false));
    expect(relativeError(factored, full)).toBeLessThan(1e-5);
  });

  test('eigh goes through the GPU Jacobi solver and matches the float64 eigenvalues', async () => {
    const gpu = await gpuBackend();
    const d = 33;
    const x = f32(randomValues(40 * d, 31));
    const covariance = cpu.finalizeCovariance(
      (() => {
        const acc = cpu.zeros([d, d]);
        cpu.accumulateCovariance(acc, cpu.upload(x, [40, d]), null, false);
        return acc;
      })(),
      40,
    );
    const matrix = f32(await cpu.read(covariance));
    const eigen = await gpu.eigh(gpu.upload(matrix, [d, d]));
    expect(eigen.vectors.shape).toEqual([d, d]);
    const reference = await cpu.read((await cpu.eigh(cpu.upload(matrix, [d, d]))).values);
    expect(relativeError(await gpu.read(eigen.values), reference)).toBeLessThan(1e-5);
  });
});
