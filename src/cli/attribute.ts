/** `iwb attribute`: the Node side of a run (files, Dawn, progress on stderr, outputs on disk). */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import path from 'node:path';
import { defaultPublicDir, nodeSource } from '../data/node-source';
import { serializeModel } from '../onnx/protobuf';
import { chooseBackend } from '../app/backend-choice';
import { bundleContent, encodeRunBundle } from '../app/bundle-content';
import { DEMO_MODEL_PATHS, loadDemoInputs, loadUserInputs, type RunInputs } from '../app/inputs';
import { gradientGraphFor, PAIR_TOKENS_TOP_K, runJob, type ProgressEvent } from '../app/job';
import { matchFactorsToLayers } from '../app/imported-factors';
import { formatPlan, planJob } from '../app/run-plan';
import type { CheckpointStore } from '../influence/types';
import type { AttributeArgs } from './args';
import { readInputText, readModelFiles } from './input-files';
import { resolveModelDir } from './model-dir';
import {
  checkSavedFingerprint,
  kronfluenceFiles,
  readFactorsDirectory,
  readSavedFingerprint,
  savedFactorFiles,
} from './kronfluence-dirs';
import { factorFingerprint } from '../app/factor-fingerprint';
import { InputError } from '../app/input-error';
import { formatGeneration, withGeneratedQueries, withGenerationSummary } from './generate';
import { checkOutputPaths, writeOutputsAtomically, writtenLines, type OutputContent, type OutputFs } from './output';
import { formatReport, runSummary, type RunSummary } from './summary';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress is redrawn in place) or a log (one line per stage). */
  readonly interactive: boolean;
  /**
   * Picks the run's backend; `chooseBackend` when absent. A caller that holds a device already (a test running many
   * files on one WebGPU device, whose pipelines then compile once) passes its own, whose dispose() keeps the device.
   */
  readonly chooseBackend?: typeof chooseBackend;
}

