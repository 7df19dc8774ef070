/**
 * The CPU backend's tensor: a Float64Array with a row-major shape, plus the shape checks every method runs first so
 * that a wrong input fails with the method, the argument and both shapes in the message.
 */
import type { Tensor } from '../backend';

export class CpuTensor implements Tensor {
  readonly shape: readonly number[];
  readonly size: number;
  private released = false;

  constructor(
    private readonly storage: Float64Array,
    shape: readonly number[],
  ) {
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    if (storage.length !== this.size) {
      throw new Error(`CpuTensor: ${storage.length} values do not fill shape [${shape.join(', ')}] (${this.size})`);
    }
  }

  /** The live storage; throws once the tensor has been released, so use-after-release is loud. */
  get data(): Float64Array {
    if (this.released) throw new Error(`CpuTensor [${this.shape.join(', ')}] used after release`);
    return this.storage;
  }

  release(): void {
    this.released = true;
  }
}

export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const extent of shape) {
    if (!Number.isInteger(extent) || extent < 0)
      throw new Error(`invalid shape [${shape.join(', ')}]: extents must be non-negative integers`);
    size *= extent;
  }
  return size;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** The tensor as a CpuTensor; a tensor of another backend is named as such. */
export function asCpu(tensor: Tensor, method: string, argument: string): CpuTensor {
  if (!(tensor instanceof CpuTensor)) {
    throw new Error(`CpuBackend.${method}: ${argument} ${formatShape(tensor.shape)} belongs to another backend`);
  }
  return tensor;
}

/**
 * Checks a tensor's shape against a pattern; a number must match exactly, a string names a dimension that must agree
 * everywhere it appears in one call. Returns the bound dimension names.
 */
export class ShapeCheck {
  private readonly bound = new Map<string, { value: number; where: string }>();

  constructor(private readonly method: string) {}

  expect(tensor: Tensor, argument: string, pattern: readonly (number | string)[]): CpuTensor {
    const cpu = asCpu(tensor, this.method, argument);
    const expected = `[${pattern.join(', ')}]`;
    if (cpu.shape.length !== pattern.length) {
      throw new Error(
        `CpuBackend.${this.method}: ${argument} has shape ${formatShape(cpu.shape)}, expected ${expected}`,
      );
    }
    pattern.forEach((dim, axis) => {
      const extent = cpu.shape[axis]!;
      if (typeof dim === 'number') {
        if (extent !== dim) {
          throw new Error(
            `CpuBackend.${this.method}: ${argument} has shape ${formatShape(cpu.shape)}, expected ${expected}`,
          );
        }
        return;
      }
      const previous = this.bound.get(dim);
      if (previous === undefined) {
        this.bound.set(dim, { value: extent, where: `${argument} ${formatShape(cpu.shape)}` });
      } else if (previous.value !== extent) {
        throw new Error(
          `CpuBackend.${this.method}: ${argument} has shape ${formatShape(cpu.shape)}, expected ${expected}, ` +
            `but ${dim} = ${previous.value} from ${previous.where}`,
        );
      }
    });
    return cpu;
  }

  dim(name: string): number {
    const entry = this.bound.get(name);
    if (entry === undefined) throw new Error(`ShapeCheck: dimension ${name} was never bound`);
    return entry.value;
  }

  fail(message: string): never {
    throw new Error(`CpuBackend.${this.method}: ${message}`);
  }
}
