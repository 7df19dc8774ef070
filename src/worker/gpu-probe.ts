import { acquireGpu, GpuUnavailableError, type AdapterReport } from '../linalg/webgpu/adapter';

export type GpuProbe =
  | { readonly available: true; readonly adapter: AdapterReport }
  | { readonly available: false; readonly reason: string };

/** Ask for an adapter and device (in whatever context this runs: window or worker) and say what was found. */
export async function probeGpu(gpu: GPU | undefined): Promise<GpuProbe> {
  try {
    const { device, report } = await acquireGpu(gpu);
    device.destroy();
    return { available: true, adapter: report };
  } catch (error) {
    const reason =
      error instanceof GpuUnavailableError ? error.message : `device request failed: ${(error as Error).message}`;
    return { available: false, reason };
  }
}
