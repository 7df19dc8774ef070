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
