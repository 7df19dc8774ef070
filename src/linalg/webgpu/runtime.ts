/**
 * The GPU runtime under the kernels: tensors in pooled buffers, a pipeline cache keyed by shader + override
 * constants, one dispatch helper, error scopes that name the kernel and its shapes, and device loss turned into a
 * DeviceLostError that every pending and later call rejects with. Platform-free: a window, a worker and Node (Dawn)
 * all hand it a GPUDevice.
 */
import type { AcquiredGpu } from './adapter';
import { BufferPool } from './buffer-pool';
import { DeviceLostError, KernelError, type ShapeReport } from './errors';
import { shaderSource } from './shaders';
import { GpuTensor, shapeSize } from './tensor';

// The spec's GPUBufferUsage bits, spelled out: in Node the GPUBufferUsage global exists only after nodeGpu() runs,
// which is later than this module loads.
const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_MODE_READ = 0x1;
const TENSOR_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
const UNIFORM_USAGE = USAGE.UNIFORM | USAGE.COPY_DST;
const READBACK_USAGE = USAGE.MAP_READ | USAGE.COPY_DST;

/** One pipeline: an entry point of shaders/<shader>.wgsl specialised by WGSL `override` constants. */
export interface KernelSpec {
  readonly shader: string;
  readonly entryPoint: string;
  readonly constants?: Readonly<Record<string, number | boolean>>;
}

/** A storage binding: a whole tensor, or a window of it (see GpuRuntime.window). */
export type StorageOperand = GpuTensor | BufferWindow;

/** A bound byte range of a buffer plus the element offset, inside that range, where the wanted data starts. */
export interface BufferWindow {
  readonly binding: GPUBufferBinding;
  /** Element index, relative to the bound range, of the first wanted element (binding offsets are aligned down). */
  readonly base: number;
}

export interface Dispatch {
  /** Name used in errors, e.g. "covariance.accumulate". */
  readonly kernel: string;
  readonly spec: KernelSpec;
  readonly shapes: ShapeReport;
  /** Bound at @binding(0) as a uniform struct of u32 words (floats via f32Bits). */
  readonly uniforms: readonly number[];
  /** Bound at @binding(1), @binding(2), … in order; null leaves out a binding this entry point does not use. */
  readonly storage: readonly (StorageOperand | null)[];
  readonly workgroups: readonly [number, number?, number?];
}

export interface RuntimeOptions {
  /** Lower the storage-binding size the kernels split against (tests use this to exercise splitting). */
  readonly maxBindingBytes?: number;
}

export function f32Bits(value: number): number {
  return new Uint32Array(new Float32Array([value]).buffer)[0]!;
}

export class GpuRuntime {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  /** Largest byte range one storage binding may cover (the device limit, or lower when a test asks). */
  readonly maxBindingBytes: number;
  readonly offsetAlignment: number;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly pending = new Set<Promise<void>>();
  private failure: Error | undefined;
  private lostInfo: DeviceLostError | undefined;
  private readonly lost: Promise<DeviceLostError>;
  private readonly emptyBuffer: GPUBuffer;

  private constructor(
    readonly acquired: AcquiredGpu,
    private readonly sources: Readonly<Record<string, string>>,
    options: RuntimeOptions,
  ) {
    this.device = acquired.device;
    this.pool = new BufferPool(this.device);
    const limit = this.device.limits.maxStorageBufferBindingSize;
    this.maxBindingBytes = Math.min(limit, options.maxBindingBytes ?? limit);
    this.offsetAlignment = this.device.limits.minStorageBufferOffsetAlignment;
    this.lost = this.device.lost.then((info) => {
      this.lostInfo = new DeviceLostError(info.reason ?? 'unknown', info.message);
      return this.lostInfo;
    });
    this.emptyBuffer = this.device.createBuffer({ size: 16, usage: TENSOR_USAGE, label: 'empty operand' });
  }

  /** Loads the named shader files once; pipelines are then built synchronously from them on first use. */
  static async create(acquired: AcquiredGpu, shaders: readonly string[], options: RuntimeOptions = {}): Promise<GpuRuntime> {
    const sources: Record<string, string> = {};
    for (const name of shaders) sources[name] = await shaderSource(name);
    return new GpuRuntime(acquired, sources, options);
  }

  // ---- tensors ------------------------------------------------------------------------------------------------

  zeros(shape: readonly number[], label = 'tensor'): GpuTensor {
    const tensor = this.allocate(shape, label);
    this.checkAlive('zeros');
    const encoder = this.device.createCommandEncoder();
    encoder.clearBuffer(tensor.buffer);
    this.device.queue.submit([encoder.finish()]);
    return tensor;
  }

