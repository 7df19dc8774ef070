import { proxy, transfer, wrap, type Remote } from 'comlink';
import type { EngineWorkerApi } from './engine.worker';
import type { AttributionRequest, AttributionSummary, ProgressEvent } from './protocol';

export interface EngineClient {
  readonly api: Remote<EngineWorkerApi>;
  /** Start a run; progress arrives through the callback (a comlink proxy), the summary when it ends. */
  attribute(request: AttributionRequest, onProgress: (event: ProgressEvent) => void): Promise<AttributionSummary>;
  terminate(): void;
}

/** The page's typed handle on the engine worker. */
export function startEngineWorker(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'iwb-engine' });
  const api = wrap<EngineWorkerApi>(worker);
  return {
    api,
    attribute(request, onProgress) {
      // The model bytes move to the worker rather than being copied.
      const sent = request.source.kind === 'files' ? transfer(request, [request.source.model]) : request;
      return api.startAttribution(sent, proxy(onProgress));
    },
    terminate: () => worker.terminate(),
  };
}
