/**
 * The one GPU runtime under every kernel (the eigensolver included): tensors in pooled buffers, one pipeline cache
 * keyed by shader + entry point + override constants, dispatches described by KernelPrograms (named uniforms packed
 * by their layout, named bindings), and steps: the dispatches of one logical step (a backend call, a Jacobi sweep)
 * share a command encoder and uniform arena (recorder.ts) and are submitted once, inside one pair of error scopes
 * whose errors still name the failing kernel and its shapes. Device loss becomes a DeviceLostError that every
 * pending and later call rejects with. Platform-free: a window, a worker and Node (Dawn) all hand it a GPUDevice.
 */
import type { AcquiredGpu } from './adapter';
import { BufferPool } from './buffer-pool';
import { DeviceLostError, KernelError, type ShapeReport } from './errors';
import {
  packUniforms,
  uniformLayout,
  type BindingValues,
  type KernelProgram,
  type UniformLayout,
  type UniformValues,
} from './program';
import { CommandRecorder } from './recorder';
import { shaderSource } from './shaders';
import { StepErrors } from './step-errors';
import { GpuTensor, shapeSize } from './tensor';

// The spec's GPUBufferUsage bits, spelled out: in Node the GPUBufferUsage global exists only after nodeGpu() runs,
// which is later than this module loads.
const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, STORAGE: 0x80 } as const;
const MAP_MODE_READ = 0x1;
const TENSOR_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
const READBACK_USAGE = USAGE.MAP_READ | USAGE.COPY_DST;

/** A storage binding: a whole tensor, or a window of it (see GpuRuntime.window). */
export type StorageOperand = GpuTensor | BufferWindow;

/** A bound byte range of a buffer plus the element offset, inside that range, where the wanted data starts. */
export interface BufferWindow {
  readonly binding: GPUBufferBinding;
  /** Element index, relative to the bound range, of the first wanted element (binding offsets are aligned down). */
  readonly base: number;
}

/** One dispatch of a program: named uniform values and operands, checked against the program's description. */
export interface KernelCall<P extends KernelProgram> {
  /** Name used in errors, e.g. "covariance.accumulate". */
  readonly kernel: string;
  readonly shapes: ShapeReport;
  readonly constants?: Readonly<Record<string, number | boolean>>;
  readonly uniforms: UniformValues<P>;
  readonly bindings: BindingValues<P, StorageOperand>;
  readonly workgroups: readonly [number, number?, number?];
}

export interface RuntimeOptions {
  /** Lower the storage-binding size the kernels split against (tests use this to exercise splitting). */
  readonly maxBindingBytes?: number;
}

/** Cached bind groups before the cache starts over (they pin their buffers' JS objects, not GPU memory). */
const BIND_GROUP_CACHE = 4096;

interface PreparedProgram {
  readonly layout: UniformLayout;
  readonly bindingNames: ReadonlySet<string>;
}

/** A step body must encode synchronously: the step submits when it returns. */
type Synchronous<T> = T extends PromiseLike<unknown> ? never : T;

export class GpuRuntime {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  /** Largest byte range one storage binding may cover (the device limit, or lower when a test asks). */
  readonly maxBindingBytes: number;
  readonly offsetAlignment: number;
  readonly maxWorkgroupsPerDimension: number;
  private readonly recorder: CommandRecorder;
  private readonly errors: StepErrors;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly programs = new WeakMap<KernelProgram, PreparedProgram>();
  private lostInfo: DeviceLostError | undefined;
  private readonly lost: Promise<DeviceLostError>;
  private readonly emptyBuffer: GPUBuffer;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private bufferSerial = 0;
  private bindGroupSerial = 0;

