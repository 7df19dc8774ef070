/**
 * Block Jacobi (src/linalg/webgpu/eigh-blocks.ts) at small d, split by a forced block size or a lowered binding
 * limit, against the float64 CPU eigensolver: the same float32 targets as the single-binding solver's tests.
 */
import { describe, expect, test } from 'vitest';
import { cpuBackend } from '../../src/linalg/cpu/backend';
import { eigendecomposeFactors } from '../../src/influence/eigen';
import { hostMatrix } from '../../src/influence/host';
import { eighGpu } from '../../src/linalg/webgpu/eigh';
import { defaultBlockSize } from '../../src/linalg/webgpu/block-layout';
import { BLOCK_EIGH_PROGRAMS, blockEighGpu, type BlockEighOptions } from '../../src/linalg/webgpu/eigh-blocks';
import { acquireGpu } from '../../src/linalg/webgpu/adapter';
import { DeviceLostError } from '../../src/linalg/webgpu/errors';
import { nodeGpu } from '../../src/linalg/webgpu/node-gpu';
import { GpuRuntime } from '../../src/linalg/webgpu/runtime';
import { webGpuBackend } from '../../src/linalg/webgpu/backend';
import { testGpu } from '../helpers/gpu';
import {
  covarianceLike,
  eigenResiduals,
  frobenius,
  matmul,
  maxAbs,
  mulberry32,
  randomOrthogonal,
  symmetricFromSpectrum,
} from '../helpers/matrices';

const runtime = testGpu().then((gpu) => GpuRuntime.create(gpu, BLOCK_EIGH_PROGRAMS));
const cpu = cpuBackend();

// The single-binding solver's float32 targets (tests/gpu/eigh.test.ts): eigenvalues within 1e-5·‖A‖_2.
const ORTHOGONALITY = 1e-4;
const RESIDUAL = 1e-5;
const EIGENVALUE = 1e-5;

async function float64Values(matrix: Float64Array, d: number): Promise<Float64Array> {
  return cpu.read((await cpu.eigh(cpu.upload(matrix, [d, d]))).values);
}

/** ‖AV − VΛ‖_F / ‖A‖_F in float64. */
function eigenResidual(matrix: Float64Array, values: Float64Array, vectors: Float64Array): number {
  const d = values.length;
  const av = matmul(matrix, vectors, d, d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) av[i * d + j]! -= vectors[i * d + j]! * values[j]!;
  return frobenius(av) / Math.max(frobenius(matrix), Number.MIN_VALUE);
}

async function expectAccurate(
  matrix: Float64Array,
  d: number,
  result: { values: Float64Array; vectors: Float64Array },
) {
  const { orthogonality, relativeReconstruction } = eigenResiduals(matrix, result.values, result.vectors);
  expect(orthogonality).toBeLessThanOrEqual(ORTHOGONALITY);
  expect(relativeReconstruction).toBeLessThanOrEqual(RESIDUAL);
  expect(eigenResidual(matrix, result.values, result.vectors)).toBeLessThanOrEqual(RESIDUAL);
  for (let i = 1; i < d; i++) expect(result.values[i]).toBeGreaterThanOrEqual(result.values[i - 1]!);
  const reference = await float64Values(matrix, d);
  const norm = maxAbs(reference);
  for (let i = 0; i < d; i++)
    expect(Math.abs(result.values[i]! - reference[i]!)).toBeLessThanOrEqual(EIGENVALUE * norm);
}

/** Eigenvalues −2 (×5), 0 (×7), 1 (×d − 20) and eight distinct others in (−1, 3): indefinite and repeated. */
function indefiniteRepeated(d: number): Float64Array {
  const values = Array.from({ length: d }, (_, i) =>
    i < 5 ? -2 : i < 12 ? 0 : i < d - 8 ? 1 : -1 + (i - d + 9) / 2.2,
  );
  return symmetricFromSpectrum(randomOrthogonal(mulberry32(d), d), values);
}

async function split(matrix: Float64Array, d: number, options: BlockEighOptions) {
  return blockEighGpu(await runtime, matrix, d, options);
}

