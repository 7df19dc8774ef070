/**
 * One backend per run, chosen once: WebGPU on a hardware adapter; the float64 CPU backend when there is no adapter or
 * only a software/fallback one (SwiftShader is far slower than the CPU backend), unless the user asks for WebGPU.
 * The reason is reported with the choice so the page and the CLI can show it.
 */
import { cpuBackend } from '../linalg/cpu/backend';
import type { Backend } from '../linalg/backend';
import { acquireGpu } from '../linalg/webgpu/adapter';
import { webGpuBackend, type WebGpuBackend } from '../linalg/webgpu/backend';
import type { BackendChoice } from './config';

export interface BackendReport {
  /** null: not known (a stored or imported run that did not record it). */
  readonly kind: 'webgpu' | 'cpu' | null;
  readonly description: string;
  /** Why this backend was chosen (hardware adapter, software adapter → CPU, user asked, no WebGPU…). */
  readonly reason: string;
}

export interface ChosenBackend {
  readonly backend: Backend;
  readonly report: BackendReport;
  /** The WebGPU backend (same object as `backend`) when WebGPU was chosen. */
  readonly webgpu: WebGpuBackend | null;
  /** Frees the device (if any). */
  dispose(): void;
}

export async function chooseBackend(choice: BackendChoice, gpu: GPU | undefined): Promise<ChosenBackend> {
  const cpu = (reason: string): ChosenBackend => {
    const backend = cpuBackend();
    return {
      backend,
      webgpu: null,
      report: { kind: 'cpu', description: backend.description, reason },
      dispose: () => {},
    };
  };
  if (choice === 'cpu') return cpu('CPU backend requested');
  let acquired;
  try {
    acquired = await acquireGpu(gpu);
  } catch (error) {
    if (choice === 'webgpu')
      throw new Error(`WebGPU was requested but is unavailable: ${(error as Error).message}`, { cause: error });
    return cpu(`no usable WebGPU adapter (${(error as Error).message})`);
  }
  if (acquired.report.software && choice === 'auto') {
    acquired.device.destroy();
    return cpu(`only a software/fallback WebGPU adapter (${acquired.report.name}); choose WebGPU explicitly to use it`);
  }
  const webgpu = await webGpuBackend(acquired);
  const reason = choice === 'webgpu' ? 'WebGPU requested' : 'hardware WebGPU adapter';
  return {
    backend: webgpu,
    webgpu,
    report: { kind: 'webgpu', description: webgpu.description, reason },
    dispose: () => acquired.device.destroy(),
  };
}
