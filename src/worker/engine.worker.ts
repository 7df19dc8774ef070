/**
 * The worker that owns the GPU device and the onnxruntime sessions. The page talks to it through comlink only
 * (see client.ts); nothing here touches the DOM.
 */
import { expose } from 'comlink';
import { probeGpu, type GpuProbe } from './gpu-probe';

const api = {
  probeGpu(): Promise<GpuProbe> {
    return probeGpu((self as unknown as { navigator: Navigator }).navigator.gpu);
  },
};

export type EngineWorkerApi = typeof api;
expose(api);
