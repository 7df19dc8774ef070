import { describe, expect, test } from 'vitest';
import type { Backend, Tensor } from '../../src/linalg/backend';
import { acquireGpu } from '../../src/linalg/webgpu/adapter';
import { webGpuBackend } from '../../src/linalg/webgpu/backend';
import { DeviceLostError, KernelError } from '../../src/linalg/webgpu/errors';
import { COVARIANCE_ACCUMULATE } from '../../src/linalg/webgpu/kernels/covariance';
import { nodeGpu } from '../../src/linalg/webgpu/node-gpu';
import type { KernelProgram } from '../../src/linalg/webgpu/program';
import { f32, gpuBackend, randomBasis, randomBatch, randomValues, relativeError, toBatch } from './oracle';

describe('GPU runtime', () => {
  test('a shape mismatch throws a KernelError naming the kernel and every shape', async () => {
    const gpu = await gpuBackend();
    const acc = gpu.zeros([6, 6]);
    const x = gpu.upload(new Float32Array(35), [7, 5]);
    expect(() => gpu.accumulateCovariance(acc, x, null, false)).toThrow(KernelError);
    expect(() => gpu.accumulateCovariance(acc, x, null, false)).toThrow(
      /accumulateCovariance.*acc=\[6, 6\].*x=\[7, 5\].*acc axis 0 is 6, expected 5/,
    );
    const p = gpu.upload(new Float32Array(2 * 3 * 4), [2, 3, 4]);
    const batch = toBatch(gpu, randomBatch(1, 2, 4, 3, true, false, 1));
    expect(() => gpu.scores(p, batch, false)).toThrow(
      /kernel "scores".*preconditioned=\[2, 3, 4\].*axis 2 is 4, expected 5/,
    );
  });

  test('a GPU validation error surfaces at the next read, naming the kernel', async () => {
    const gpu = await gpuBackend();
    const x = gpu.upload([1, 2, 3], [3]);
    // A description that leaves out the shader's accumulator binding: the bind group does not match the pipeline.
    const incomplete: KernelProgram = {
      ...COVARIANCE_ACCUMULATE,
      bindings: COVARIANCE_ACCUMULATE.bindings.slice(0, 2),
    };
    const uniforms = { rows: 1, d: 1, d_prime: 1, x_base: 0, mask_base: 0, has_mask: 0 };
    gpu.runtime.run(incomplete, {
      kernel: 'test.missingBindings',
      shapes: { x: [3] },
      uniforms,
      bindings: { x, mask: x },
      workgroups: [1],
    });
    await expect(gpu.read(x)).rejects.toThrow(/kernel "test.missingBindings" \(x=\[3\]\)/);
    // The error is reported once; the runtime goes on working.
    expect(await gpu.read(x)).toEqual(Float64Array.from([1, 2, 3]));
  });

  test('a device destroyed mid-dispatch rejects with DeviceLostError instead of hanging, and a new device recovers', async () => {
    const acquired = await acquireGpu(nodeGpu());
    const gpu = await webGpuBackend(acquired);
    const [rows, d] = [4096, 96];
    const acc = gpu.zeros([d, d]);
    const x = gpu.upload(f32(randomValues(rows * d, 3)), [rows, d]);
    for (let i = 0; i < 4; i++) gpu.accumulateCovariance(acc, x, null, false);
    const pending = gpu.read(acc);
    acquired.device.destroy();
    await expect(pending).rejects.toBeInstanceOf(DeviceLostError);
    expect(() => gpu.accumulateCovariance(acc, x, null, false)).toThrow(DeviceLostError);
    await expect(gpu.read(acc)).rejects.toBeInstanceOf(DeviceLostError);

    const fresh = await webGpuBackend(await acquireGpu(nodeGpu()));
    const again = fresh.zeros([2, 2]);
    fresh.accumulateCovariance(again, fresh.upload([1, 2], [1, 2]), null, false);
    expect(Array.from(await fresh.read(fresh.finalizeCovariance(again, 1)))).toEqual([1, 2, 2, 4]);
  });

  test('tensors larger than a (lowered) binding limit are split across dispatches and give the same results', async () => {
    const whole = await gpuBackend();
    const split = await gpuBackend({ maxBindingBytes: 4096 });
    expect(split.runtime.maxWindowElements).toBeLessThan(1024);
    const [B, T, dIn, dOut, Q] = [6, 37, 11, 9, 3];
    const data = randomBatch(B, T, dIn, dOut, true, true, 21); // activations: 2442 floats, gradients: 1998
    const qS = randomBasis(dOut, 22);
    const qA = randomBasis(dIn + 1, 23);
    const p = f32(randomValues(Q * dOut * (dIn + 1), 24));
    const u = f32(randomValues(Q * dOut * 2, 25));
    const v = f32(randomValues(Q * (dIn + 1) * 2, 26));
    const results = async (backend: Backend): Promise<Float64Array[]> => {
      const batch = toBatch(backend, data);
      const acc = backend.zeros([dIn + 1, dIn + 1]);
      backend.accumulateCovariance(acc, batch.activations, batch.mask, true);
      const lambda = backend.zeros([dOut, dIn + 1]);
      const bases = [backend.upload(qS, [dOut, dOut]), backend.upload(qA, [dIn + 1, dIn + 1])] as const;
      backend.accumulateLambda(lambda, batch, ...bases);
      const gradients = backend.sequenceGradients(batch);
      const outputs: Tensor[] = [
        backend.finalizeCovariance(acc, 1),
        lambda,
        gradients,
        backend.rotate(gradients, ...bases, 'into'),
        backend.scores(backend.upload(p, [Q, dOut, dIn + 1]), batch, true),
        backend.scores(backend.upload(p, [Q, dOut, dIn + 1]), batch, false),
        backend.lowRankScores(backend.upload(u, [Q, dOut, 2]), backend.upload(v, [Q, dIn + 1, 2]), batch, true),
      ];
      return Promise.all(outputs.map((t) => backend.read(t)));
    };
    const [expected, actual] = [await results(whole), await results(split)];
    expected.forEach((values, i) => expect(relativeError(actual[i]!, values), `output ${i}`).toBeLessThan(1e-6));
  });

  test('wrapBuffer reads a foreign GPUBuffer without copying and release leaves it alive', async () => {
    const gpu = await gpuBackend();
    const device = gpu.runtime.device;
    const buffer = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buffer, 0, new Float32Array([1, 2, 3, 4]));
    const tensor = gpu.wrapBuffer(buffer, [2, 2]);
    const acc = gpu.zeros([2, 2]);
    gpu.accumulateCovariance(acc, tensor, null, false);
    expect(Array.from(await gpu.read(gpu.finalizeCovariance(acc, 1)))).toEqual([10, 14, 14, 20]);
    gpu.release(tensor);
    device.queue.writeBuffer(buffer, 0, new Float32Array([5, 6, 7, 8]));
    expect(Array.from(await gpu.read(gpu.wrapBuffer(buffer, [4])))).toEqual([5, 6, 7, 8]);
    expect(() => gpu.wrapBuffer(buffer, [5])).toThrow(/wrap.*shape needs 20 bytes/);
  });
});
