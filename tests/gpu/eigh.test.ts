import { describe, expect, test } from 'vitest';
import { cpuBackend } from '../../src/linalg/cpu/backend';
import { refineEigenCpu } from '../../src/linalg/cpu/refine';
import { eighGpu, EIGH_PROGRAMS, GPU_EIGH_DEFAULT_TOLERANCE, type GpuEighOptions } from '../../src/linalg/webgpu/eigh';
import { GpuRuntime } from '../../src/linalg/webgpu/runtime';
import { acquireGpu } from '../../src/linalg/webgpu/adapter';
import { DeviceLostError } from '../../src/linalg/webgpu/errors';
import { nodeGpu } from '../../src/linalg/webgpu/node-gpu';
import { testGpu } from '../helpers/gpu';
import { covarianceLike, eigenResiduals, maxAbs, mulberry32, type SpectrumKind } from '../helpers/matrices';

const runtime = testGpu().then((gpu) => GpuRuntime.create(gpu, EIGH_PROGRAMS));
const cpu = cpuBackend();

// The float32 targets of issue 2 §5; the eigenvalue bound is relative to ‖A‖_2 (absolute errors of order eps·‖A‖
// are all float32 can promise for the eigenvalues far below the largest).
const ORTHOGONALITY = 1e-4;
const RECONSTRUCTION = 1e-5;
const EIGENVALUE = 1e-5;

async function gpuEigh(matrix: Float64Array, d: number, options?: GpuEighOptions) {
  const rt = await runtime;
  const input = rt.upload(matrix, [d, d]);
  try {
    const eigen = await eighGpu(rt, input, options);
    const values = Float64Array.from(await rt.read(eigen.values));
    const vectors = Float64Array.from(await rt.read(eigen.vectors));
    rt.release(eigen.values);
    rt.release(eigen.vectors);
    return { values, vectors, sweeps: eigen.sweeps, relativeOffDiagonal: eigen.relativeOffDiagonal };
  } finally {
    rt.release(input);
  }
}

async function expectAccurate(
  matrix: Float64Array,
  d: number,
  result: { values: Float64Array; vectors: Float64Array },
) {
  const { orthogonality, relativeReconstruction } = eigenResiduals(matrix, result.values, result.vectors);
  expect(orthogonality).toBeLessThanOrEqual(ORTHOGONALITY);
  expect(relativeReconstruction).toBeLessThanOrEqual(RECONSTRUCTION);
  for (let i = 1; i < d; i++) expect(result.values[i]).toBeGreaterThanOrEqual(result.values[i - 1]!);
  const reference = await cpu.read((await cpu.eigh(cpu.upload(matrix, [d, d]))).values);
  const spectralNorm = Math.max(maxAbs(reference), Number.MIN_VALUE);
  for (let i = 0; i < d; i++)
    expect(Math.abs(result.values[i]! - reference[i]!)).toBeLessThanOrEqual(EIGENVALUE * spectralNorm);
  return { orthogonality, relativeReconstruction };
}

describe('float32 Jacobi eigendecomposition on the GPU against the float64 CPU backend', () => {
  for (const kind of ['spread', 'clustered', 'rank-deficient'] as SpectrumKind[]) {
    test(`d = 256, ${kind} spectrum: ‖QᵀQ − I‖_max ≤ 1e-4, ‖A − QΛQᵀ‖_F ≤ 1e-5‖A‖_F, eigenvalues within 1e-5‖A‖_2`, async () => {
      const d = 256;
      const { matrix } = covarianceLike(mulberry32(kind.length), d, kind);
      const result = await gpuEigh(matrix, d);
      expect(result.relativeOffDiagonal).toBeLessThanOrEqual(GPU_EIGH_DEFAULT_TOLERANCE);
      await expectAccurate(matrix, d, result);
      if (kind === 'clustered') {
        // The float64 refinement pass (the cluster is where it has most to do) reaches float64 residuals.
        const refined = refineEigenCpu(matrix, d, result.vectors);
        const residuals = eigenResiduals(matrix, refined.values, refined.vectors);
        expect(residuals.orthogonality).toBeLessThanOrEqual(1e-12);
        expect(residuals.relativeReconstruction).toBeLessThanOrEqual(1e-10);
      }
    });
  }

  for (const d of [1, 2, 7, 33, 130]) {
    test(`awkward size d = ${d} (odd sizes use a padding index)`, async () => {
      const kind = (['spread', 'clustered', 'rank-deficient'] as const)[d % 3]!;
      const { matrix } = covarianceLike(mulberry32(d), d, kind);
      await expectAccurate(matrix, d, await gpuEigh(matrix, d));
    });
  }

  test('inputs far outside float32 comfort (entries ~1e25 and ~1e-25) are scaled first', async () => {
    for (const scale of [1e25, 1e-25]) {
      const { matrix } = covarianceLike(mulberry32(11), 7, 'spread', scale);
      const result = await gpuEigh(matrix, 7);
      expect(eigenResiduals(matrix, result.values, result.vectors).relativeReconstruction).toBeLessThanOrEqual(
        RECONSTRUCTION,
      );
      expect(Math.abs(result.values[6]! - scale)).toBeLessThanOrEqual(EIGENVALUE * scale);
    }
  });

  test('the zero matrix converges at once to zero eigenvalues and the identity', async () => {
    const result = await gpuEigh(new Float64Array(9), 3);
    expect([...result.values]).toEqual([0, 0, 0]);
    expect(result.sweeps).toBe(0);
    expect(eigenResiduals(new Float64Array(9), result.values, result.vectors).orthogonality).toBe(0);
  });
});

