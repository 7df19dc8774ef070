/**
 * Elementwise EK-FAC steps on stacks of rotated matrices (shaders/ekfac.wgsl) and the damping value computed on the
 * GPU (shaders/reduce.wgsl), so preconditioning never waits for a readback.
 */
import type { Damping } from '../../backend';
import { kernelProgram } from '../program';
import type { GpuRuntime } from '../runtime';
import type { GpuTensor } from '../tensor';
import { unitsPerWindow, type OperandCheck } from './operands';

const WORKGROUP = 256;
const MAX_PARTIALS = 256;

const ELEMENTWISE_UNIFORMS = [
  { name: 'size', type: 'u32' },
  { name: 'count', type: 'u32' },
  { name: 'r_base', type: 'u32' },
  { name: 'columns', type: 'u32' },
] as const;

export const SQUARE_ACCUMULATE = kernelProgram({
  shader: 'ekfac',
  entryPoint: 'square_accumulate',
  uniforms: ELEMENTWISE_UNIFORMS,
  bindings: [
    { name: 'rotated', binding: 1, access: 'read_write' },
    { name: 'lambda', binding: 2, access: 'read_write' },
  ],
  constants: ['WORKGROUP'],
});

export const DIVIDE_DAMPED = kernelProgram({
  shader: 'ekfac',
  entryPoint: 'divide_damped',
  uniforms: ELEMENTWISE_UNIFORMS,
  bindings: [
    { name: 'rotated', binding: 1, access: 'read_write' },
    { name: 'lambda', binding: 2, access: 'read_write' },
    { name: 'damping', binding: 3, access: 'read' },
  ],
  constants: ['WORKGROUP'],
});

const REDUCE_UNIFORMS = [
  { name: 'size', type: 'u32' },
  { name: 'base', type: 'u32' },
  { name: 'groups', type: 'u32' },
  { name: 'factor', type: 'f32' },
  { name: 'absolute', type: 'f32' },
] as const;

export const REDUCE_PARTIAL_SUMS = kernelProgram({
  shader: 'reduce',
  entryPoint: 'partial_sums',
  uniforms: REDUCE_UNIFORMS,
  bindings: [
    { name: 'values', binding: 1, access: 'read' },
    { name: 'partials', binding: 2, access: 'read_write' },
  ],
  constants: ['WORKGROUP'],
});

export const REDUCE_FINISH = kernelProgram({
  shader: 'reduce',
  entryPoint: 'finish',
  uniforms: REDUCE_UNIFORMS,
  bindings: [
    { name: 'partials', binding: 2, access: 'read_write' },
    { name: 'out', binding: 3, access: 'read_write' },
  ],
  constants: ['WORKGROUP'],
});

/** Workgroup grid covering `size` elements, folded into 2-D when one dimension would exceed the device limit. */
function elementGrid(runtime: GpuRuntime, size: number): { columns: number; workgroups: [number, number] } {
  const groups = Math.ceil(size / WORKGROUP);
  const columns = Math.min(groups, runtime.maxWorkgroupsPerDimension);
  return { columns, workgroups: [columns, Math.ceil(groups / columns)] };
}

/** Runs an ekfac.wgsl entry over rotated [count, size] in binding-sized windows of whole matrices. */
function overStack(
  runtime: GpuRuntime,
  check: OperandCheck,
  rotated: GpuTensor,
  count: number,
  lambda: GpuTensor,
  damping: GpuTensor | null,
): void {
  const size = lambda.size;
  const chunk = unitsPerWindow(check, count, runtime.maxWindowElements, [{ fixed: 0, perUnit: size }]);
  const grid = elementGrid(runtime, size);
  for (let n0 = 0; n0 < count; n0 += chunk) {
    const matrices = Math.min(chunk, count - n0);
    const window = runtime.window(rotated, n0 * size, matrices * size);
    const call = {
      kernel: check.kernel,
      shapes: check.shapes,
      constants: { WORKGROUP },
      uniforms: { size, count: matrices, r_base: window.base, columns: grid.columns },
      workgroups: grid.workgroups,
    };
    if (damping) runtime.run(DIVIDE_DAMPED, { ...call, bindings: { rotated: window, lambda, damping } });
    else runtime.run(SQUARE_ACCUMULATE, { ...call, bindings: { rotated: window, lambda } });
  }
}

/** Λ += Σ_n R[n]∘² for rotated [count, …Λ.shape]. */
export function squareAccumulate(
  runtime: GpuRuntime,
  check: OperandCheck,
  rotated: GpuTensor,
  count: number,
  lambda: GpuTensor,
): void {
  overStack(runtime, check, rotated, count, lambda, null);
}

/** R[n] ⊘= (Λ + δ) in place, δ = damping[0]. */
export function divideDamped(
  runtime: GpuRuntime,
  check: OperandCheck,
  rotated: GpuTensor,
  count: number,
  lambda: GpuTensor,
  damping: GpuTensor,
): void {
  overStack(runtime, check, rotated, count, lambda, damping);
}

/** A 1-element tensor holding δ: the absolute value, or factor · mean(Λ) reduced on the GPU. */
export function dampingTensor(
  runtime: GpuRuntime,
  check: OperandCheck,
  lambda: GpuTensor,
  damping: Damping,
): GpuTensor {
  if (damping.kind === 'absolute') {
    if (!(damping.value >= 0) || !Number.isFinite(damping.value))
      check.fail(`absolute damping must be finite and ≥ 0, got ${damping.value}`);
    return runtime.upload([damping.value], [1], 'damping');
  }
  if (damping.kind !== 'heuristic') return check.fail(`unknown damping kind ${(damping as { kind: unknown }).kind}`);
  if (!(damping.factor >= 0) || !Number.isFinite(damping.factor))
    check.fail(`heuristic damping factor must be finite and ≥ 0, got ${damping.factor}`);
  const size = lambda.size;
  if (size === 0) check.fail('heuristic damping needs a non-empty Λ');
  if (size > runtime.maxWindowElements)
    check.fail(`Λ has ${size} elements, over one binding (${runtime.maxWindowElements})`);
  const groups = Math.min(MAX_PARTIALS, Math.ceil(size / WORKGROUP));
  const partials = runtime.allocate([groups], 'damping partial sums');
  const out = runtime.allocate([1], 'damping');
  const uniforms = { size, base: 0, groups, factor: damping.factor, absolute: 0 };
  const constants = { WORKGROUP };
  runtime.run(REDUCE_PARTIAL_SUMS, {
    kernel: `${check.kernel}.dampingPartialSums`,
    shapes: check.shapes,
    constants,
    uniforms,
    bindings: { values: lambda, partials },
    workgroups: [groups],
  });
  runtime.run(REDUCE_FINISH, {
    kernel: `${check.kernel}.dampingFinish`,
    shapes: check.shapes,
    constants,
    uniforms,
    bindings: { partials, out },
    workgroups: [1],
  });
  runtime.release(partials);
  return out;
}