  private constructor(
    readonly acquired: AcquiredGpu,
    private readonly sources: Readonly<Record<string, string>>,
    options: RuntimeOptions,
  ) {
    this.device = acquired.device;
    this.recorder = new CommandRecorder(this.device, 'runtime step');
    // Destroying a buffer that pending commands use would fail their submit: submit them first.
    this.pool = new BufferPool(this.device, () => this.recorder.flush());
    this.errors = new StepErrors(this.device);
    const limit = this.device.limits.maxStorageBufferBindingSize;
    this.maxBindingBytes = Math.min(limit, options.maxBindingBytes ?? limit);
    this.offsetAlignment = this.device.limits.minStorageBufferOffsetAlignment;
    // Read once: in Dawn for Node every device.limits access builds a new object, and run() checks it per dispatch.
    this.maxWorkgroupsPerDimension = this.device.limits.maxComputeWorkgroupsPerDimension;
    this.lost = this.device.lost.then((info) => {
      this.lostInfo = new DeviceLostError(info.reason ?? 'unknown', info.message);
      return this.lostInfo;
    });
    this.emptyBuffer = this.device.createBuffer({ size: 16, usage: TENSOR_USAGE, label: 'empty operand' });
  }

  /** Loads the shaders of the given programs once; pipelines are then built synchronously on first use. */
  static async create(
    acquired: AcquiredGpu,
    programs: readonly KernelProgram[],
    options: RuntimeOptions = {},
  ): Promise<GpuRuntime> {
    const sources: Record<string, string> = {};
    for (const { shader } of programs) sources[shader] ??= await shaderSource(shader);
    return new GpuRuntime(acquired, sources, options);
  }

  /** Queue submissions so far: one per step (more only when a step overflows the uniform arena or reads back). */
  get submits(): number {
    return this.recorder.submits;
  }

  // ---- tensors ------------------------------------------------------------------------------------------------

  zeros(shape: readonly number[], label = 'tensor'): GpuTensor {
    const tensor = this.allocate(shape, label);
    this.step('zeros', { shape: [...shape] }, () => this.recorder.commands().clearBuffer(tensor.buffer));
    return tensor;
  }

