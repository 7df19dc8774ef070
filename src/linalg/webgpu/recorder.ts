/**
 * The pending command encoder of a GpuRuntime (as in tfjs-backend-webgpu): dispatches of one step share a command
 * encoder and, between copies, one compute pass; their uniforms go to slices of one arena buffer; one flush writes the
 * arena and submits everything. Per-dispatch command buffers, uniform buffers and submits cost ~10× the kernels
 * themselves on SwiftShader for the Jacobi sweeps (a sweep is ~2n small dispatches).
 */

import { uniformViews, type UniformViews } from './program';

const USAGE_UNIFORM_COPY_DST = 0x40 | 0x8;
/** Uniform bytes per submit; a step that needs more is split into several submits (still in order). */
const ARENA_BYTES = 256 * 1024;

export class CommandRecorder {
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private readonly arena: GPUBuffer;
  private readonly alignment: number;
  private readonly arenaViews = uniformViews(new ArrayBuffer(ARENA_BYTES));
  private readonly arenaWords = this.arenaViews.u32;
  private used = 0;
  private lastSlot: { offset: number; size: number } | undefined;
  private readonly afterSubmit: GPUBuffer[] = [];
  /** Queue submissions so far (benchmarks and tests read it). */
  submits = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
  ) {
    // Read once: in Dawn for Node every device.limits access builds a new object, and this runs per dispatch.
    this.alignment = device.limits.minUniformBufferOffsetAlignment;
    this.arena = device.createBuffer({ size: ARENA_BYTES, usage: USAGE_UNIFORM_COPY_DST, label: `${label} uniforms` });
  }

  /** True while commands are recorded but not submitted. */
  get pending(): boolean {
    return this.encoder !== undefined;
  }

  /** The shared encoder for copies and clears (the open compute pass, if any, is ended first). */
  commands(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = undefined;
    }
    this.encoder ??= this.device.createCommandEncoder({ label: this.label });
    return this.encoder;
  }

  computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.commands().beginComputePass({ label: this.label });
    return this.pass;
  }

  /**
   * A uniform slice of `size` bytes filled by `pack` (views of the arena, byte offset into them); reuses the previous
   * slice
   * when the bytes are identical (the Jacobi rounds bind the same (n, round) twice). Returns the binding, or the
   * problem `pack` reported.
   */
  uniforms(size: number, pack: (views: UniformViews, byteOffset: number) => string | null): GPUBufferBinding | string {
    const stride = Math.ceil(size / this.alignment) * this.alignment;
    if (stride > ARENA_BYTES) return `a ${size}-byte uniform struct exceeds the arena of ${ARENA_BYTES} bytes`;
    if (this.used + stride > ARENA_BYTES) this.flush();
    const offset = this.used;
    this.arenaWords.fill(0, offset / 4, (offset + stride) / 4);
    const problem = pack(this.arenaViews, offset);
    if (problem !== null) return problem;
    const last = this.lastSlot;
    if (last && last.size === size && sameWords(this.arenaWords, last.offset, offset, size)) {
      return { buffer: this.arena, offset: last.offset, size };
    }
    this.used += stride;
    this.lastSlot = { offset, size };
    // The submit must not start before the arena holds these bytes: flush() writes them first.
    this.encoder ??= this.device.createCommandEncoder({ label: this.label });
    return { buffer: this.arena, offset, size };
  }

  /** Destroys a buffer once the commands that use it are submitted (upload staging buffers). */
  destroyAfterSubmit(buffer: GPUBuffer): void {
    this.afterSubmit.push(buffer);
  }

  /** Writes the used arena, then submits the encoder; queue order makes the next flush's write safe to reuse it. */
  flush(): void {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = undefined;
    if (this.used > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaWords.buffer, 0, this.used);
    const commands = this.encoder.finish();
    this.encoder = undefined;
    this.used = 0;
    this.lastSlot = undefined;
    this.device.queue.submit([commands]);
    this.submits++;
    for (const buffer of this.afterSubmit.splice(0)) buffer.destroy();
  }
}

function sameWords(words: Uint32Array, a: number, b: number, size: number): boolean {
  for (let i = 0; i < size / 4; i++) if (words[a / 4 + i] !== words[b / 4 + i]) return false;
  return true;
}
