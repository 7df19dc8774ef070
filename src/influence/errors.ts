/**
 * Errors of the influence engine. A non-finite value is caught at the stage that produced it and reported with the
 * layer's name and the examples involved, so a bad batch or an overflowing layer can be found.
 */
import type { StageName } from './types';

export class NonFiniteError extends Error {
  constructor(
    readonly stage: StageName,
    readonly layer: string,
    readonly quantity: string,
    readonly index: number,
    readonly value: number,
    readonly where: string,
  ) {
    super(`${stage}: ${value} in ${quantity} of layer "${layer}" at element ${index} (${where})`);
    this.name = 'NonFiniteError';
  }
}

/**
 * A checkpoint that is not this run's (another configuration, or model files that differ): nothing of it is used
 * and nothing is overwritten, so the saved run can still be resumed with its own inputs.
 */
export class CheckpointMismatchError extends Error {
  override name = 'CheckpointMismatchError';
}

/** Throws NonFiniteError at the first NaN or ±Inf of `data`. */
export function assertFinite(
  data: ArrayLike<number>,
  stage: StageName,
  layer: string,
  quantity: string,
  where: string,
): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new NonFiniteError(stage, layer, quantity, i, data[i], where);
  }
}

/** The error a cancelled run rejects with (the signal's own reason when it has one). */
export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('attribution cancelled', 'AbortError');
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/**
 * A gradient batch that could not be allocated (onnxruntime's std::bad_alloc, a typed array or GPU buffer that does
 * not fit). Thrown by fetchBatch before any accumulator is touched, so runPass may retry the same examples in halves.
 */
export class OutOfMemoryError extends Error {
  override readonly name = 'OutOfMemoryError';
  constructor(
    readonly examples: number,
    cause: unknown,
  ) {
    super(`out of memory for a batch of ${examples}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

const OUT_OF_MEMORY =
  /bad_alloc|out of memory|outofmemory|allocation failed|invalid typed array length|array buffer allocation|Cannot enlarge memory/i;

export function isOutOfMemory(error: unknown): boolean {
  if (error instanceof OutOfMemoryError) return true;
  const message = error instanceof Error ? `${error.name} ${error.message}` : String(error);
  return OUT_OF_MEMORY.test(message);
}
