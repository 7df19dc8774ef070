/**
 * Encodes whole Jacobi sweeps (n − 1 rounds × two dispatches of shaders/jacobi.wgsl) into one command buffer.
 * A sweep is ~2n dispatches; submitting each through GpuRuntime.run (own uniform buffer, bind group, submit and
 * error scopes) cost ~10× the kernels themselves on SwiftShader, so the per-round bind groups are built once per
 * eigendecomposition (each points at its round's slice of one uniform buffer) and a sweep is one submit inside one
 * pair of error scopes, checked when the sweep's statistics are read back.
 */
import { KernelError, type ShapeReport } from './errors';
import type { GpuRuntime } from './runtime';
import { shaderSource } from './shaders';
import type { GpuTensor } from './tensor';

interface JacobiPipelines {
  readonly parameters: GPUComputePipeline;
  readonly apply: GPUComputePipeline;
}

const pipelinesByDevice = new WeakMap<GPUDevice, Promise<JacobiPipelines>>();

function jacobiPipelines(device: GPUDevice, shapes: ShapeReport): Promise<JacobiPipelines> {
  let pipelines = pipelinesByDevice.get(device);
  if (!pipelines) {
    pipelines = (async () => {
      const module = device.createShaderModule({ code: await shaderSource('jacobi'), label: 'shaders/jacobi.wgsl' });
      const build = (entryPoint: string) =>
        device.createComputePipelineAsync({ layout: 'auto', label: `eigh.${entryPoint}`, compute: { module, entryPoint } });
      const [parameters, apply] = await Promise.all([build('rotation_parameters'), build('apply_rotations')]);
      return { parameters, apply };
    })();
    pipelinesByDevice.set(device, pipelines);
    pipelines.catch(() => pipelinesByDevice.delete(device));
  }
  return pipelines.catch((error: unknown) => {
    throw new KernelError('eigh.pipelines', shapes, `pipeline creation failed: ${(error as Error).message}`);
  });
}

/** Uniform slices must start at multiples of this (the WebGPU maximum of minUniformBufferOffsetAlignment). */
const UNIFORM_STRIDE = 256;

export class JacobiSweeper {
  private pendingErrors: Promise<(GPUError | null)[]> | undefined;

  private constructor(
    private readonly device: GPUDevice,
    private readonly pipelines: JacobiPipelines,
    private readonly uniforms: GPUBuffer,
    private readonly parameterGroups: GPUBindGroup[],
    private readonly applyGroups: GPUBindGroup[],
    private readonly n: number,
    private readonly shapes: ShapeReport,
  ) {}

  /** working and vectors: [n, n]; rotations: [n/2, 4]. Release with dispose(). */
  static async create(runtime: GpuRuntime, working: GpuTensor, rotations: GpuTensor, vectors: GpuTensor, shapes: ShapeReport): Promise<JacobiSweeper> {
    const device = runtime.device;
    const pipelines = await jacobiPipelines(device, shapes);
    const n = working.shape[0]!;
    const rounds = n - 1;
    const uniforms = runtime.pool.acquire(rounds * UNIFORM_STRIDE, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'eigh.rounds');
    const words = new Uint32Array((rounds * UNIFORM_STRIDE) / 4);
    for (let round = 0; round < rounds; round++) {
      words[(round * UNIFORM_STRIDE) / 4] = n;
      words[(round * UNIFORM_STRIDE) / 4 + 1] = round;
    }
    device.queue.writeBuffer(uniforms, 0, words);
    const parameterGroups: GPUBindGroup[] = [];
    const applyGroups: GPUBindGroup[] = [];
    for (let round = 0; round < rounds; round++) {
      const params = { binding: 0, resource: { buffer: uniforms, offset: round * UNIFORM_STRIDE, size: 8 } };
      const a = { binding: 1, resource: { buffer: working.buffer, size: n * n * 4 } };
      const r = { binding: 2, resource: { buffer: rotations.buffer, size: (n / 2) * 16 } };
      const v = { binding: 3, resource: { buffer: vectors.buffer, size: n * n * 4 } };
      parameterGroups.push(device.createBindGroup({ layout: pipelines.parameters.getBindGroupLayout(0), entries: [params, a, r] }));
      applyGroups.push(device.createBindGroup({ layout: pipelines.apply.getBindGroupLayout(0), entries: [params, a, r, v] }));
    }
    return new JacobiSweeper(device, pipelines, uniforms, parameterGroups, applyGroups, n, shapes);
  }

  /** Submits one sweep; its errors are reported by the next checkErrors(). */
  submitSweep(): void {
    const half = this.n / 2;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const encoder = this.device.createCommandEncoder({ label: 'eigh.sweep' });
    const pass = encoder.beginComputePass({ label: 'eigh.sweep' });
    for (let round = 0; round < this.n - 1; round++) {
      pass.setPipeline(this.pipelines.parameters);
      pass.setBindGroup(0, this.parameterGroups[round]!);
      pass.dispatchWorkgroups(Math.ceil(half / 64));
      pass.setPipeline(this.pipelines.apply);
      pass.setBindGroup(0, this.applyGroups[round]!);
      pass.dispatchWorkgroups(Math.ceil(half / 16), Math.ceil(half / 16));
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    this.pendingErrors = Promise.all([validation, memory]);
  }

  /** Throws a KernelError naming the sweep when the GPU rejected it. */
  async checkErrors(sweep: number): Promise<void> {
    const pending = this.pendingErrors;
    this.pendingErrors = undefined;
    if (!pending) return;
    const errors = await pending.catch(() => [] as (GPUError | null)[]); // a lost device is reported by the runtime's read
    const error = errors.find((e) => e !== null);
    if (error) throw new KernelError('eigh.sweep', this.shapes, `sweep ${sweep} failed: ${error.constructor.name}: ${error.message}`);
  }

  dispose(runtime: GpuRuntime): void {
    runtime.pool.release(this.uniforms);
  }
}
