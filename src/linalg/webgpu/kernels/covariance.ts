/**
 * Covariance accumulation and finalisation (shaders/covariance*.wgsl). The accumulator holds only the upper
 * triangle until finalizeCovariance mirrors it once; rows are split into dispatches that fit a storage binding.
 */
import type { Tensor } from '../../backend';
import { kernelProgram } from '../program';
import type { GpuRuntime } from '../runtime';
import type { GpuTensor } from '../tensor';
import { OperandCheck, unitsPerWindow } from './operands';

export interface CovarianceTuning {
  /** Threads per tile edge; the output tile is (4·side)². */
  readonly side: number;
  /** Rows summed per block before joining the running total (float32 accuracy). */
  readonly blockRows: number;
}

export const DEFAULT_COVARIANCE_TUNING: CovarianceTuning = { side: 8, blockRows: 64 };

export const COVARIANCE_ACCUMULATE = kernelProgram({
  shader: 'covariance',
  entryPoint: 'accumulate',
  uniforms: [
    { name: 'rows', type: 'u32' },
    { name: 'd', type: 'u32' },
    { name: 'd_prime', type: 'u32' },
    { name: 'x_base', type: 'u32' },
    { name: 'mask_base', type: 'u32' },
    { name: 'has_mask', type: 'u32' },
  ],
  bindings: [
    { name: 'x', binding: 1, access: 'read' },
    { name: 'mask', binding: 2, access: 'read' },
    { name: 'acc', binding: 3, access: 'read_write' },
  ],
  constants: ['SIDE', 'BLOCK_ROWS'],
});

export const COVARIANCE_FINALIZE = kernelProgram({
  shader: 'covariance-finalize',
  entryPoint: 'finalize',
  uniforms: [
    { name: 'd', type: 'u32' },
    { name: 'inverse_count', type: 'f32' },
  ],
  bindings: [
    { name: 'acc', binding: 1, access: 'read' },
    { name: 'out', binding: 2, access: 'read_write' },
  ],
  constants: ['SIDE'],
});

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
  runtime.step(check.kernel, check.shapes, () => {
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const count = Math.min(chunk, rows - r0);
      const xw = runtime.window(xs, r0 * d, count * d);
      const mw = maskTensor ? runtime.window(maskTensor, r0, count) : runtime.empty;
      runtime.run(COVARIANCE_ACCUMULATE, {
        kernel: check.kernel,
        shapes: check.shapes,
        constants: { SIDE: tuning.side, BLOCK_ROWS: tuning.blockRows },
        uniforms: {
          rows: count,
          d,
          d_prime: dPrime,
          x_base: xw.base,
          mask_base: mw.base,
          has_mask: maskTensor !== null,
        },
        bindings: { x: xw, mask: mw, acc: accumulator },
        workgroups: [upperTiles],
      });
    }
  });
}

export function finalizeCovariance(runtime: GpuRuntime, acc: Tensor, count: number): GpuTensor {
  const check = new OperandCheck('finalizeCovariance', { acc });
  check.note('count', count);
  const accumulator = check.expect(acc, 'acc', ['d', 'd']);
  if (!(count > 0)) check.fail(`count must be > 0, got ${count} (no unmasked tokens were accumulated?)`);
  const d = check.dim('d');
  const out = runtime.allocate([d, d], 'covariance');
  const side = 16;
  runtime.run(COVARIANCE_FINALIZE, {
    kernel: check.kernel,
    shapes: check.shapes,
    constants: { SIDE: side },
    uniforms: { d, inverse_count: 1 / count },
    bindings: { acc: accumulator, out },
    workgroups: [Math.ceil(d / side), Math.ceil(d / side)],
  });
  return out;
}