  /** A tensor with undefined contents (the kernel about to run writes all of it). */
  allocate(shape: readonly number[], label = 'tensor'): GpuTensor {
    const bytes = Math.max(4, shapeSize(shape) * 4);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new KernelError(
        'allocate',
        { shape: [...shape] },
        `${bytes} bytes exceed the device's maxBufferSize ${this.device.limits.maxBufferSize}`,
      );
    }
    return new GpuTensor(this.pool.acquire(bytes, TENSOR_USAGE, label), [...shape], true);
  }

  /**
   * Inside a step the upload is a copy from a staging buffer, recorded in order with the step's dispatches (a pooled
   * buffer may still be read by an earlier, unsubmitted dispatch; queue.writeBuffer would overtake it).
   */
  upload(data: ArrayLike<number>, shape: readonly number[], label = 'upload'): GpuTensor {
    const size = shapeSize(shape);
    if (data.length !== size)
      throw new KernelError(
        'upload',
        { shape: [...shape], length: data.length },
        `data has ${data.length} elements, shape needs ${size}`,
      );
    const tensor = this.allocate(shape, label);
    this.checkAlive('upload');
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    if (size === 0) return tensor;
    if (!this.recorder.pending) {
      this.device.queue.writeBuffer(tensor.buffer, 0, values.buffer, values.byteOffset, size * 4);
      return tensor;
    }
    const staging = this.device.createBuffer({
      size: size * 4,
      usage: USAGE.COPY_SRC,
      mappedAtCreation: true,
      label: `${label} staging`,
    });
    new Float32Array(staging.getMappedRange()).set(values);
    staging.unmap();
    this.recorder.commands().copyBufferToBuffer(staging, 0, tensor.buffer, 0, size * 4);
    this.recorder.destroyAfterSubmit(staging);
    return tensor;
  }

  /** Wraps a buffer owned elsewhere (e.g. an onnxruntime-web output's tensor.gpuBuffer) without copying. */
  wrap(buffer: GPUBuffer, shape: readonly number[]): GpuTensor {
    const bytes = shapeSize(shape) * 4;
    if (bytes > buffer.size)
      throw new KernelError('wrap', { shape: [...shape], bufferBytes: buffer.size }, `shape needs ${bytes} bytes`);
    if ((buffer.usage & USAGE.STORAGE) === 0)
      throw new KernelError('wrap', { shape: [...shape] }, 'the buffer lacks STORAGE usage');
    return new GpuTensor(buffer, [...shape], false);
  }

  /** Reuse by a later command of the same step is safe: commands run in recording order. */
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
    if (bytes > 0) this.recorder.commands().copyBufferToBuffer(tensor.buffer, 0, staging, 0, bytes);
    this.recorder.flush();
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
    this.recorder.flush();
    await this.untilLost(this.device.queue.onSubmittedWorkDone(), 'finish');
    await this.settle();
  }

  /** Copies count elements between tensors on the queue (no binding, so no binding-size limit). */
  copy(
    regions: readonly { from: GpuTensor; fromStart: number; to: GpuTensor; toStart: number; count: number }[],
  ): void {
    this.step('copy', {}, () => {
      const encoder = this.recorder.commands();
      for (const r of regions)
        if (r.count > 0)
          encoder.copyBufferToBuffer(r.from.buffer, r.fromStart * 4, r.to.buffer, r.toStart * 4, r.count * 4);
    });
  }

  // ---- binding windows ----------------------------------------------------------------------------------------

  /** Elements that fit in one binding window wherever it starts (the start is aligned down). */
  get maxWindowElements(): number {
    return Math.floor((this.maxBindingBytes - this.offsetAlignment) / 4);
  }

  /** Binds elements [start, start+count) of a tensor; `base` says where element `start` sits in the bound range. */
  window(tensor: GpuTensor, start: number, count: number): BufferWindow {
    const startByte = start * 4;
    const offset = startByte - (startByte % this.offsetAlignment);
    const size = Math.max(4, startByte + count * 4 - offset);
    if (size > this.maxBindingBytes) {
      throw new KernelError(
        'window',
        { shape: [...tensor.shape], start, count },
        `a ${size}-byte window exceeds the binding limit ${this.maxBindingBytes}`,
      );
    }
    return { binding: { buffer: tensor.buffer, offset, size }, base: (startByte - offset) / 4 };
  }

  /** The empty storage operand bound where a kernel's optional input (e.g. the mask) is absent. */
  get empty(): BufferWindow {
    return { binding: { buffer: this.emptyBuffer }, base: 0 };
  }

  // ---- steps and dispatch -------------------------------------------------------------------------------------

  /**
   * Runs `body`, which records dispatches, clears, copies and uploads, then submits them together. Errors the GPU
   * reports for them surface at the next read/finish/settle as a KernelError naming the failing dispatch's kernel
   * and shapes (or, when the message names none, this step's). A step inside a step joins it.
   */
  step<T>(kernel: string, shapes: ShapeReport, body: () => Synchronous<T>): T {
    if (this.errors.open) return body();
    this.checkAlive(kernel);
    this.errors.begin(kernel, shapes);
    try {
      const result = body();
      if (typeof (result as { then?: unknown } | undefined)?.then === 'function') {
        throw new KernelError(kernel, shapes, 'a step body must record synchronously (it returned a promise)');
      }
      return result;
    } finally {
      try {
        this.recorder.flush();
      } finally {
        this.errors.end();
      }
    }
  }

  /** Records one dispatch (in the open step, or in a step of its own). */
  run<P extends KernelProgram>(program: P, call: KernelCall<P>): void {
    this.checkAlive(call.kernel);
    const [x, y = 1, z = 1] = call.workgroups;
    const maxGroups = this.maxWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new KernelError(
        call.kernel,
        call.shapes,
        `grid ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${maxGroups}`,
      );
    }
    if (x * y * z === 0) return;
    this.step(call.kernel, call.shapes, () => this.record(program, call, [x, y, z]));
  }

  private record<P extends KernelProgram>(
    program: P,
    call: KernelCall<P>,
    grid: readonly [number, number, number],
  ): void {
    const fail = (problem: string): never => {
      throw new KernelError(call.kernel, call.shapes, `${program.shader}.wgsl ${program.entryPoint}: ${problem}`);
    };
    const operands = call.bindings as Readonly<Record<string, StorageOperand | undefined>>;
    const entries: GPUBindGroupEntry[] = [];
    for (const { name, binding } of program.bindings) {
      const operand = operands[name];
      if (operand === undefined) fail(`binding "${name}" has no operand`);
      entries.push({
        binding,
        resource:
          operand instanceof GpuTensor
            ? { buffer: operand.buffer, size: Math.max(4, operand.size * 4) }
            : operand!.binding,
      });
    }
    const { layout, bindingNames } = this.prepared(program);
    for (const name in operands) if (!bindingNames.has(name)) fail(`"${name}" is not a binding of this kernel`);
    const pipeline = this.pipeline(program, call.constants, fail);
    const uniforms = this.recorder.uniforms(Math.ceil(layout.size / 16) * 16, (views, offset) =>
      packUniforms(layout, call.uniforms, views, offset),
    );
    if (typeof uniforms === 'string') return fail(uniforms);
    entries.unshift({ binding: 0, resource: uniforms });
    const bindGroup = this.bindGroup(pipeline, entries, call.kernel);
    this.errors.dispatched({
      label: bindGroup.label,
      kernel: call.kernel,
      shapes: call.shapes,
      pipeline: pipeline.label,
    });
    const pass = this.recorder.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...grid);
  }

  /**
   * Bind groups are cached by pipeline and bound ranges: a Jacobi sweep repeats the same ~2n dispatches (the arena
   * restarts at offset 0 every step) and a stage's batches reuse the same pooled buffers, so most dispatches find
   * theirs, and creating one costs more than the dispatch it serves on SwiftShader. Labels stay unique per bind group,
   * which is what lets a step's error name its dispatch.
   */
  private bindGroup(pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[], kernel: string): GPUBindGroup {
    let key = pipeline.label;
    for (const entry of entries) {
      const { buffer, offset = 0, size = -1 } = entry.resource as GPUBufferBinding;
      let id = this.bufferIds.get(buffer);
      if (id === undefined) this.bufferIds.set(buffer, (id = ++this.bufferSerial));
      key += `|${entry.binding}:${id}@${offset}+${size}`;
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
      const label = `${kernel}#${++this.bindGroupSerial}`;
      group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
      this.bindGroups.set(key, group);
    }
    return group;
  }

  /** What recording a program needs from its description, derived once. */
  private prepared(program: KernelProgram): PreparedProgram {
    let prepared = this.programs.get(program);
    if (!prepared) {
      prepared = {
        layout: uniformLayout(program.uniforms),
        bindingNames: new Set(program.bindings.map((b) => b.name)),
      };
      this.programs.set(program, prepared);
    }
    return prepared;
  }

  private pipeline(
    program: KernelProgram,
    constants: KernelCall<KernelProgram>['constants'],
    fail: (problem: string) => never,
  ): GPUComputePipeline {
    const names = constants ? Object.keys(constants).sort() : [];
    const assigned = names.map((n) => `${n}=${Number(constants![n])}`).join(',');
    const key = `${program.shader}:${program.entryPoint}:${assigned}`;
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    for (const name of names)
      if (!program.constants?.includes(name)) fail(`"${name}" is not an override constant of this kernel`);
    const code = this.sources[program.shader];
    if (code === undefined) fail(`shader "${program.shader}" was not loaded by this runtime`);
    const module = this.device.createShaderModule({ code: code!, label: `shaders/${program.shader}.wgsl` });
    const values: Record<string, number> = {};
    for (const name of names) values[name] = Number(constants![name]);
    const pipeline = this.device.createComputePipeline({
      layout: 'auto',
      label: key,
      compute: { module, entryPoint: program.entryPoint, constants: values },
    });
    this.errors.compiled(key, module);
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  // ---- errors and device loss ---------------------------------------------------------------------------------

  /** Waits for the outcome of every step so far; throws the first kernel error (once) or DeviceLostError. */
  async settle(): Promise<void> {
    await this.untilLost(this.errors.settled(), 'settle');
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.lostInfo) throw this.lostInfo;
    const failure = this.errors.takeFailure();
    if (failure) throw failure;
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
