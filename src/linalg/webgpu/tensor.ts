/** A float32 tensor living in a GPUBuffer (row-major, starting at byte 0 of the buffer). */
import type { Tensor } from '../backend';

export class GpuTensor implements Tensor {
  readonly size: number;
  private freed = false;

  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    /** False for buffers wrapped from elsewhere (e.g. onnxruntime-web outputs): release() leaves them alone. */
    readonly owned: boolean,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  get released(): boolean {
    return this.freed;
  }

  markReleased(): void {
    this.freed = true;
  }

  toString(): string {
    return `GpuTensor[${this.shape.join(', ')}]`;
  }
}

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