describe('block Jacobi eigendecomposition against the float64 CPU eigensolver', () => {
  test('d = 40 in blocks of 16 (the last one 8): a PSD covariance-like matrix, spread spectrum', async () => {
    const { matrix } = covarianceLike(mulberry32(40), 40, 'spread');
    const result = await split(matrix, 40, { blockSize: 16 });
    expect([result.blocks, result.blockSize]).toEqual([3, 16]);
    expect(result.relativeOffDiagonal).toBeLessThanOrEqual(1e-6);
    await expectAccurate(matrix, 40, result);
  });

  test('d = 72 in blocks of 32 (the last one 8): indefinite, eigenvalues −2 ×5, 0 ×7 and 1 ×52', async () => {
    const matrix = indefiniteRepeated(72);
    const result = await split(matrix, 72, { blockSize: 32 });
    await expectAccurate(matrix, 72, result);
    expect(result.values[0]).toBeCloseTo(-2, 5);
    expect(result.values[30]).toBeCloseTo(1, 5);
  });

  test('d = 48 in four blocks of 12: rank-deficient (32 zero eigenvalues), scaled by 1e20', async () => {
    const { matrix } = covarianceLike(mulberry32(48), 48, 'rank-deficient', 1e20);
    await expectAccurate(matrix, 48, await split(matrix, 48, { blockSize: 12 }));
  });

  test('d = 50 in six blocks of 9 (the last one 5): spread spectrum scaled by 1e-20', async () => {
    const { matrix } = covarianceLike(mulberry32(50), 50, 'spread', 1e-20);
    const result = await split(matrix, 50, { blockSize: 9 });
    expect(result.blocks).toBe(6);
    await expectAccurate(matrix, 50, result);
  });

  test('d = 96 in blocks of 32: clustered spectrum (members within 1e-9 relative)', async () => {
    const { matrix } = covarianceLike(mulberry32(96), 96, 'clustered');
    await expectAccurate(matrix, 96, await split(matrix, 96, { blockSize: 32 }));
  });

  test('the split and the single-binding solver agree: eigenvalues within 1e-5‖A‖, eigenvectors up to sign', async () => {
    const d = 64;
    // Eigenvalues ±(1 … 64)/64: gaps of 1/64, so each eigenvector is determined to float32 accuracy / gap.
    const values = Array.from({ length: d }, (_, i) => (i % 2 ? -1 : 1) * ((i + 1) / d));
    const matrix = symmetricFromSpectrum(randomOrthogonal(mulberry32(7), d), values);
    const rt = await runtime;
    const input = rt.upload(matrix, [d, d]);
    const whole = await eighGpu(rt, input);
    const unsplitValues = await rt.read(whole.values);
    const unsplitVectors = await rt.read(whole.vectors);
    rt.release(input, whole.values, whole.vectors);
    const result = await split(matrix, d, { blockSize: 24 });
    for (let i = 0; i < d; i++) {
      expect(Math.abs(result.values[i]! - unsplitValues[i]!)).toBeLessThanOrEqual(EIGENVALUE);
      let dot = 0;
      for (let r = 0; r < d; r++) dot += result.vectors[r * d + i]! * unsplitVectors[r * d + i]!;
      expect(Math.abs(dot)).toBeGreaterThan(1 - 1e-6);
    }
  });

  test('a backend whose binding limit is below d² splits in eigh() and in the EK-FAC eigen stage', async () => {
    const d = 40;
    // 4 KiB bindings: the 40×40 working matrix (6,400 bytes) does not fit; blocks of 14 do.
    const backend = await webGpuBackend(await testGpu(), { maxBindingBytes: 4096 });
    expect(defaultBlockSize(d, backend.runtime.maxWindowElements)).toBe(14);
    const { matrix } = covarianceLike(mulberry32(5), d, 'spread', 3);
    const input = backend.upload(matrix, [d, d]);
    await expect(eighGpu(backend.runtime, input)).rejects.toThrow(/exceeds the storage binding limit 4096/);
    const eigen = await backend.eigh(input);
    expect(eigen.vectors.shape).toEqual([d, d]);
    await expectAccurate(matrix, d, {
      values: await backend.read(eigen.values),
      vectors: await backend.read(eigen.vectors),
    });
    const gradient = covarianceLike(mulberry32(6), 36, 'clustered').matrix;
    const layer = { name: 'mlp.fc', dIn: 39, dOut: 36, hasBias: true };
    const factors = {
      activation: [hostMatrix([d, d], matrix)],
      gradient: [hostMatrix([36, 36], gradient)],
      tokenCount: 9,
    };
    const stage = await eigendecomposeFactors(backend, [layer], factors, {});
    await expectAccurate(matrix, d, {
      values: stage.activationValues[0]!.data,
      vectors: stage.activationVectors[0]!.data,
    });
    await expectAccurate(gradient, 36, {
      values: stage.gradientValues[0]!.data,
      vectors: stage.gradientVectors[0]!.data,
    });
  });
});

