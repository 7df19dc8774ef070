/**
 * Errors of the WebGPU runtime. Every kernel error names the kernel and the shapes it was given, so a failure deep in
 * a pipeline stage points at the call that caused it.
 */

/** Shapes of a kernel's operands, printed in error messages: { x: [7, 33], acc: [34, 34] }. */
export type ShapeReport = Readonly<Record<string, readonly number[] | number | string | boolean>>;

export function formatShapes(shapes: ShapeReport): string {
  return Object.entries(shapes)
    .map(([name, value]) => `${name}=${Array.isArray(value) ? `[${value.join(', ')}]` : String(value)}`)
    .join(', ');
}

/** A kernel was called with bad operands, or the GPU rejected its pipeline or dispatch. */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  constructor(
    readonly kernel: string,
    readonly shapes: ShapeReport,
    problem: string,
  ) {
    super(`kernel "${kernel}" (${formatShapes(shapes)}): ${problem}`);
  }
}

/**
 * The GPUDevice is gone (driver reset, device.destroy(), tab backgrounded too long). Every pending and later
 * operation of the runtime rejects with this instead of hanging; the caller recovers by acquiring a new device
 * (acquireGpu) and building a new backend, then re-running the stage: results computed so far on the lost device are
 * gone.
 */
export class DeviceLostError extends Error {
  override readonly name = 'DeviceLostError';
  constructor(
    readonly reason: GPUDeviceLostReason | 'unknown',
    readonly detail: string,
    readonly during?: string,
  ) {
    super(
      `GPU device lost (${reason}${detail ? `: ${detail}` : ''})${during ? ` during ${during}` : ''}; acquire a new device to continue`,
    );
  }
}
