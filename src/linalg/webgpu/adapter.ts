/**
 * Adapter and device acquisition, the same in a window, a worker and Node.
 * The caller passes the GPU entry point (navigator.gpu in a browser, nodeGpu() in Node) so this file has no platform
 * imports.
 */

export interface AdapterReport {
  /** Vendor/architecture/device/description as the adapter reports them. */
  readonly name: string;
  /** True for software or fallback adapters (SwiftShader, lavapipe, WARP, isFallbackAdapter). */
  readonly software: boolean;
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
}

export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
}

const SOFTWARE_PATTERN = /swiftshader|lavapipe|llvmpipe|warp|microsoft basic render|software/i;

export function describeAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter((p): p is string => !!p);
  const name = parts.length ? parts.join(' / ') : 'unknown adapter';
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter === true;
  const limits: Record<string, number> = {};
  for (const key of LIMIT_KEYS) limits[key] = Number(adapter.limits[key]);
  return {
    name,
    software: fallback || SOFTWARE_PATTERN.test(name),
    features: [...adapter.features].sort(),
    limits,
  };
}

/** The limits the compute kernels care about; each is requested explicitly at the adapter's maximum. */
export const LIMIT_KEYS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const satisfies readonly (keyof GPUSupportedLimits)[];

export interface AcquiredGpu {
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly report: AdapterReport;
}

export interface AcquireOptions {
  readonly powerPreference?: GPUPowerPreference;
  /** Features to enable when the adapter offers them. */
  readonly optionalFeatures?: readonly GPUFeatureName[];
}

export async function acquireGpu(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<AcquiredGpu> {
  if (!gpu) {
    throw new GpuUnavailableError(
      'WebGPU is not available here (navigator.gpu is undefined: an old browser, a non-secure context, or WebGPU disabled).',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter)
    throw new GpuUnavailableError('WebGPU is present but no adapter was found (requestAdapter returned null).');
  const report = describeAdapter(adapter);
  const requiredLimits: Record<string, number> = {};
  for (const key of LIMIT_KEYS) requiredLimits[key] = report.limits[key]!;
  const wanted = options.optionalFeatures ?? (['timestamp-query', 'subgroups'] as GPUFeatureName[]);
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'influence-workbench' });
  return { adapter, device, report };
}
