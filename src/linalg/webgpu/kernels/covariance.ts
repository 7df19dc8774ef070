/**
 * Covariance accumulation and finalisation (shaders/covariance*.wgsl). The accumulator holds only the upper
 * triangle until finalizeCovariance mirrors it once; rows are split into dispatches that fit a storage binding.
 */
import type { Tensor } from '../../backend';
import { f32Bits, type GpuRuntime } from '../runtime';
import type { GpuTensor } from '../tensor';
import { OperandCheck, unitsPerWindow } from './operands';

export interface CovarianceTuning {
  /** Threads per tile edge; the output tile is (4·side)². */
  readonly side: number;
  /** Rows summed per block before joining the running total (float32 accuracy). */
  readonly blockRows: number;
}

export const DEFAULT_COVARIANCE_TUNING: CovarianceTuning = { side: 8, blockRows: 64 };

export function accumulateCovariance(
  runtime: GpuRuntime,
  acc: Tensor,
  x: Tensor,
  mask: Tensor | null,
  appendOnes: boolean,
  tuning: CovarianceTuning = DEFAULT_COVARIANCE_TUNING,
): void {
  const check = new OperandCheck('accumulateCovariance', { acc, x, mask });
  check.note('appendOnes', appendOnes);
  if (x.shape.length !== 2 && x.shape.length !== 3) check.fail('x must be [B, T, d] or [rows, d]');
  const rowDims = x.shape.slice(0, -1).map((_, i) => `rows${i}`);
  const xs = check.expect(x, 'x', [...rowDims, 'd']);
  const d = check.dim('d');
  const dPrime = d + (appendOnes ? 1 : 0);
  const accumulator = check.expect(acc, 'acc', [dPrime, dPrime]);
  const maskTensor = mask === null ? null : check.expect(mask, 'mask', rowDims);
  const rows = xs.size / Math.max(d, 1);
  const chunk = unitsPerWindow(check, rows, runtime.maxWindowElements, [
    { fixed: 0, perUnit: d },
    { fixed: 0, perUnit: 1 },
  ]);
  const tilesPerSide = Math.ceil(dPrime / (4 * tuning.side));
  const upperTiles = (tilesPerSide * (tilesPerSide + 1)) / 2;
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const count = Math.min(chunk, rows - r0);
    const xw = runtime.window(xs, r0 * d, count * d);
    const mw = maskTensor ? runtime.window(maskTensor, r0, count) : runtime.empty;
    runtime.run({
      kernel: check.kernel,
      spec: {
        shader: 'covariance',
        entryPoint: 'accumulate',
        constants: { SIDE: tuning.side, BLOCK_ROWS: tuning.blockRows },
      },
      shapes: check.shapes,
      uniforms: [count, d, dPrime, xw.base, mw.base, maskTensor ? 1 : 0],
      storage: [xw, mw, accumulator],
      workgroups: [upperTiles],
    });
  }
}

export function finalizeCovariance(runtime: GpuRuntime, acc: Tensor, count: number): GpuTensor {
  const check = new OperandCheck('finalizeCovariance', { acc });
  check.note('count', count);
  const accumulator = check.expect(acc, 'acc', ['d', 'd']);
  if (!(count > 0)) check.fail(`count must be > 0, got ${count} (no unmasked tokens were accumulated?)`);
  const d = check.dim('d');
  const out = runtime.allocate([d, d], 'covariance');
  const side = 16;
  runtime.run({
    kernel: check.kernel,
    spec: { shader: 'covariance-finalize', entryPoint: 'finalize', constants: { SIDE: side } },
    shapes: check.shapes,
    uniforms: [d, f32Bits(1 / count)],
    storage: [accumulator, out],
    workgroups: [Math.ceil(d / side), Math.ceil(d / side)],
  });
  return out;
}