export async function attribute(
  given: AttributeArgs,
  io: CliIo,
  signal?: AbortSignal,
  outputFs?: OutputFs,
  /** Where the engine saves its state after every chunk and resumes from (scripts/full-demo-bundle.ts). */
  checkpoint?: CheckpointStore,
): Promise<RunSummary> {
  const args = await resolveModelDir(given, (line) => given.quiet || io.stderr(`${line}\n`));
  const { config } = args;
  // Refused before the run, not after minutes of it: an output that is an input, or two outputs one file.
  await checkOutputPaths(plannedOutputs(args), plannedInputs(args), outputFs);
  const loaded = await loadInputs(args, signal);
  const { bytes } = loaded;
  // --generate: the model's own answer (and a --compare reference) are the queries.
  const generated = args.generate === undefined ? null : await withGeneratedQueries(args, loaded.inputs, io, signal);
  const inputs = generated?.inputs ?? loaded.inputs;
  const graph = await gradientGraphFor(inputs, config);
  const imported = args.factors === undefined ? undefined : await readFactorsDirectory(args.factors);
  // Fit once, ask many times: factors saved with a fingerprint score only the model and training data they were fitted
  // on (checked before any pass; kronfluence's own folders carry none).
  const trackedLayers = graph.layers.map((l) => ({ name: l.nodeName, dIn: l.dIn, dOut: l.dOut }));
  const fingerprintNow =
    args.factors !== undefined || args.saveFactors !== undefined
      ? await factorFingerprint(inputs, config, trackedLayers)
      : null;
  const saved = args.factors === undefined ? null : await readSavedFingerprint(args.factors);
  if (saved) checkSavedFingerprint(args.factors!, saved, fingerprintNow!);
  if (args.factors !== undefined && !saved && args.saveFactors !== undefined) {
    // A fingerprint says what the factors were fitted on; for factors fitted elsewhere nothing here knows that.
    throw new InputError(
      `--save-factors ${args.saveFactors}: the factors come from --factors ${args.factors}, which has no fingerprint ` +
        'to say which model and training data they were fitted on; save factors fitted by this workbench instead',
    );
  }
  const gpu = config.backend === 'cpu' ? undefined : await nodeGpuOrUndefined(config.backend === 'webgpu');
  const chosen = await (io.chooseBackend ?? chooseBackend)(config.backend, gpu);
  const progress = progressPrinter(io, args.quiet);
  try {
    const pairs = args.out !== undefined ? PAIR_TOKENS_TOP_K : 0;
    const planned = planJob(inputs, graph, config, chosen, cpuMemoryBudget(), pairs);
    // Logged once the run computes: a refusal before that (a bad token id) stays one line.
    let planShown = args.quiet;
    const outcome = await runJob(inputs, graph, planned.config, chosen, {
      onProgress: (event) => {
        if (!planShown) io.stderr(formatPlan(planned).join('\n') + '\n');
        planShown = true;
        progress.update(event);
      },
      ortOnGpu: false,
      // A bundle keeps each query's top pairs' token scores: its heatmap for one query opens without the model.
      ...(args.out !== undefined ? { pairTokensTopK: PAIR_TOKENS_TOP_K } : {}),
      ...(signal ? { signal } : {}),
      ...(checkpoint ? { checkpoint } : {}),
      ...(imported
        ? // Matched by module name and checked against the layers' shapes (app/imported-factors.ts), as in the page.
          { factors: () => matchFactorsToLayers(imported, graph.layers, `--factors ${args.factors!}`) }
        : {}),
    });
    progress.finish();
    const summary = withGenerationSummary(runSummary(inputs, outcome), generated, args.generate, outcome.result);
    const outputs: OutputContent[] = [];
    if (args.json !== undefined) {
      outputs.push({ flag: '--json', file: args.json, data: JSON.stringify(summary, null, 2) + '\n' });
    }
    if (args.out !== undefined) {
      const modelBytes = inputs.modelBytes ?? serializeModel(inputs.model);
      // The fingerprints are of the bytes this run read, not of whatever the paths hold now.
      const content = await bundleContent(outcome, {
        model: { name: inputs.modelName, bytes: modelBytes, data: inputs.modelData ?? [] },
        train: args.train && bytes.train ? { name: path.basename(args.train), bytes: bytes.train } : null,
        queries: args.queries && bytes.queries ? { name: path.basename(args.queries), bytes: bytes.queries } : null,
      });
      outputs.push({ flag: '--out', file: args.out, data: await encodeRunBundle(content, 'iwb attribute') });
    }
    if (args.kronfluenceOut !== undefined) {
      // Each file of the folder is one more output of the same all-or-none write; other files there are left alone.
      for (const [name, data] of kronfluenceFiles(outcome.result)) {
        outputs.push({ flag: '--kronfluence-out', file: path.join(args.kronfluenceOut, ...name.split('/')), data });
      }
    }
    if (args.saveFactors !== undefined) {
      const fingerprint = { ...fingerprintNow!, damping: outcome.result.layers.map((l) => l.damping) };
      for (const [name, data] of savedFactorFiles(outcome.result, fingerprint)) {
        outputs.push({ flag: '--save-factors', file: path.join(args.saveFactors, ...name.split('/')), data });
      }
    }
    await writeOutputsAtomically(outputs, outputFs);
    if (generated) io.stdout(formatGeneration(generated.generation, outcome.result) + '\n');
    if (!args.quiet) io.stdout([formatReport(summary), ...writtenLines(outputs)].join('\n') + '\n');
    return summary;
  } finally {
    chosen.dispose();
  }
}

/**
 * `iwb attribute --plan`: the memory plan and time estimate for these inputs on this backend, on stdout, without
 * running (nothing is written).
 */
export async function planAttribute(given: AttributeArgs, io: CliIo, signal?: AbortSignal): Promise<void> {
  const args = await resolveModelDir(given, (line) => io.stdout(`${line}\n`));
  const { inputs } = await loadInputs(args, signal);
  const graph = await gradientGraphFor(inputs, args.config);
  const gpu = args.config.backend === 'cpu' ? undefined : await nodeGpuOrUndefined(args.config.backend === 'webgpu');
  const chosen = await chooseBackend(args.config.backend, gpu);
  try {
    const pairs = args.out !== undefined ? PAIR_TOKENS_TOP_K : 0;
    const planned = planJob(inputs, graph, args.config, chosen, cpuMemoryBudget(), pairs);
    const layers = graph.layers.map((l) => `${l.nodeName} [${l.dIn} → ${l.dOut}${l.hasBias ? ' + bias' : ''}]`);
    io.stdout(
      [
        `model: ${inputs.modelName}; backend: ${chosen.report.description} (${chosen.report.reason})`,
        `${inputs.train.length} training examples x ${inputs.queries.length} queries; ${layers.length} tracked layers:`,
        ...layers.map((l) => `  ${l}`),
        ...(inputs.subsample ? [inputs.subsample] : []),
        ...formatPlan(planned),
      ].join('\n') + '\n',
    );
  } finally {
    chosen.dispose();
  }
}

/** Half the machine's memory for the CPU backend's tensors (the rest: onnxruntime, the model, Node). */
function cpuMemoryBudget(): number {
  return Math.floor(totalmem() / 2);
}