describe('blockEighGpu errors', () => {
  const { matrix } = covarianceLike(mulberry32(3), 40, 'spread');

  test('the eigen stage passes a lost device on as DeviceLostError (the worker resumes on a new one)', async () => {
    const own = await webGpuBackend(await acquireGpu(nodeGpu()), { maxBindingBytes: 4096 });
    own.runtime.device.destroy();
    await own.runtime.whenLost();
    const layer = { name: 'mlp.fc', dIn: 39, dOut: 40, hasBias: true };
    const factors = {
      activation: [hostMatrix([40, 40], matrix)],
      gradient: [hostMatrix([40, 40], matrix)],
      tokenCount: 9,
    };
    await expect(eigendecomposeFactors(own, [layer], factors, {})).rejects.toBeInstanceOf(DeviceLostError);
  });

  test('non-convergence throws, naming d, the blocks, the sweeps and the residual', async () => {
    for (const maxSweeps of [0, 1]) {
      await expect(split(matrix, 40, { blockSize: 16, maxSweeps })).rejects.toThrow(
        new RegExp(
          String.raw`kernel "eigh\.blocks" \(matrix=\[40, 40\], blockSize=16, blocks=3\): block Jacobi did not ` +
            String.raw`converge for d = 40 \(3 blocks of ≤ 16\) after ${maxSweeps} sweeps: off\(A\)/‖A‖_F = \S+ > ` +
            String.raw`tolerance 0\.000001`,
        ),
      );
    }
  });

  test('NaN entries, bad block sizes and bad options are refused by name', async () => {
    const withNaN = Float64Array.from(matrix);
    withNaN[41] = NaN;
    await expect(split(withNaN, 40, { blockSize: 16 })).rejects.toThrow(/matrix has 1 non-finite entries/);
    await expect(split(matrix, 40, { blockSize: 40 })).rejects.toThrow(/blockSize 40 ≥ d leaves one block/);
    await expect(split(matrix, 40, { blockSize: 2.5 })).rejects.toThrow(/blockSize must be a positive integer/);
    await expect(split(matrix.subarray(1), 40, {})).rejects.toThrow(/matrix has 1599 values, \[d, d\] needs 1600/);
    await expect(split(matrix, 40, { tolerance: -1 })).rejects.toThrow(/tolerance must be > 0/);
    const small = await GpuRuntime.create(await testGpu(), BLOCK_EIGH_PROGRAMS, { maxBindingBytes: 4096 });
    await expect(blockEighGpu(small, matrix, 40, { blockSize: 16 })).rejects.toThrow(
      /a pair block of 2·16 rows needs 4356 bytes, over the binding limit 4096/,
    );
  });

  test('a device lost mid-decomposition rejects with DeviceLostError instead of hanging', async () => {
    // Its own device: destroying the shared one would break the other GPU tests of this process.
    const own = await GpuRuntime.create(await acquireGpu(nodeGpu()), BLOCK_EIGH_PROGRAMS);
    const options = { blockSize: 16, onSweep: (sweep: number) => sweep === 1 && own.device.destroy() };
    await expect(blockEighGpu(own, matrix, 40, options)).rejects.toBeInstanceOf(DeviceLostError);
  });

  test("cancellation between block pairs rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const options = {
      blockSize: 16,
      signal: controller.signal,
      onSweep: () => controller.abort(new Error('user cancelled the eigendecomposition')),
    };
    await expect(split(matrix, 40, options)).rejects.toThrow(/user cancelled the eigendecomposition/);
  });
});
