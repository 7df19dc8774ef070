/**
 * The loop every data pass shares: batches of consecutive example indices from `start`, grouped into chunks; after
 * each chunk the caller's `afterChunk` runs (checkpoint), progress is reported and cancellation is checked. Memory
 * stays bounded by one batch plus the stage's accumulators, whatever the dataset size.
 */
import { OutOfMemoryError, throwIfAborted } from './errors';
import type { AttributionConfig, ProgressEvent, RunOptions, StageName } from './types';

export interface PassOptions {
  readonly stage: StageName;
  readonly total: number;
  readonly start: number;
  readonly batchSize: number;
  readonly batchesPerChunk: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Progress units are offset by this many already-finished items (e.g. earlier query chunks). */
  readonly progressOffset?: number;
  readonly progressTotal?: number;
  /** Progress items per example processed (the scores pass counts query × training pairs), default 1 (sequences). */
  readonly progressPerExample?: number;
}

/** A pass over the training set from `start`, with the run's batch size for the stage, cancellation and progress. */
export function trainingPass(
  stage: StageName,
  total: number,
  start: number,
  batch: 'fit' | 'train',
  config: AttributionConfig,
  options: RunOptions,
): PassOptions {
  return {
    stage,
    total,
    start,
    batchSize: config.batchSizes[batch],
    batchesPerChunk: config.batchSizes.batchesPerChunk,
    signal: options.signal,
    onProgress: options.onProgress,
  };
}

export function indexRange(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

/** Reports rate and ETA measured from the first item processed in this session (not from resumed work). */
export class ProgressMeter {
  private readonly startTime = now();
  private readonly startDone: number;

  constructor(
    private readonly stage: StageName,
    private readonly unit: ProgressEvent['unit'],
    private readonly total: number,
    startDone: number,
    private readonly onProgress?: (event: ProgressEvent) => void,
  ) {
    this.startDone = startDone;
  }

  report(done: number): void {
    if (!this.onProgress) return;
    const seconds = (now() - this.startTime) / 1000;
    const processed = done - this.startDone;
    const itemsPerSecond = seconds > 0 && processed > 0 ? processed / seconds : 0;
    const etaSeconds = itemsPerSecond > 0 ? (this.total - done) / itemsPerSecond : Number.NaN;
    this.onProgress({ stage: this.stage, done, total: this.total, unit: this.unit, itemsPerSecond, etaSeconds });
  }
}

export function now(): number {
  return globalThis.performance?.now() ?? Date.now();
}

/**
 * Runs `processBatch` over [start, total) in batches; `afterChunk(nextIndex)` after every `batchesPerChunk` batches
 * and at the end. Cancellation is checked before every batch, so at most one batch of work is lost. A batch whose
 * gradients could not be allocated (OutOfMemoryError, thrown by fetchBatch before anything is accumulated) is retried
 * at half the size, and the pass goes on at that size: the memory planner's fallback when its model was wrong.
 */
export async function runPass(
  options: PassOptions,
  processBatch: (indices: number[]) => Promise<void>,
  afterChunk: (nextIndex: number) => Promise<void>,
): Promise<void> {
  const { total, batchesPerChunk, signal } = options;
  let batchSize = options.batchSize;
  if (!(batchSize >= 1) || !Number.isInteger(batchSize))
    throw new Error(`${options.stage}: batch size must be a positive integer, got ${batchSize}`);
  if (!(batchesPerChunk >= 1) || !Number.isInteger(batchesPerChunk)) {
    throw new Error(`${options.stage}: batchesPerChunk must be a positive integer, got ${batchesPerChunk}`);
  }
  const offset = options.progressOffset ?? 0;
  const perExample = options.progressPerExample ?? 1;
  const unit = options.progressPerExample === undefined ? 'sequences' : 'pairs';
  const meter = new ProgressMeter(
    options.stage,
    unit,
    options.progressTotal ?? total,
    offset + options.start * perExample,
    options.onProgress,
  );
  let index = options.start;
  let batchesInChunk = 0;
  meter.report(offset + index * perExample);
  while (index < total) {
    throwIfAborted(signal);
    const end = Math.min(total, index + batchSize);
    try {
      await processBatch(indexRange(index, end));
    } catch (error) {
      if (!(error instanceof OutOfMemoryError) || end - index === 1) throw error;
      batchSize = Math.max(1, Math.floor((end - index) / 2));
      continue;
    }
    index = end;
    batchesInChunk++;
    if (batchesInChunk === batchesPerChunk || index === total) {
      batchesInChunk = 0;
      await afterChunk(index);
      meter.report(offset + index * perExample);
    }
  }
}
