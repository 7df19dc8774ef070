/**
 * Elementwise EK-FAC steps on stacks of rotated matrices (shaders/ekfac.wgsl) and the damping value computed on the
 * GPU (shaders/reduce.wgsl), so preconditioning never waits for a readback.
 */
import type { Damping } from '../../backend';
import { f32Bits, type GpuRuntime } from '../runtime';
import type { GpuTensor } from '../tensor';
import { unitsPerWindow, type OperandCheck } from './operands';

const WORKGROUP = 256;
const MAX_PARTIALS = 256;

/** Workgroup grid covering `size` elements, folded into 2-D when one dimension would exceed the device limit. */
function elementGrid(runtime: GpuRuntime, size: number): { columns: number; workgroups: [number, number] } {
  const groups = Math.ceil(size / WORKGROUP);
  const columns = Math.min(groups, runtime.device.limits.maxComputeWorkgroupsPerDimension);
  return { columns, workgroups: [columns, Math.ceil(groups / columns)] };
}

type ElementwiseEntry = 'square_accumulate' | 'divide_damped';

/** Runs an ekfac.wgsl entry over rotated [count, size] in binding-sized windows of whole matrices. */
function overStack(
  runtime: GpuRuntime,
  check: OperandCheck,
  entryPoint: ElementwiseEntry,
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
    runtime.run({
      kernel: check.kernel,
      spec: { shader: 'ekfac', entryPoint, constants: { WORKGROUP } },
      shapes: check.shapes,
      uniforms: [size, matrices, window.base, grid.columns],
      storage: [window, lambda, damping],
      workgroups: grid.workgroups,
    });
  }
}

/** Λ += Σ_n R[n]∘² for rotated [count, …Λ.shape]. */
export function squareAccumulate(runtime: GpuRuntime, check: OperandCheck, rotated: GpuTensor, count: number, lambda: GpuTensor): void {
  overStack(runtime, check, 'square_accumulate', rotated, count, lambda, null);
}

/** R[n] ⊘= (Λ + δ) in place, δ = damping[0]. */
export function divideDamped(runtime: GpuRuntime, check: OperandCheck, rotated: GpuTensor, count: number, lambda: GpuTensor, damping: GpuTensor): void {
  overStack(runtime, check, 'divide_damped', rotated, count, lambda, damping);
}

/** A 1-element tensor holding δ: the absolute value, or factor · mean(Λ) reduced on the GPU. */
export function dampingTensor(runtime: GpuRuntime, check: OperandCheck, lambda: GpuTensor, damping: Damping): GpuTensor {
  if (damping.kind === 'absolute') {
    if (!(damping.value >= 0) || !Number.isFinite(damping.value)) check.fail(`absolute damping must be finite and ≥ 0, got ${damping.value}`);
    return runtime.upload([damping.value], [1], 'damping');
  }
  if (damping.kind !== 'heuristic') return check.fail(`unknown damping kind ${(damping as { kind: unknown }).kind}`);
  if (!(damping.factor >= 0) || !Number.isFinite(damping.factor)) check.fail(`heuristic damping factor must be finite and ≥ 0, got ${damping.factor}`);
  const size = lambda.size;
  if (size === 0) check.fail('heuristic damping needs a non-empty Λ');
  if (size > runtime.maxWindowElements) check.fail(`Λ has ${size} elements, over one binding (${runtime.maxWindowElements})`);
  const groups = Math.min(MAX_PARTIALS, Math.ceil(size / WORKGROUP));
  const partials = runtime.allocate([groups], 'damping partial sums');
  const out = runtime.allocate([1], 'damping');
  const uniforms = [size, 0, groups, f32Bits(damping.factor), f32Bits(0)];
  const constants = { WORKGROUP };
  runtime.run({
    kernel: `${check.kernel}.dampingPartialSums`,
    spec: { shader: 'reduce', entryPoint: 'partial_sums', constants },
    shapes: check.shapes,
    uniforms,
    storage: [lambda, partials, null],
    workgroups: [groups],
  });
  runtime.run({
    kernel: `${check.kernel}.dampingFinish`,
    spec: { shader: 'reduce', entryPoint: 'finish', constants },
    shapes: check.shapes,
    uniforms,
    storage: [null, partials, out],
    workgroups: [1],
  });
  runtime.release(partials);
  return out;
}
