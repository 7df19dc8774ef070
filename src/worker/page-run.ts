/**
 * One page run kept as a stored run, apart from the comlink worker around it so Node tests run exactly this path:
 * a new run (its storage is checked before anything is computed) or a resumed one; the engine checkpoints into it
 * after every chunk; a cancel or a lost device leaves it paused (resumable), another error failed; a finished run's
 * results are stored with it.
 */
import type { BackendReport, ChosenBackend } from '../app/backend-choice';
import { holdAfterCheckpoint } from '../app/checkpoints';
import { checkRunConfig } from '../app/config-check';
import { loadDemoInputs, loadUserInputs, type DemoFiles, type RunInputs } from '../app/inputs';
import { gradientGraphFor, PAIR_TOKENS_TOP_K, runJob, type JobOutcome } from '../app/job';
import { planJob, runEstimate, type RunEstimate } from '../app/run-plan';
import { measureSpeed } from '../app/speed-probe';
import { toExample, type DemoVariant, type Example } from '../data/dataset';
import { parseJsonl } from '../data/jsonl';
import type { TextTokenizer } from '../data/tokenizer';
import { decodeBundle } from '../store/bundle';
import { InputError } from '../app/input-error';
import type { CheckpointStore } from '../influence/types';
import type { Model } from '../onnx/ir';
import type { AttributionRequest, ProgressEvent } from './protocol';
import type { PageRunStore } from './run-store';
import { readPickedFactors } from './picked-factors';

export interface PageRunEnvironment {
  readonly store: PageRunStore;
  loadInputs(request: AttributionRequest, signal: AbortSignal): Promise<RunInputs>;
  /** The backend for a choice (the worker keeps one device per choice across runs). */
  backendFor(choice: AttributionRequest['config']['backend']): Promise<ChosenBackend>;
}

export interface PageRunHooks {
  readonly signal: AbortSignal;
  readonly onProgress: (event: ProgressEvent) => void;
  /** The stored run's id, once it exists (the worker does not offer it for resume while it runs). */
  readonly onRunId?: (runId: string) => void;
}

export async function computeStoredRun(
  request: AttributionRequest,
  resumeId: string | null,
  environment: PageRunEnvironment,
  hooks: PageRunHooks,
): Promise<{ readonly runId: string; readonly inputs: RunInputs; readonly outcome: JobOutcome }> {
  const { config } = request;
  const { store } = environment;
  const step = (stage: string, backend?: BackendReport) =>
    hooks.onProgress({
      stage,
      done: 0,
      total: 1,
      unit: 'steps',
      itemsPerSecond: 0,
      etaSeconds: null,
      ...(backend ? { backend } : {}),
    });
  let runId: string | null = null;
  try {
    checkRunConfig(config);
    step('loading data');
    const inputs = await environment.loadInputs(request, hooks.signal);
    const chosen = await environment.backendFor(config.backend);
    step('preparing the model', chosen.report);
    const graph = await gradientGraphFor(inputs, config);
    let checkpoint: CheckpointStore;
    if (resumeId !== null) {
      runId = resumeId;
      checkpoint = await store.resume(resumeId);
    } else {
      ({ runId, checkpoint } = await store.begin(request, inputs, graph.layers));
      if (request.holdAfterCheckpoint !== undefined) {
        checkpoint = holdAfterCheckpoint(checkpoint, request.holdAfterCheckpoint, hooks.signal);
      }
    }
    hooks.onRunId?.(runId);
    // "Ask another question": the factors the earlier run fitted, read back from the store (its exported bundle).
    const reused =
      request.factorsFrom === undefined
        ? null
        : (await decodeBundle(await store.exportBundle(request.factorsFrom))).factors;
    // The same memory plan as `iwb attribute`: batch sizes the device holds (app/run-plan.ts).
    const planned = planJob(inputs, graph, config, chosen, undefined, PAIR_TOKENS_TOP_K);
    // Factors fitted elsewhere: a picked kronfluence folder, matched to the tracked layers (app/imported-factors.ts).
    const factors =
      reused ?? (request.factorFiles?.length ? await readPickedFactors(request.factorFiles, graph.layers) : null);
    const outcome = await runJob(inputs, graph, planned.config, chosen, {
      ...(factors ? { factors: () => factors } : {}),
      onProgress: (event) => hooks.onProgress({ ...event, backend: chosen.report }),
      signal: hooks.signal,
      ortOnGpu: true,
      yieldBetweenBatches: true,
      checkpoint,
      // As `iwb attribute --out`: the stored run (and its export) keeps each query's top pairs' token scores.
      pairTokensTopK: PAIR_TOKENS_TOP_K,
    });
    await store.finish(runId, outcome);
    return { runId, inputs, outcome };
  } catch (error) {
    if (runId !== null) {
      // A resume refused for a checkpoint that is not its inputs' leaves the run as it was: still paused, resumable.
      const refused = resumeId !== null && (error as Error).name === 'CheckpointMismatchError';
      const resumable = refused || hooks.signal.aborted || (error as Error).name === 'DeviceLostError';
      await store.stop(
        runId,
        resumable ? 'paused' : 'failed',
        hooks.signal.aborted ? 'cancelled' : (error as Error).message,
      );
    }
    throw error;
  }
}

