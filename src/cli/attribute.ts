/** `iwb attribute`: the Node side of a run (files, Dawn, progress on stderr, outputs on disk). */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultPublicDir, nodeSource } from '../data/node-source';
import { serializeModel } from '../onnx/protobuf';
import { chooseBackend } from '../app/backend-choice';
import { bundleContent, encodeRunBundle } from '../app/bundle-content';
import { DEMO_MODEL_PATH, InputError, loadDemoInputs, loadUserInputs, type RunInputs } from '../app/inputs';
import { gradientGraphFor, runJob, type ProgressEvent } from '../app/job';
import type { AttributeArgs } from './args';
import { factorsForLayers, readFactorsDirectory, writeKronfluenceDirectory } from './kronfluence-dirs';
import { formatReport, runSummary, type RunSummary } from './summary';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress is redrawn in place) or a log (one line per stage). */
  readonly interactive: boolean;
}

export async function attribute(args: AttributeArgs, io: CliIo, signal?: AbortSignal): Promise<RunSummary> {
  const { config } = args;
  const inputs = await loadInputs(args, signal);
  const graph = gradientGraphFor(inputs, config);
  const imported = args.factors === undefined ? undefined : await readFactorsDirectory(args.factors);
  const gpu = config.backend === 'cpu' ? undefined : await nodeGpuOrUndefined(config.backend === 'webgpu');
  const chosen = await chooseBackend(config.backend, gpu);
  const progress = progressPrinter(io, args.quiet);
  try {
    const outcome = await runJob(inputs, graph, config, chosen, {
      onProgress: progress.update,
      ortOnGpu: false,
      ...(signal ? { signal } : {}),
      ...(imported ? { factors: (layers: readonly string[]) => factorsForLayers(imported, layers, args.factors!) } : {}),
    });
    progress.finish();
    const summary = runSummary(inputs, outcome);
    if (args.json) await writeOutput(args.json, JSON.stringify(summary, null, 2) + '\n');
    if (args.out) {
      const modelBytes = inputs.modelBytes ?? serializeModel(inputs.model);
      const content = await bundleContent(outcome, {
        model: { name: inputs.modelName, bytes: modelBytes },
        train: args.train ? { name: path.basename(args.train), bytes: await readFile(args.train) } : null,
        queries: args.queries ? { name: path.basename(args.queries), bytes: await readFile(args.queries) } : null,
      });
      await writeOutput(args.out, await encodeRunBundle(content, 'iwb attribute'));
    }
    if (args.kronfluenceOut) await writeKronfluenceDirectory(outcome.result, args.kronfluenceOut);
    if (!args.quiet) io.stdout(formatReport(summary) + '\n');
    return summary;
  } finally {
    chosen.dispose();
  }
}

async function loadInputs(args: AttributeArgs, signal: AbortSignal | undefined): Promise<RunInputs> {
  const limits = args.config.limits;
  if (args.model === undefined) {
    const trained = path.join(defaultPublicDir(), DEMO_MODEL_PATH);
    return loadDemoInputs(
      { data: nodeSource(), trainedModel: args.demo === 'demo' && existsSync(trained) ? await readFile(trained) : null },
      args.demo,
      limits,
      signal,
    );
  }
  const model = await readInput('--model', args.model);
  const tokenizer = args.tokenizer === undefined ? null : { name: args.tokenizer, text: (await readInput('--tokenizer', args.tokenizer)).toString('utf8') };
  const train = { name: args.train!, text: (await readInput('--train', args.train!)).toString('utf8') };
  const queries = { name: args.queries!, text: (await readInput('--queries', args.queries!)).toString('utf8') };
  return loadUserInputs({ model: { name: args.model, bytes: model }, tokenizer, train, queries }, limits, signal);
}

async function readInput(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new InputError(`${flag} ${file}: ${why}`);
  }
}

async function writeOutput(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, data);
}

/** Dawn in Node; without a usable `webgpu` package the run falls back to the CPU (or fails when WebGPU was asked for). */
async function nodeGpuOrUndefined(required: boolean): Promise<GPU | undefined> {
  try {
    const { nodeGpu } = await import('../linalg/webgpu/node-gpu');
    return nodeGpu();
  } catch (error) {
    if (required) throw new Error(`--backend webgpu: the webgpu (Dawn) package could not load: ${(error as Error).message}`, { cause: error });
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
