/** Moving stage state between the backend (Tensors) and the host (HostMatrix: checkpointable plain data). */
import type { Backend, Tensor } from '../linalg/backend';
import type { LayerInfo } from './types';
import type { HostMatrix } from '../core/schema';

export function hostMatrix(shape: readonly number[], data: Float64Array): HostMatrix {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size)
    throw new Error(`host matrix of shape [${shape.join(', ')}] needs ${size} values, got ${data.length}`);
  return { shape: [...shape], data };
}

export async function toHost(backend: Backend, tensor: Tensor): Promise<HostMatrix> {
  return hostMatrix(tensor.shape, await backend.read(tensor));
}

export function toBackend(backend: Backend, matrix: HostMatrix): Tensor {
  return backend.upload(matrix.data, matrix.shape);
}

export function identityMatrix(d: number): HostMatrix {
  const data = new Float64Array(d * d);
  for (let i = 0; i < d; i++) data[i * d + i] = 1;
  return hostMatrix([d, d], data);
}

/** d_in' of a layer: the bias column counts. */
export function inputWidth(layer: LayerInfo): number {
  return layer.dIn + (layer.hasBias ? 1 : 0);
}

export function mean(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total / values.length;
}
