/**
 * The eigendecomposition stage of the memory plan (memory-plan.ts), and what a factor larger than one storage
 * binding means for the stages around it.
 *
 * WebGPU: a factor whose Jacobi working matrix (d padded to even, squared, float32) fits one binding is decomposed
 * whole — input, working matrix, vectors and sorted output, 4·d² floats. A larger one is split into blocks (block
 * Jacobi, src/linalg/webgpu/eigh-blocks.ts) and never held whole on the GPU: the eigen stage hands it over and gets
 * it back on the host (Backend.eighHost), so the GPU holds the blocks alone (blockEighBytes). Time: SPLIT_SWEEPS outer
 * sweeps × k(k − 1)/2 block pairs × (the single-binding solver at 2b + the pair's GEMMs, ≈ 10·k·b³ multiply-adds).
 * The covariance kernels bind the d'×d' accumulator whole and the rotations into the eigenbasis bind Q_S and Q_A
 * whole (shared GEMM operands), so a factor over one binding is still refused for those stages, by name.
 */
import { blockEighBytes, defaultBlockSize } from '../linalg/webgpu/block-layout';

/** What the eigen plan needs of a WebGPU device (memory-plan.ts's DeviceProfile has these and more). */
export interface EigenDevice {
  readonly bytesPerElement: 4 | 8;
  readonly maxBindingBytes: number;
  readonly flopsPerSecond: number;
  readonly eighSecondsPerCube: number;
}

/**
 * Outer block-Jacobi sweeps for planning. With each pair solve costed as the single-binding solver's c·(2b)³, 4 sweeps
 * put the estimate within 0.7–1.6× of the measured split/whole ratios at d = 256 with 3–5 blocks (2.2×, 2.8×, 3.8×;
 * docs/benchmarks/eigh-split.json, 2–4 sweeps there, up to 7 with 12 blocks in tests).
 */
export const SPLIT_SWEEPS = 4;

export interface EigenStagePlan {
  /** Bytes beyond the factors for the largest factor's decomposition. */
  readonly workingBytes: number;
  readonly seconds: number;
  /** Factors that split, in words. */
  readonly notes: string[];
  /** What cannot run: the stages that still bind a whole factor. */
  readonly problems: string[];
}

/** WebGPU only. `sizes`: the d of every factor (A: d_in', S: d_out) of the tracked layers. */
export function planEigenStage(sizes: readonly number[], device: EigenDevice): EigenStagePlan {
  const E = device.bytesPerElement;
  const notes: string[] = [];
  const problems: string[] = [];
  let workingBytes = 0;
  let seconds = 0;
  const split = new Set<number>();
  for (const d of sizes) {
    const whole = 4 * d * d * E;
    const padded = (d + (d % 2)) ** 2 * E;
    if (padded <= device.maxBindingBytes) {
      workingBytes = Math.max(workingBytes, whole);
      seconds += d ** 3 * device.eighSecondsPerCube;
      continue;
    }
    const b = defaultBlockSize(d, Math.floor(device.maxBindingBytes / 4) - 64);
    const k = Math.ceil(d / b);
    split.add(d);
    workingBytes = Math.max(workingBytes, blockEighBytes(d, b));
    const pairs = (k * (k - 1)) / 2;
    seconds +=
      SPLIT_SWEEPS * pairs * ((2 * b) ** 3 * device.eighSecondsPerCube + (20 * k * b ** 3) / device.flopsPerSecond);
  }
  for (const d of [...split].sort((x, y) => x - y)) {
    const b = defaultBlockSize(d, Math.floor(device.maxBindingBytes / 4) - 64);
    notes.push(
      `the eigendecomposition at d = ${d} splits into ${Math.ceil(d / b)} blocks of ≤ ${b} ` +
        `(its ${mib((d + (d % 2)) ** 2 * E)} working matrix exceeds one ${mib(device.maxBindingBytes)} binding)`,
    );
  }
  if (split.size > 0) {
    const largest = Math.max(...split);
    problems.push(
      `covariance at d = ${largest}: the kernels bind the ${largest}×${largest} accumulator whole ` +
        `(${mib(largest * largest * E)}, over one binding); only the eigendecomposition splits`,
      `rotations into the eigenbasis at d = ${largest}: the GEMMs bind Q whole (${mib(largest * largest * E)}, ` +
        'over one binding); the Λ, query and score stages cannot run on this device',
    );
  }
  return { workingBytes, seconds, notes, problems };
}

export function mib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