  /** A tensor with undefined contents (the kernel about to run writes all of it). */
  allocate(shape: readonly number[], label = 'tensor'): GpuTensor {
    const bytes = Math.max(4, shapeSize(shape) * 4);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new KernelError('allocate', { shape: [...shape] }, `${bytes} bytes exceed the device's maxBufferSize ${this.device.limits.maxBufferSize}`);
    }
    return new GpuTensor(this.pool.acquire(bytes, TENSOR_USAGE, label), [...shape], true);
  }

  upload(data: ArrayLike<number>, shape: readonly number[], label = 'upload'): GpuTensor {
    const size = shapeSize(shape);
    if (data.length !== size) throw new KernelError('upload', { shape: [...shape], length: data.length }, `data has ${data.length} elements, shape needs ${size}`);
    const tensor = this.allocate(shape, label);
    this.checkAlive('upload');
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    if (size > 0) this.device.queue.writeBuffer(tensor.buffer, 0, values.buffer, values.byteOffset, size * 4);
    return tensor;
  }

  /** Wraps a buffer owned elsewhere (e.g. an onnxruntime-web output's tensor.gpuBuffer) without copying. */
  wrap(buffer: GPUBuffer, shape: readonly number[]): GpuTensor {
    const bytes = shapeSize(shape) * 4;
    if (bytes > buffer.size) throw new KernelError('wrap', { shape: [...shape], bufferBytes: buffer.size }, `shape needs ${bytes} bytes`);
    if ((buffer.usage & USAGE.STORAGE) === 0) throw new KernelError('wrap', { shape: [...shape] }, 'the buffer lacks STORAGE usage');
    return new GpuTensor(buffer, [...shape], false);
  }

  release(...tensors: GpuTensor[]): void {
    for (const tensor of tensors) {
      if (tensor.released) continue;
      tensor.markReleased();
      if (tensor.owned) this.pool.release(tensor.buffer);
    }
  }

  /** Contents as float32, after every earlier dispatch; rejects with the first kernel error or DeviceLostError. */
  async read(tensor: GpuTensor): Promise<Float32Array> {
    this.checkAlive('read');
    const bytes = tensor.size * 4;
    const staging = this.pool.acquire(Math.max(bytes, 4), READBACK_USAGE, 'readback');
    const encoder = this.device.createCommandEncoder();
    if (bytes > 0) encoder.copyBufferToBuffer(tensor.buffer, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    try {
      await this.untilLost(staging.mapAsync(MAP_MODE_READ, 0, Math.max(bytes, 4)), 'read');
    } catch (error) {
      throw (await this.lostSoon()) ?? error;
    }
    const out = new Float32Array(staging.getMappedRange(0, Math.max(bytes, 4)).slice(0, bytes));
    staging.unmap();
    this.pool.release(staging);
    await this.settle();
    return out;
  }

  /** Resolves when the GPU has finished everything submitted; rejects on a kernel error or device loss. */
  async finish(): Promise<void> {
    this.checkAlive('finish');
    await this.untilLost(this.device.queue.onSubmittedWorkDone(), 'finish');
    await this.settle();
  }

  /** Copies count elements between tensors on the queue (no binding, so no binding-size limit). */
  copy(regions: readonly { from: GpuTensor; fromStart: number; to: GpuTensor; toStart: number; count: number }[]): void {
    this.checkAlive('copy');
    const encoder = this.device.createCommandEncoder({ label: 'copy' });
    for (const r of regions) if (r.count > 0) encoder.copyBufferToBuffer(r.from.buffer, r.fromStart * 4, r.to.buffer, r.toStart * 4, r.count * 4);
    this.device.queue.submit([encoder.finish()]);
  }

  // ---- binding windows ----------------------------------------------------------------------------------------

  /** Elements that fit in one binding window wherever it starts (the start is aligned down). */
  get maxWindowElements(): number {
    return Math.floor((this.maxBindingBytes - this.offsetAlignment) / 4);
  }

  /** Binds elements [start, start+count) of a tensor; `base` tells the shader where element `start` sits in the range. */
  window(tensor: GpuTensor, start: number, count: number): BufferWindow {
    const startByte = start * 4;
    const offset = startByte - (startByte % this.offsetAlignment);
    const size = Math.max(4, startByte + count * 4 - offset);
    if (size > this.maxBindingBytes) {
      throw new KernelError('window', { shape: [...tensor.shape], start, count }, `a ${size}-byte window exceeds the binding limit ${this.maxBindingBytes}`);
    }
    return { binding: { buffer: tensor.buffer, offset, size }, base: (startByte - offset) / 4 };
  }

  /** The empty storage operand bound where a kernel's optional input (e.g. the mask) is absent. */
  get empty(): BufferWindow {
    return { binding: { buffer: this.emptyBuffer }, base: 0 };
  }

  // ---- pipelines and dispatch ---------------------------------------------------------------------------------

  /**
   * Builds a pipeline ahead of use and rejects with the compiler's messages (line numbers included); the sync path
   * in run() reports the same errors later, at the next read. (createComputePipelineAsync crashes Dawn in Node.)
   */
  async prepare(kernel: string, spec: KernelSpec): Promise<void> {
    const key = pipelineKey(spec);
    if (this.pipelines.has(key)) return;
    this.checkAlive(`building ${kernel}`);
    this.device.pushErrorScope('validation');
    const descriptor = this.pipelineDescriptor(kernel, spec);
    const pipeline = this.device.createComputePipeline(descriptor);
    const error = await this.untilLost(this.device.popErrorScope(), `building ${kernel}`);
    if (error) {
      const info = await descriptor.compute.module.getCompilationInfo();
      const messages = info.messages.map((m) => `shaders/${spec.shader}.wgsl:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
      throw new KernelError(kernel, { constants: JSON.stringify(spec.constants ?? {}) }, `pipeline creation failed: ${[error.message, ...messages].join('\n')}`);
    }
    this.pipelines.set(key, pipeline);
  }

  run(dispatch: Dispatch): void {
    this.checkAlive(dispatch.kernel);
    const [x, y = 1, z = 1] = dispatch.workgroups;
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new KernelError(dispatch.kernel, dispatch.shapes, `grid ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${maxGroups}`);
    }
    if (x * y * z === 0) return;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    try {
      this.encodeAndSubmit(dispatch, [x, y, z]);
    } finally {
      // Popped even when encoding threw, so the device's scope stack stays balanced.
      const validation = this.device.popErrorScope();
      const memory = this.device.popErrorScope();
      this.track(dispatch.kernel, dispatch.shapes, Promise.all([validation, memory]));
    }
  }

  private encodeAndSubmit(dispatch: Dispatch, [x, y, z]: readonly [number, number, number]): void {
    const pipeline = this.pipeline(dispatch.kernel, dispatch.spec);
    const uniformWords = Uint32Array.from(dispatch.uniforms.length ? dispatch.uniforms : [0]);
    const uniform = this.pool.acquire(uniformWords.byteLength, UNIFORM_USAGE, `${dispatch.kernel} uniforms`);
    this.device.queue.writeBuffer(uniform, 0, uniformWords);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform, size: Math.ceil(uniformWords.byteLength / 16) * 16 } }];
    dispatch.storage.forEach((operand, i) => {
      if (operand === null) return;
      entries.push({ binding: i + 1, resource: operand instanceof GpuTensor ? { buffer: operand.buffer, size: Math.max(4, operand.size * 4) } : operand.binding });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: dispatch.kernel });
    const encoder = this.device.createCommandEncoder({ label: dispatch.kernel });
    const pass = encoder.beginComputePass({ label: dispatch.kernel });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    this.pool.release(uniform);
  }

  private pipeline(kernel: string, spec: KernelSpec): GPUComputePipeline {
    const key = pipelineKey(spec);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.device.createComputePipeline(this.pipelineDescriptor(kernel, spec));
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  private pipelineDescriptor(kernel: string, spec: KernelSpec): GPUComputePipelineDescriptor {
    const code = this.sources[spec.shader];
    if (code === undefined) throw new KernelError(kernel, {}, `shader "${spec.shader}" was not loaded by this runtime`);
    const module = this.device.createShaderModule({ code, label: `shaders/${spec.shader}.wgsl` });
    const constants: Record<string, number> = {};
    for (const [name, value] of Object.entries(spec.constants ?? {})) constants[name] = Number(value);
    return { layout: 'auto', label: kernel, compute: { module, entryPoint: spec.entryPoint, constants } };
  }

  // ---- errors and device loss ---------------------------------------------------------------------------------

  private track(kernel: string, shapes: ShapeReport, scopes: Promise<(GPUError | null)[]>): void {
    const done = scopes.then(
      (errors) => {
        const error = errors.find((e) => e !== null);
        if (error && !this.failure) this.failure = new KernelError(kernel, shapes, `${error.constructor.name}: ${error.message}`);
      },
      () => undefined, // a popErrorScope on a lost device rejects; the loss itself is reported by checkAlive.
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /** Waits for the outcome of every dispatch so far; throws the first kernel error (once) or DeviceLostError. */
  async settle(): Promise<void> {
    await this.untilLost(Promise.all([...this.pending]), 'settle');
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.lostInfo) throw this.lostInfo;
    const failure = this.failure;
    if (failure) {
      this.failure = undefined;
      throw failure;
    }
  }

  private checkAlive(during: string): void {
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.detail, during);
    this.throwIfFailed();
  }

  /** The device loss, if it is lost or becomes lost within a moment (a rejected map is often the first sign). */
  private async lostSoon(): Promise<DeviceLostError | undefined> {
    if (this.lostInfo) return this.lostInfo;
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200));
    return Promise.race([this.lost, timeout]);
  }

  private untilLost<T>(promise: Promise<T>, during: string): Promise<T> {
    return Promise.race([
      promise,
      this.lost.then((lost) => {
        throw new DeviceLostError(lost.reason, lost.detail, during);
      }),
    ]);
  }

  /** Resolves with the loss when the device is lost; lets callers (a worker) re-acquire a device. */
  whenLost(): Promise<DeviceLostError> {
    return this.lost;
  }
}

function pipelineKey(spec: KernelSpec): string {
  const constants = Object.entries(spec.constants ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${Number(v)}`)
    .join(',');
  return `${spec.shader}:${spec.entryPoint}:${constants}`;
}
