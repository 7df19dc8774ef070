/**
 * Batched tiled GEMM (shaders/gemm.wgsl): C[b] = op(A[b]) op(B[b]) (+ C[b]). Transposes are read in the tile loads;
 * a batch stride of 0 shares an operand (an eigenbasis) across the batch. The batch is split into dispatches whose
 * every operand window fits one storage binding.
 */
import { kernelProgram } from '../program';
import type { GpuRuntime } from '../runtime';
import type { GpuTensor } from '../tensor';
import { unitsPerWindow, type OperandCheck } from './operands';

export interface GemmTuning {
  /** Threads per tile edge; the output tile is (4·side)². */
  readonly side: number;
}

export const DEFAULT_GEMM_TUNING: GemmTuning = { side: 8 };

export interface MatrixOperand {
  readonly tensor: GpuTensor;
  /** Element where batch entry 0 starts. */
  readonly start?: number;
  /** Elements between batch entries; 0 shares one matrix across the batch. */
  readonly batchStride: number;
  /** Row length as stored. */
  readonly ld: number;
  readonly transpose?: boolean;
}

export interface GemmCall {
  /** Logical shapes: op(A) is [m, k], op(B) is [k, n], C is [m, n]. */
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batch: number;
  readonly a: MatrixOperand;
  readonly b: MatrixOperand;
  readonly c: MatrixOperand;
  readonly accumulate?: boolean;
  /** Multiplies A's column k of batch entry b by mask[start + b·batchStride + k]. */
  readonly maskK?: { readonly tensor: GpuTensor; readonly start?: number; readonly batchStride: number };
  /** A's last logical column (k − 1) is ones and is not stored. */
  readonly onesAK?: boolean;
  /** B's last logical column (n − 1) is ones and is not stored. */
  readonly onesBN?: boolean;
}

export const GEMM = kernelProgram({
  shader: 'gemm',
  entryPoint: 'gemm',
  uniforms: [
    { name: 'm', type: 'u32' },
    { name: 'n', type: 'u32' },
    { name: 'k', type: 'u32' },
    { name: 'lda', type: 'u32' },
    { name: 'ldb', type: 'u32' },
    { name: 'ldc', type: 'u32' },
    { name: 'stride_a', type: 'u32' },
    { name: 'stride_b', type: 'u32' },
    { name: 'stride_c', type: 'u32' },
    { name: 'base_a', type: 'u32' },
    { name: 'base_b', type: 'u32' },
    { name: 'base_c', type: 'u32' },
    { name: 'mask_base', type: 'u32' },
    { name: 'mask_stride', type: 'u32' },
    { name: 'flags', type: 'u32' },
  ],
  bindings: [
    { name: 'a', binding: 1, access: 'read' },
    { name: 'b', binding: 2, access: 'read' },
    { name: 'mask', binding: 3, access: 'read' },
    { name: 'c', binding: 4, access: 'read_write' },
  ],
  constants: ['SIDE', 'TRANSPOSE_A', 'TRANSPOSE_B'],
});

const FLAG_ACCUMULATE = 1;
const FLAG_MASK_K = 2;
const FLAG_ONES_A_K = 4;
const FLAG_ONES_B_N = 8;

/** Elements one stored matrix spans: (rows − 1)·ld + cols. */
function footprint(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

export function gemm(
  runtime: GpuRuntime,
  check: OperandCheck,
  call: GemmCall,
  tuning: GemmTuning = DEFAULT_GEMM_TUNING,
): void {
  const { m, n, k, batch, a, b, c } = call;
  const kStored = k - (call.onesAK ? 1 : 0);
  const nStored = n - (call.onesBN ? 1 : 0);
  const aSpan = a.transpose ? footprint(kStored, m, a.ld) : footprint(m, kStored, a.ld);
  const bSpan = b.transpose ? footprint(nStored, k, b.ld) : footprint(k, nStored, b.ld);
  const cSpan = footprint(m, n, c.ld);
  const mask = call.maskK;
  const windows = [
    { op: a, span: aSpan },
    { op: b, span: bSpan },
    { op: c, span: cSpan },
    ...(mask ? [{ op: mask, span: k }] : []),
  ];
  const limit = runtime.maxWindowElements;
  const perWindow = unitsPerWindow(
    check,
    batch,
    limit,
    windows.map(({ op, span }) => ({ fixed: span - op.batchStride, perUnit: op.batchStride })),
  );
  const chunk = Math.min(perWindow, runtime.maxWorkgroupsPerDimension);
  const edge = 4 * tuning.side;
  const flags =
    (call.accumulate ? FLAG_ACCUMULATE : 0) |
    (mask ? FLAG_MASK_K : 0) |
    (call.onesAK ? FLAG_ONES_A_K : 0) |
    (call.onesBN ? FLAG_ONES_B_N : 0);
  for (let b0 = 0; b0 < batch; b0 += chunk) {
    const count = Math.min(chunk, batch - b0);
    const bind = (op: { tensor: GpuTensor; start?: number; batchStride: number }, span: number) =>
      runtime.window(op.tensor, (op.start ?? 0) + b0 * op.batchStride, (count - 1) * op.batchStride + span);
    const aw = bind(a, aSpan);
    const bw = bind(b, bSpan);
    const cw = bind(c, cSpan);
    const mw = mask ? bind(mask, k) : runtime.empty;
    runtime.run(GEMM, {
      kernel: check.kernel,
      shapes: check.shapes,
      constants: { SIDE: tuning.side, TRANSPOSE_A: !!a.transpose, TRANSPOSE_B: !!b.transpose },
      uniforms: {
        m,
        n,
        k,
        lda: a.ld,
        ldb: b.ld,
        ldc: c.ld,
        stride_a: a.batchStride,
        stride_b: b.batchStride,
        stride_c: c.batchStride,
        base_a: aw.base,
        base_b: bw.base,
        base_c: cw.base,
        mask_base: mw.base,
        mask_stride: mask?.batchStride ?? 0,
        flags,
      },
      bindings: { a: aw, b: bw, mask: mw, c: cw },
      workgroups: [Math.ceil(n / edge), Math.ceil(m / edge), count],
    });
  }
}
