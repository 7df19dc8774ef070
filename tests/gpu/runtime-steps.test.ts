import { describe, expect, test } from 'vitest';
import { COVARIANCE_ACCUMULATE } from '../../src/linalg/webgpu/kernels/covariance';
import type { KernelProgram } from '../../src/linalg/webgpu/program';
import { covarianceLike, mulberry32 } from '../helpers/matrices';
import { cpu, f32, gpuBackend, randomBatch, randomBasis, randomValues, relativeError, toBatch } from './oracle';

/** Counts calls of a device method while `work` runs (the method is restored afterwards). */
async function counting<T>(
  target: object,
  method: string,
  work: () => Promise<T> | T,
): Promise<{ calls: number; result: T }> {
  const owner = target as Record<string, (...args: unknown[]) => unknown>;
  const original = owner[method]!;
  let calls = 0;
  owner[method] = function (this: unknown, ...args: unknown[]) {
    calls++;
    return original.apply(this, args);
  };
  try {
    const result = await work();
    return { calls, result };
  } finally {
    owner[method] = original;
  }
}

describe('GPU runtime steps', () => {
  test('a backend call is one submit however many dispatches it splits into; no new buffers once warm', async () => {
    const gpu = await gpuBackend({ maxBindingBytes: 4096 });
    const [B, T, dIn, dOut, Q] = [6, 37, 11, 9, 3];
    const batch = toBatch(gpu, randomBatch(B, T, dIn, dOut, true, true, 31));
    const p = gpu.upload(f32(randomValues(Q * dOut * (dIn + 1), 32)), [Q, dOut, dIn + 1]);
    const qS = gpu.upload(f32(randomBasis(dOut, 33)), [dOut, dOut]);
    const qA = gpu.upload(f32(randomBasis(dIn + 1, 34)), [dIn + 1, dIn + 1]);
    const lambda = gpu.zeros([dOut, dIn + 1]);
    const calls = () => {
      gpu.accumulateLambda(lambda, batch, qS, qA);
      const preconditioned = gpu.precondition(p, qS, qA, lambda, { kind: 'heuristic', factor: 0.1 });
      gpu.release(gpu.scores(preconditioned, batch, false), preconditioned);
    };
    calls(); // warm: pipelines, pooled buffers
    await gpu.runtime.finish();
    const before = gpu.runtime.submits;
    const dispatches = await counting(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', async () => {
      const buffers = await counting(gpu.runtime.device, 'createBuffer', calls);
      expect(buffers.calls, 'buffers created by warm calls (uniforms come from the arena)').toBe(0);
    });
    expect(gpu.runtime.submits - before).toBe(3);
    expect(dispatches.calls, 'the lowered binding limit splits the work into many dispatches').toBeGreaterThan(10);
  });

  test('a Jacobi sweep is one submit: an eigendecomposition submits O(sweeps) times, not O(n · sweeps)', async () => {
    const gpu = await gpuBackend();
    const d = 48;
    const { matrix } = covarianceLike(mulberry32(9), d, 'spread');
    const input = gpu.upload(matrix, [d, d]);
    const before = gpu.runtime.submits;
    const eigen = await gpu.eigh(input);
    const submits = gpu.runtime.submits - before;
    expect(eigen.sweeps).toBeGreaterThan(2);
    // setup, a readback before every sweep and one after the last, the sweeps, the output; zeroing the statistics.
    expect(submits).toBe(2 * eigen.sweeps + 4);
    const reference = await cpu.read((await cpu.eigh(cpu.upload(matrix, [d, d]))).values);
    expect(relativeError(await gpu.read(eigen.values), reference)).toBeLessThan(1e-5);
    gpu.release(input, eigen.values, eigen.vectors);
  });

  test('an upload inside a step lands after the earlier dispatches that read the recycled buffer', async () => {
    const gpu = await gpuBackend();
    const runtime = gpu.runtime;
    const [rows, d] = [5, 3];
    const first = f32(randomValues(rows * d, 41));
    const second = f32(randomValues(rows * d, 42));
    const acc = gpu.zeros([d, d]);
    runtime.step('test.recycle', {}, () => {
      const x = gpu.upload(first, [rows, d]);
      gpu.accumulateCovariance(acc, x, null, false);
      gpu.release(x);
      const y = gpu.upload(second, [rows, d]); // the pool hands back x's buffer
      expect(y.buffer).toBe(x.buffer);
      gpu.accumulateCovariance(acc, y, null, false);
      gpu.release(y);
    });
    const expected = new Float64Array(d * d);
    for (const data of [first, second]) {
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < d; i++)
          for (let j = 0; j < d; j++) expected[i * d + j] += data[r * d + i]! * data[r * d + j]!;
    }
    expect(relativeError(await gpu.read(gpu.finalizeCovariance(acc, 1)), expected)).toBeLessThan(1e-6);
  });

  test("an error in one dispatch of a step names that dispatch's kernel and shapes, not the step's first", async () => {
    const gpu = await gpuBackend();
    const runtime = gpu.runtime;
    const x = gpu.upload([1, 2, 3, 4], [2, 2]);
    const acc = gpu.zeros([2, 2]);
    const incomplete: KernelProgram = {
      ...COVARIANCE_ACCUMULATE,
      bindings: COVARIANCE_ACCUMULATE.bindings.slice(0, 2),
    };
    const uniforms = { rows: 2, d: 2, d_prime: 2, x_base: 0, mask_base: 0, has_mask: 0 };
    runtime.step('test.step', { step: 'shapes' }, () => {
      runtime.run(COVARIANCE_ACCUMULATE, {
        kernel: 'test.good',
        shapes: { x: [2, 2] },
        uniforms,
        bindings: { x, mask: runtime.empty, acc },
        workgroups: [1],
      });
      runtime.run(incomplete, {
        kernel: 'test.broken',
        shapes: { x: [2, 2], acc: 'missing' },
        uniforms,
        bindings: { x, mask: runtime.empty },
        workgroups: [1],
      });
    });
    await expect(gpu.read(acc)).rejects.toThrow(/kernel "test.broken" \(x=\[2, 2\], acc=missing\)/);
    // An invalid dispatch invalidates its step's command buffer: nothing of the step ran. Reported once; the next
    // step runs normally.
    expect(Array.from(await gpu.read(acc))).toEqual([0, 0, 0, 0]);
    runtime.run(COVARIANCE_ACCUMULATE, {
      kernel: 'test.good',
      shapes: {},
      uniforms,
      bindings: { x, mask: runtime.empty, acc },
      workgroups: [1],
    });
    expect(Array.from(await gpu.read(acc))).toEqual([10, 14, 0, 20]); // upper triangle only, until finalised
  });

  test('named uniforms are checked before recording: a missing, unknown or mistyped value names the field', async () => {
    const gpu = await gpuBackend();
    const runtime = gpu.runtime;
    const x = gpu.upload([1, 2], [1, 2]);
    const acc = gpu.zeros([2, 2]);
    const bindings = { x, mask: runtime.empty, acc };
    const uniforms = { rows: 1, d: 2, d_prime: 2, x_base: 0, mask_base: 0, has_mask: false };
    const run = (values: Record<string, number | boolean>) => () =>
      runtime.run(COVARIANCE_ACCUMULATE as KernelProgram, {
        kernel: 'test.uniforms',
        shapes: { x: [1, 2] },
        uniforms: values,
        bindings,
        workgroups: [1],
      });
    expect(run({ ...uniforms, rows: -1 })).toThrow(
      /kernel "test.uniforms".*covariance.wgsl accumulate: uniform "rows" \(u32\) = -1/,
    );
    expect(run({ ...uniforms, cols: 1 })).toThrow(/uniform "cols" is not a field/);
    const { d: _d, ...withoutD } = uniforms;
    expect(run(withoutD)).toThrow(/uniform "d" \(u32\) has no value/);
    expect(() =>
      runtime.run(COVARIANCE_ACCUMULATE as KernelProgram, {
        kernel: 'test.bindings',
        shapes: {},
        uniforms,
        bindings: { x, acc },
        workgroups: [1],
      }),
    ).toThrow(/binding "mask" has no operand/);
    runtime.run(COVARIANCE_ACCUMULATE, { kernel: 'test.ok', shapes: {}, uniforms, bindings, workgroups: [1] });
    expect(Array.from(await gpu.read(acc))).toEqual([1, 2, 0, 4]); // upper triangle only, until finalised
  });
});
