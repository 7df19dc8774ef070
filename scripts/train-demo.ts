/**
 * Trains the built-in demo model with the workbench's own training loop (gradient graphs on onnxruntime-web's wasm
 * EP) and writes public/models/demo/{model.onnx, training.json, MODEL_CARD.md}.
 *
 *   npm run train:demo [-- --steps N --batch B --seed S --out DIR]
 *   npm run train:demo -- --data after --out public/models/demo-after   (the after-answer variant, same settings)
 *
 * Deterministic for a given seed and configuration on the same machine (seeded init, seeded batches, float64 AdamW).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDemoDataset, type Example } from '../src/data/dataset';
import { nodeSource } from '../src/data/node-source';
import { buildGptForward, initGptWeights, type GptConfig } from '../src/models/gpt';
import { serializeModel } from '../src/onnx/protobuf';
import { heldOutLoss, unigramBaseline, type DomainLoss } from '../src/train/evaluate';
import { trainCausalLm, type TrainingConfig, type TrainingStep } from '../src/train/loop';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '500' },
    batch: { type: 'string', default: '8' },
    seed: { type: 'string', default: '20250525' },
    'eval-queries': { type: 'string', default: '400' },
    out: { type: 'string', default: 'public/models/demo' },
    data: { type: 'string', default: 'demo' },
  },
});

const started = Date.now();
if (values.data !== 'demo' && values.data !== 'after')
  throw new Error(`--data must be demo or after, got ${values.data}`);
const data = await loadDemoDataset(nodeSource(), values.data);
const model: GptConfig = {
  vocabSize: data.tokenizer.vocabSize,
  maxPositions: 384,
  dModel: 128,
  nLayer: 2,
  nHead: 4,
  dMlp: 512,
  layerNormEpsilon: 1e-5,
  gelu: 'tanh',
};
const seed = Number(values.seed);
const training: TrainingConfig = {
  steps: Number(values.steps),
  batchSize: Number(values.batch),
  peakLearningRate: 3e-3,
  warmupSteps: 30,
  minLearningRateRatio: 0.1,
  weightDecay: 0.01,
  clipNorm: 1,
  seed,
};
const sequences = data.train.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
const forward = buildGptForward(model, initGptWeights(model, seed));
const parameterCount = [...forward.graph.initializers.values()].reduce(
  (n, t) => n + (t.dims.length ? t.data.length : 0),
  0,
);
console.log(
  `demo model: ${parameterCount} parameters, ${sequences.length} training sequences, ${training.steps} steps of ${training.batchSize}`,
);

const evalQueries = data.queries.slice(0, Number(values['eval-queries']));
const initialLoss = await heldOutLoss(forward, evalQueries);
const history: TrainingStep[] = [];
const result = await trainCausalLm(forward, sequences, training, {
  onStep: (s) => {
    history.push(s);
    if (s.step % 25 === 0 || s.step === s.steps - 1) {
      console.log(
        `step ${s.step + 1}/${s.steps} loss ${s.loss.toFixed(4)} lr ${s.learningRate.toExponential(2)} |g| ${s.gradientNorm.toFixed(3)} ${(s.elapsedMs / 1000).toFixed(0)} s`,
      );
    }
  },
});
const finalLoss = await heldOutLoss(result.model, evalQueries);
const baseline = unigramBaseline(data.train, evalQueries, data.tokenizer.vocabSize);
const wallSeconds = (Date.now() - started) / 1000;

const outDir = path.resolve(values.out!);
await mkdir(outDir, { recursive: true });
const bytes = serializeModel({
  ...result.model,
  metadata: { ...result.model.metadata, 'iwb.model': 'demo-gpt', 'iwb.seed': String(seed) },
});
await writeFile(path.join(outDir, 'model.onnx'), bytes);
const report = {
  model,
  parameterCount,
  training,
  data: {
    variant: values.data,
    train: sequences.length,
    evalQueries: evalQueries.length,
    trainTokens: countTokens(data.train),
  },
  heldOut: { initial: initialLoss, final: finalLoss, unigram: baseline },
  wallSeconds,
  // CPU time of this process (onnxruntime's wasm runs on this thread): what the training costs on an idle machine.
  cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}, Node ${process.version}`,
  curve: history.map((s) => ({
    step: s.step,
    loss: round(s.loss),
    learningRate: s.learningRate,
    gradientNorm: round(s.gradientNorm),
  })),
};
await writeFile(path.join(outDir, 'training.json'), JSON.stringify(report, null, 1) + '\n');
console.log(JSON.stringify({ heldOut: report.heldOut, wallSeconds }, null, 1));
console.log(
  `wrote ${path.join(outDir, 'model.onnx')} (${bytes.length} bytes) and training.json in ${wallSeconds.toFixed(0)} s`,
);

function countTokens(examples: readonly Example[]): number {
  return examples.reduce((n, e) => n + e.inputIds.length, 0);
}
function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}
export type { DomainLoss };
