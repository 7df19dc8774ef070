/**
 * Shared pieces of the kernel tests: seeded random inputs, the same inputs on the GPU backend and the float64 CPU
 * oracle, and the error measure every tolerance is stated in (‖gpu − cpu‖_F / ‖cpu‖_F).
 */
import { expect } from 'vitest';
import type { Backend, Tensor, TokenBatch } from '../../src/linalg/backend';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { orthonormalColumns } from '../../src/linalg/cpu/dense';
import { webGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from '../../src/linalg/webgpu/backend';
import { testGpu } from '../helpers/gpu';

export const cpu = new CpuBackend();

let shared: Promise<WebGpuBackend> | undefined;

/** One backend per test file (its pipelines compile once); options make a separate one. */
export async function gpuBackend(options?: WebGpuBackendOptions): Promise<WebGpuBackend> {
  if (options) return webGpuBackend(await testGpu(), options);
  shared ??= testGpu().then((acquired) => webGpuBackend(acquired));
  return shared;
}

/** Deterministic uniform(-1, 1) values (mulberry32), so a failure reproduces. */
export function randomValues(count: number, seed: number): Float64Array {
  let state = seed >>> 0;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** A 0/1 mask with about a quarter of the tokens off. */
export function randomMask(count: number, seed: number): Float64Array {
  return randomValues(count, seed).map((v) => (v < -0.5 ? 0 : 1));
}

/** Values rounded to float32, so both backends see identical inputs. */
export function f32(values: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

export interface BatchData {
  readonly activations: Float64Array;
  readonly gradients: Float64Array;
  readonly mask: Float64Array | null;
  readonly B: number;
  readonly T: number;
  readonly dIn: number;
  readonly dOut: number;
  readonly appendOnes: boolean;
}

export function randomBatch(
  B: number,
  T: number,
  dIn: number,
  dOut: number,
  appendOnes: boolean,
  masked: boolean,
  seed: number,
): BatchData {
  return {
    activations: f32(randomValues(B * T * dIn, seed)),
    gradients: f32(randomValues(B * T * dOut, seed + 1)),
    mask: masked ? randomMask(B * T, seed + 2) : null,
    B,
    T,
    dIn,
    dOut,
    appendOnes,
  };
}

export function toBatch(backend: Backend, data: BatchData): TokenBatch {
  return {
    activations: backend.upload(data.activations, [data.B, data.T, data.dIn]),
    gradients: backend.upload(data.gradients, [data.B, data.T, data.dOut]),
    mask: data.mask ? backend.upload(data.mask, [data.B, data.T]) : null,
    appendOnes: data.appendOnes,
  };
}

/** A random orthonormal [d, d] basis (Gram–Schmidt on random columns), in float32-exact values. */
export function randomBasis(d: number, seed: number): Float64Array {
  return f32(orthonormalColumns(randomValues(d * d, seed), d, { caller: 'randomBasis' }));
}

export async function readBoth(
  gpu: Backend,
  gpuTensor: Tensor,
  cpuTensor: Tensor,
): Promise<{ gpu: Float64Array; cpu: Float64Array }> {
  expect(gpuTensor.shape).toEqual(cpuTensor.shape);
  return { gpu: await gpu.read(gpuTensor), cpu: await cpu.read(cpuTensor) };
}
