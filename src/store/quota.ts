/**
 * Storage budget: estimate what a run will keep before it starts, ask the browser to make storage persistent, and
 * refuse with a clear message when the estimate does not fit what navigator.storage.estimate() says is free.
 */

export interface RunSizeInput {
  readonly layers: readonly { readonly dIn: number; readonly dOut: number; readonly hasBias: boolean }[];
  readonly queries: number;
  readonly train: number;
  /** Σ_n T_n when per-token scores are kept, else 0. */
  readonly perTokenTokens?: number;
}

export interface RunStorageEstimate {
  readonly bytes: number;
  readonly factorBytes: number;
  readonly scoreBytes: number;
  readonly checkpointBytes: number;
}

const FLOAT64 = 8;

/**
 * Everything is stored as float64. Factors per layer: two covariance sums, two eigenbases, two eigenvalue vectors, Λ.
 * Scores: τ, influence, τ per layer, self-influence, per-token τ. The checkpoint holds a copy of both while the run
 * goes on, and while a checkpoint is replaced the old and the new one coexist inside the transaction.
 */
export function estimateRunStorage(input: RunSizeInput): RunStorageEstimate {
  let factorElements = 0;
  for (const { dIn, dOut, hasBias } of input.layers) {
    const width = dIn + (hasBias ? 1 : 0);
    factorElements += 2 * width * width + 2 * dOut * dOut + width + dOut + dOut * width;
  }
  const pairs = input.queries * input.train;
  const scoreElements = pairs * (2 + input.layers.length) + input.train + input.queries * (input.perTokenTokens ?? 0);
  const factorBytes = factorElements * FLOAT64;
  const scoreBytes = scoreElements * FLOAT64;
  const checkpointBytes = 2 * (factorBytes + scoreBytes);
  return { bytes: factorBytes + scoreBytes + checkpointBytes, factorBytes, scoreBytes, checkpointBytes };
}

export class StorageQuotaError extends Error {
  override name = 'StorageQuotaError';
}

export interface StorageCheck {
  readonly persisted: boolean;
  readonly quota: number | null;
  readonly usage: number | null;
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * Ask for persistent storage (so the browser does not evict a long run's results) and check that `bytes` fit.
 * `storage` is navigator.storage in the page; tests pass their own.
 */
export async function ensureStorageFor(
  bytes: number,
  storage: StorageManager | undefined = globalThis.navigator?.storage,
): Promise<StorageCheck> {
  if (!storage) return { persisted: false, quota: null, usage: null };
  // persist() exists on the page's StorageManager, not on a worker's: ask where it can be asked.
  const page = storage as StorageManager & { persist?: () => Promise<boolean> };
  const persisted = (await storage.persisted?.()) || ((await page.persist?.()) ?? false);
  const { quota, usage } = await storage.estimate();
  if (quota !== undefined) {
    const free = quota - (usage ?? 0);
    if (bytes > free) {
      throw new StorageQuotaError(
        `this run needs about ${megabytes(bytes)} of browser storage but only ${megabytes(free)} is free ` +
          `(quota ${megabytes(quota)}, used ${megabytes(usage ?? 0)}). Delete old runs, or track fewer layers or examples.`,
      );
    }
  }
  return { persisted, quota: quota ?? null, usage: usage ?? null };
}