function plannedOutputs(args: AttributeArgs) {
  return [
    ...(args.out !== undefined ? [{ flag: '--out', file: args.out }] : []),
    ...(args.json !== undefined ? [{ flag: '--json', file: args.json }] : []),
    ...(args.kronfluenceOut !== undefined
      ? [{ flag: '--kronfluence-out', file: args.kronfluenceOut, directory: true }]
      : []),
    ...(args.saveFactors !== undefined ? [{ flag: '--save-factors', file: args.saveFactors, directory: true }] : []),
  ];
}

function plannedInputs(args: AttributeArgs) {
  const flags = [
    ['--model', args.model],
    ['--model-data', args.modelData],
    ['--tokenizer', args.tokenizer],
    ['--model-dir', args.tokenizerConfig],
    ['--train', args.train],
    ['--queries', args.queries],
    ['--factors', args.factors],
  ];
  return flags
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([flag, file]) => ({ flag, file }));
}

interface LoadedInputs {
  readonly inputs: RunInputs;
  /** The bytes of the data files as read, for the bundle's fingerprints. */
  readonly bytes: { readonly train?: Uint8Array; readonly queries?: Uint8Array };
}

async function loadInputs(args: AttributeArgs, signal: AbortSignal | undefined): Promise<LoadedInputs> {
  const limits = {
    ...args.config.limits,
    // --generate replaces the queries: read one row only.
    ...(args.generate !== undefined && { queries: 1, sample: false }),
    seed: args.config.seed,
    maxLength: args.maxLength,
    truncate: args.truncate,
  };
  if (args.model === undefined) {
    const modelPath = DEMO_MODEL_PATHS[args.demo];
    const trained = modelPath === null ? null : path.join(defaultPublicDir(), modelPath);
    const inputs = await loadDemoInputs(
      {
        data: nodeSource(),
        trainedModel: trained !== null && existsSync(trained) ? await readFile(trained) : null,
      },
      args.demo,
      limits,
      signal,
    );
    return { inputs, bytes: {} };
  }
  const model = await readModelFiles(args.model, args.modelData);
  const tokenizer =
    args.tokenizer === undefined
      ? null
      : { name: args.tokenizer, text: (await readInputText('--tokenizer', args.tokenizer, 'tokenizer')).text };
  const train = { name: args.train!, ...(await readInputText('--train', args.train!, 'jsonl')) };
  // --generate replaces the queries: without --queries, the first training row stands in until it does.
  const queriesPath = args.queries ?? args.train!;
  const queries = { name: queriesPath, ...(await readInputText('--queries', queriesPath, 'jsonl')) };
  const tokenizerConfig =
    args.tokenizerConfig === undefined
      ? null
      : {
          name: args.tokenizerConfig,
          text: (await readInputText('--model-dir', args.tokenizerConfig, 'tokenizer')).text,
        };
  const files = { model: { name: args.model, ...model }, tokenizer, tokenizerConfig, train, queries };
  const inputs = await loadUserInputs(files, limits, signal);
  return { inputs, bytes: { train: train.bytes, queries: queries.bytes } };
}

/**
 * Dawn in Node; without a usable `webgpu` package the run falls back to the CPU (or fails when WebGPU was asked for).
 */
async function nodeGpuOrUndefined(required: boolean): Promise<GPU | undefined> {
  try {
    const { nodeGpu } = await import('../linalg/webgpu/node-gpu');
    return nodeGpu();
  } catch (error) {
    if (required)
      throw new Error(`--backend webgpu: the webgpu (Dawn) package could not load: ${(error as Error).message}`, {
        cause: error,
      });
    return undefined;
  }
}

function progressPrinter(io: CliIo, quiet: boolean): { update: (event: ProgressEvent) => void; finish: () => void } {
  let stage = '';
  let last: ProgressEvent | undefined;
  let lastDraw = 0;
  const line = (e: ProgressEvent): string => {
    const eta = e.etaSeconds === null ? '' : `, ${Math.ceil(e.etaSeconds)} s left`;
    return `${e.stage}: ${e.done}/${e.total} ${e.unit} (${e.itemsPerSecond.toPrecision(3)} ${e.unit}/s${eta})`;
  };
  const endStage = (): void => {
    if (!last) return;
    io.stderr(io.interactive ? `\r${line(last)}\x1b[K\n` : `${line(last)}\n`);
  };
  return {
    update(event) {
      if (quiet) return;
      if (event.stage !== stage) {
        endStage();
        stage = event.stage;
      }
      last = event;
      const now = Date.now();
      if (io.interactive && now - lastDraw > 100) {
        io.stderr(`\r${line(event)}\x1b[K`);
        lastDraw = now;
      }
    },
    finish() {
      if (!quiet) endStage();
    },
  };
}
