/**
 * Operand checks shared by the kernel wrappers: every tensor must be a live GpuTensor of the expected shape, and a
 * mismatch throws a KernelError naming the kernel and every operand's shape.
 */
import type { Tensor } from '../../backend';
import { KernelError, type ShapeReport } from '../errors';
import { GpuTensor } from '../tensor';

/** Binds symbolic dimensions (e.g. 'd', 'dOut') across operands; a dimension named twice must agree. */
export class OperandCheck {
  private readonly dims = new Map<string, number>();
  readonly shapes: Record<string, readonly number[] | number | string | boolean> = {};

  constructor(
    readonly kernel: string,
    operands: Readonly<Record<string, Tensor | null>>,
  ) {
    for (const [name, tensor] of Object.entries(operands)) if (tensor) this.shapes[name] = [...tensor.shape];
  }

  fail(problem: string): never {
    throw new KernelError(this.kernel, this.shapes as ShapeReport, problem);
  }

  /** The tensor as a GpuTensor whose shape matches `dims` (numbers are fixed extents, strings bind or check). */
  expect(tensor: Tensor, name: string, dims: readonly (string | number)[]): GpuTensor {
    if (!(tensor instanceof GpuTensor)) this.fail(`${name} is not a WebGPU tensor (was it made by another backend?)`);
    if (tensor.released) this.fail(`${name} was used after release`);
    if (tensor.shape.length !== dims.length)
      this.fail(`${name} has rank ${tensor.shape.length}, expected [${dims.join(', ')}]`);
    dims.forEach((dim, axis) => {
      const extent = tensor.shape[axis]!;
      const expected = typeof dim === 'number' ? dim : this.dims.get(dim);
      if (expected === undefined) this.dims.set(dim as string, extent);
      else if (expected !== extent) {
        this.fail(
          `${name} axis ${axis} is ${extent}, expected ${typeof dim === 'number' ? dim : `${dim} = ${expected}`}`,
        );
      }
    });
    return tensor;
  }

  dim(name: string): number {
    const value = this.dims.get(name);
    if (value === undefined) this.fail(`dimension ${name} was never bound`);
    return value;
  }

  note(name: string, value: number | string | boolean): void {
    this.shapes[name] = value;
  }
}

/** The largest chunk of `total` units such that every operand window (fixed + perUnit·units elements) fits `limit`. */
export function unitsPerWindow(
  check: OperandCheck,
  total: number,
  limit: number,
  operands: readonly { fixed: number; perUnit: number }[],
): number {
  let units = total;
  for (const { fixed, perUnit } of operands) {
    if (fixed + perUnit > limit)
      check.fail(`one unit needs ${fixed + perUnit} elements in a binding, over the limit of ${limit}`);
    if (perUnit > 0) units = Math.min(units, Math.floor((limit - fixed) / perUnit));
  }
  return Math.max(1, units);
}