describe('eighGpu errors', () => {
  test('non-convergence throws, naming d, the sweeps and the residual', async () => {
    const { matrix } = covarianceLike(mulberry32(3), 64, 'spread');
    await expect(gpuEigh(matrix, 64, { maxSweeps: 1 })).rejects.toThrow(
      /kernel "eigh" \(matrix=\[64, 64\]\): Jacobi did not converge for d = 64 after 1 sweeps: off\(A\)\/‖A‖_F = \S+ > tolerance 0\.000001/,
    );
  });

  test('a non-square matrix, a NaN entry and bad options are refused', async () => {
    const rt = await runtime;
    await expect(eighGpu(rt, rt.upload(new Float32Array(12), [3, 4]))).rejects.toThrow(
      /kernel "eigh" \(matrix=\[3, 4\]\): matrix must be square/,
    );
    await expect(eighGpu(rt, rt.upload(new Float32Array(8), [2, 2, 2]))).rejects.toThrow(
      /matrix must be square, \[d, d\]/,
    );
    const withNaN = new Float64Array(16);
    withNaN[5] = NaN;
    await expect(gpuEigh(withNaN, 4)).rejects.toThrow(/matrix has 1 non-finite entries/);
    await expect(gpuEigh(new Float64Array(4), 2, { tolerance: 0 })).rejects.toThrow(/tolerance must be > 0/);
    const released = rt.upload(new Float32Array(4), [2, 2]);
    rt.release(released);
    await expect(eighGpu(rt, released)).rejects.toThrow(/matrix was released/);
  });

  test('a working matrix over the storage binding limit is refused, naming the sizes', async () => {
    const small = await GpuRuntime.create(await testGpu(), EIGH_PROGRAMS, { maxBindingBytes: 1024 });
    await expect(eighGpu(small, small.upload(new Float32Array(17 * 17), [17, 17]))).rejects.toThrow(
      /the 18×18 working matrix \(1296 bytes\) exceeds the storage binding limit 1024/,
    );
  });

  test("cancellation between sweeps rejects with the signal's reason", async () => {
    const { matrix } = covarianceLike(mulberry32(4), 16, 'spread');
    const controller = new AbortController();
    const options = {
      signal: controller.signal,
      onSweep: () => controller.abort(new Error('user cancelled the eigendecomposition')),
    };
    await expect(gpuEigh(matrix, 16, options)).rejects.toThrow(/user cancelled the eigendecomposition/);
  });

  test('a device lost mid-decomposition rejects with DeviceLostError instead of hanging', async () => {
    // Its own device: destroying the shared one would break the other GPU tests of this process.
    const own = await GpuRuntime.create(await acquireGpu(nodeGpu()), EIGH_PROGRAMS);
    const { matrix } = covarianceLike(mulberry32(6), 16, 'spread');
    const input = own.upload(matrix, [16, 16]);
    await expect(
      eighGpu(own, input, { onSweep: (sweep) => sweep === 1 && own.device.destroy() }),
    ).rejects.toBeInstanceOf(DeviceLostError);
  });
});
