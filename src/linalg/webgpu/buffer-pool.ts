/**
 * GPU buffers recycled by size class, so a stage that allocates the same temporaries batch after batch stops
 * allocating after the first batch. Reuse is safe without waiting for the GPU: queue operations run in submission
 * order and commands in recording order, so work recorded before a release still sees the old contents.
 */

/** Size classes grow by 2^(1/4): at most ~19% of a pooled buffer is slack. */
function sizeClass(bytes: number): number {
  const minimum = 256;
  if (bytes <= minimum) return minimum;
  const exponent = Math.ceil(Math.log2(bytes) * 4) / 4;
  return Math.ceil(2 ** exponent / 256) * 256;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private allocatedBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Called before buffers are destroyed (the runtime submits pending commands that may use them). */
    private readonly beforeDestroy: () => void = () => {},
  ) {}

  /** A buffer of at least `bytes` bytes with exactly these usages; contents are undefined. */
  acquire(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(key(size, usage));
    const reused = list?.pop();
    if (reused) {
      reused.label = label;
      return reused;
    }
    this.allocatedBytes += size;
    return this.device.createBuffer({ size, usage, label });
  }

  release(buffer: GPUBuffer): void {
    const k = key(buffer.size, buffer.usage);
    const list = this.free.get(k);
    if (list) list.push(buffer);
    else this.free.set(k, [buffer]);
  }

  /** Bytes ever allocated through the pool (pooled buffers count once). */
  get bytesAllocated(): number {
    return this.allocatedBytes;
  }

  /** Frees the idle buffers (those released back to the pool). */
  trim(): void {
    this.beforeDestroy();
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.allocatedBytes -= buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
  }
}

function key(size: number, usage: GPUBufferUsageFlags): string {
  return `${size}:${usage}`;
}
