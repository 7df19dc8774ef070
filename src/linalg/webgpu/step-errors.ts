/**
 * Error scopes per step rather than per dispatch. A step's validation and out-of-memory scopes catch whatever its
 * dispatches did wrong; every bind group carries a unique label ("kernel#serial") and every pipeline its cache key,
 * and the GPU's message quotes the object at fault, so the error is pinned to that dispatch's kernel and shapes.
 * A failed pipeline also gets its shader's compiler messages (file:line:column).
 */
import { KernelError, type ShapeReport } from './errors';

interface DispatchRecord {
  readonly label: string;
  readonly kernel: string;
  readonly shapes: ShapeReport;
  readonly pipeline: string;
}

interface OpenStep {
  readonly kernel: string;
  readonly shapes: ShapeReport;
  readonly dispatches: DispatchRecord[];
  readonly modules: { readonly pipeline: string; readonly module: GPUShaderModule }[];
}

export class StepErrors {
  private current: OpenStep | undefined;
  private readonly pending = new Set<Promise<void>>();
  private failure: KernelError | undefined;

  constructor(private readonly device: GPUDevice) {}

  get open(): boolean {
    return this.current !== undefined;
  }

  begin(kernel: string, shapes: ShapeReport): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.current = { kernel, shapes, dispatches: [], modules: [] };
  }

  dispatched(record: DispatchRecord): void {
    this.current?.dispatches.push(record);
  }

  compiled(pipeline: string, module: GPUShaderModule): void {
    this.current?.modules.push({ pipeline, module });
  }

  /** Pops the step's scopes (after its submit, so submit-time validation is caught too). */
  end(): void {
    const step = this.current!;
    this.current = undefined;
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    const done = Promise.all([validation, memory]).then(
      async (errors) => {
        const error = errors.find((e) => e !== null);
        if (error && !this.failure) this.failure = await describe(step, error);
      },
      () => undefined, // a popErrorScope on a lost device rejects; the runtime reports the loss itself.
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /** Resolves when the outcome of every ended step is known. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** The first error since the last call, once. */
  takeFailure(): KernelError | undefined {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }
}

async function describe(step: OpenStep, error: GPUError): Promise<KernelError> {
  const message = error.message;
  const culprit =
    step.dispatches.find((d) => message.includes(`"${d.label}"`)) ??
    step.dispatches.find((d) => message.includes(`"${d.pipeline}"`));
  let problem = `${error.constructor.name}: ${message}`;
  if (!culprit && step.dispatches.length > 1) {
    const kernels = [...new Set(step.dispatches.map((d) => d.kernel))].join(', ');
    problem += ` (in a step of ${step.dispatches.length} dispatches: ${kernels})`;
  }
  for (const { pipeline, module } of step.modules) {
    if (culprit && culprit.pipeline !== pipeline) continue;
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length)
      problem += `\n${errors.map((m) => `${module.label}:${m.lineNum}:${m.linePos} error: ${m.message}`).join('\n')}`;
  }
  return new KernelError(culprit?.kernel ?? step.kernel, culprit?.shapes ?? step.shapes, problem);
}
