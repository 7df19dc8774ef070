import { wrap, type Remote } from 'comlink';
import type { EngineWorkerApi } from './engine.worker';

/** The page's typed handle on the engine worker. */
export function startEngineWorker(): { api: Remote<EngineWorkerApi>; terminate(): void } {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'iwb-engine' });
  return { api: wrap<EngineWorkerApi>(worker), terminate: () => worker.terminate() };
}
