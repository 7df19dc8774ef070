/**
 * Benchmark page (scripts/bench-retrain-ep.ts): one retrain of the page evaluation's default kind — the evaluation's
 * causal-LM retrainer (src/eval/causal-lm.ts) from the micro demo's seeded model on half of the preset's training
 * examples, the preset's steps, then the preset's queries measured — on onnxruntime-web's wasm EP or its WebGPU EP,
 * in this one page. Data, model and device are set up once; each call is one retrain. Results via window.retrainEp.
 */
import { seededDemoModel } from '../../../src/app/demo-model';
import { evaluationTraining } from '../../../src/app/evaluation-job';
import { fetchSource, loadDemoDataset } from '../../../src/data/dataset';
import { causalLmRetrainer } from '../../../src/eval/causal-lm';
import { acquireGpu, type AcquiredGpu } from '../../../src/linalg/webgpu/adapter';
import type { Model } from '../../../src/onnx/ir';
import type { TrainingSequence } from '../../../src/train/loop';

export interface RetrainOptions {
  readonly ep: 'wasm' | 'webgpu';
  readonly steps: number;
  readonly train: number;
  readonly queries: number;
}

export interface RetrainRun {
  readonly adapter: string;
  readonly seconds: number;
  readonly measurements: number[];
}

declare global {
  interface Window {
    retrainEp?: { run(options: RetrainOptions): Promise<RetrainRun> };
  }
}

interface Setup {
  readonly gpu: AcquiredGpu;
  readonly train: TrainingSequence[];
  readonly queries: TrainingSequence[];
  readonly model: Model;
}

let setup: Promise<Setup> | null = null;

async function prepare(train: number, queries: number): Promise<Setup> {
  const gpu = await acquireGpu(navigator.gpu);
  const data = await loadDemoDataset(fetchSource(new URL('/', location.href).toString()), 'micro');
  const pick = (e: { inputIds: Int32Array; promptLen: number }) => ({ inputIds: e.inputIds, promptLen: e.promptLen });
  const sequences = data.train.slice(0, train).map(pick);
  const asked = data.queries.slice(0, queries).map(pick);
  const longest = Math.max(...[...sequences, ...asked].map((s) => s.inputIds.length));
  return {
    gpu,
    train: sequences,
    queries: asked,
    model: seededDemoModel('micro', data.tokenizer.vocabSize, longest).model,
  };
}

window.retrainEp = {
  async run({ ep, steps, train, queries }) {
    setup ??= prepare(train, queries);
    const { gpu, model, ...data } = await setup;
    const retrainer = await causalLmRetrainer({
      initial: model,
      ...data,
      training: evaluationTraining({ steps }),
      session: ep === 'webgpu' ? { backend: 'webgpu', device: gpu.device } : {},
    });
    // Every other example: a subset of half the training set, as the evaluation's α = 0.5.
    const members = Int32Array.from({ length: Math.ceil(train / 2) }, (_, i) => 2 * i);
    const start = performance.now();
    const measured = await retrainer.measure(members, 0);
    return {
      adapter: gpu.report.name,
      seconds: (performance.now() - start) / 1000,
      measurements: Array.from(measured),
    };
  },
};
document.getElementById('status')!.textContent = 'ready';