/**
 * The inputs of a page request: the user's files as sent, or the demo from `demoFiles` (the site's, in the worker);
 * `parsed`: the files' model already parsed (the picked model an estimate reuses).
 */
export async function loadRequestInputs(
  request: AttributionRequest,
  signal: AbortSignal,
  demoFiles: (variant: DemoVariant) => Promise<DemoFiles>,
  parsed: Model | null = null,
): Promise<RunInputs> {
  const { source, config } = request;
  if (source.kind === 'demo') {
    const demo = await loadDemoInputs(
      await demoFiles(source.variant),
      source.variant,
      { ...config.limits, seed: config.seed },
      signal,
    );
    if (source.queries === undefined) return demo;
    return { ...demo, queries: await askedQueries(source.queries, demo.tokenizer!, signal) };
  }
  return loadUserInputs(
    {
      model: {
        name: source.names.model,
        bytes: new Uint8Array(source.model),
        externalData: (source.modelData ?? []).map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) })),
        ...(parsed ? { parsed } : {}),
      },
      tokenizer:
        source.tokenizer === null ? null : { name: source.names.tokenizer ?? 'tokenizer.json', text: source.tokenizer },
      tokenizerConfig:
        source.tokenizerConfig === undefined
          ? null
          : { name: source.names.tokenizerConfig ?? 'tokenizer_config.json', text: source.tokenizerConfig },
      train: { name: source.names.train, text: source.train },
      queries: { name: source.names.queries, text: source.queries },
    },
    { ...config.limits, seed: config.seed },
    signal,
  );
}

/** The memory plan and time estimate of a request, before it runs (the page's run settings show it). */
export async function estimateRequest(
  request: AttributionRequest,
  environment: Omit<PageRunEnvironment, 'store'>,
  signal: AbortSignal,
): Promise<RunEstimate> {
  checkRunConfig(request.config);
  // What the run will do before its first stage, timed here as the estimate does the same: read and tokenize the
  // data, build the gradient graph (a device acquired here is the run's too, so it is not counted).
  let started = performance.now();
  const inputs = await environment.loadInputs(request, signal);
  let measured = performance.now() - started;
  const chosen = await environment.backendFor(request.config.backend);
  started = performance.now();
  const graph = await gradientGraphFor(inputs, request.config);
  measured += performance.now() - started;
  const plan = planJob(inputs, graph, request.config, chosen, undefined, PAIR_TOKENS_TOP_K);
  return runEstimate(plan, graph, inputs, chosen.report.description, measured / 1000, measureSpeed());
}

/** Query rows asked in the page (JSONL text), tokenized with the run's tokenizer; a bad row names its line. */
async function askedQueries(text: string, tokenizer: TextTokenizer, signal: AbortSignal): Promise<Example[]> {
  const examples: Example[] = [];
  async function* chunks(): AsyncGenerator<string> {
    yield text;
  }
  for await (const row of parseJsonl(chunks(), { file: 'asked.jsonl', vocabSize: tokenizer.vocabSize, signal })) {
    try {
      examples.push(toExample(row, tokenizer));
    } catch (error) {
      throw new InputError(`asked.jsonl:${row.line}: ${(error as Error).message}`);
    }
  }
  if (examples.length === 0) throw new InputError('asked.jsonl: has no rows (write one JSON object per line)');
  return examples;
}
