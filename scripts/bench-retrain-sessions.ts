/**
 * bench:retrain-sessions — page-evaluation retrains on onnxruntime's wasm EP in Node, through fresh sessions per
 * retrain (trainCausalLm + responseLogLikelihoods: what causalLmRetrainer did before issue 14's session reuse) and
 * through the retrainer's shared training session, alternately, on the same subsets and seeds. Per model: wall and
 * process CPU seconds per retrain (the first shared retrain opens the session, so it is reported apart), the
 * 1-minute load before and after, and whether every shared retrain's measurements were bit-identical to the fresh
 * one's (the measurement still gets a session per retrain: see src/eval/causal-lm.ts).
 * JSON on stdout. Usage: tsx scripts/bench-retrain-sessions.ts [retrains=6] [steps=30]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { seededDemoModel } from '../src/app/demo-model';
import { evaluationTraining } from '../src/app/evaluation-job';
import { loadUserInputs } from '../src/app/inputs';
import { causalLmRetrainer } from '../src/eval/causal-lm';
import { responseLogLikelihoods } from '../src/train/evaluate';
import { trainCausalLm } from '../src/train/loop';

const RETRAINS = Number(process.argv[2] ?? 6);
const STEPS = Number(process.argv[3] ?? 30);

async function inputs(variant: 'micro' | 'demo') {
  const dir = variant === 'micro' ? 'public/data/micro' : 'public/data';
  const tokenizer = readFileSync(
    variant === 'micro' ? `${dir}/tokenizer.json` : 'public/tokenizer/tokenizer.json',
    'utf8',
  );
  const vocab =
    Math.max(...Object.values((JSON.parse(tokenizer) as { model: { vocab: Record<string, number> } }).model.vocab)) + 1;
  const bytes = variant === 'micro' ? undefined : new Uint8Array(readFileSync('public/models/demo/model.onnx'));
  return loadUserInputs(
    {
      model: bytes
        ? { name: 'demo.onnx', bytes }
        : { name: 'micro.onnx', bytes: new Uint8Array(), parsed: seededDemoModel('micro', vocab, 512).model },
      tokenizer: { name: 'tokenizer.json', text: tokenizer },
      train: { name: 'train.jsonl', text: readFileSync(`${dir}/train.jsonl`, 'utf8') },
      queries: { name: 'queries.jsonl', text: readFileSync(`${dir}/queries.jsonl`, 'utf8') },
    },
    { train: 16, queries: 4 },
  );
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const bits = (v: Float64Array) => Buffer.from(v.buffer).toString('hex');

const report = [];
for (const variant of ['micro', 'demo'] as const) {
  const run = await inputs(variant);
  const train = run.train.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
  const queries = run.queries.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen }));
  const training = evaluationTraining({ steps: STEPS });
  const retrainer = await causalLmRetrainer({ initial: run.model, train, queries, training });
  const loadBefore = loadavg()[0]!;
  const fresh: { wall: number; cpu: number }[] = [];
  const shared: { wall: number; cpu: number }[] = [];
  let identical = true;
  for (let r = 0; r < RETRAINS; r++) {
    // Half the training set, a different half each time (the page's subsets are α = 0.5).
    const members = Int32Array.from({ length: train.length / 2 }, (_, i) => (2 * i + (r % 2)) % train.length);
    const seed = r;
    let wall = performance.now();
    let cpu = cpuSeconds();
    const trained = await trainCausalLm(
      run.model,
      Array.from(members, (n) => train[n]!),
      {
        ...training,
        seed: training.seed + seed,
      },
    );
    const a = await responseLogLikelihoods(trained.model, queries);
    fresh.push({ wall: (performance.now() - wall) / 1000, cpu: cpuSeconds() - cpu });
    wall = performance.now();
    cpu = cpuSeconds();
    const b = await retrainer.measure(members, seed);
    shared.push({ wall: (performance.now() - wall) / 1000, cpu: cpuSeconds() - cpu });
    identical &&= bits(a) === bits(b);
  }
  await retrainer.release!();
  const mean = (xs: { wall: number; cpu: number }[]) => ({
    wall: xs.reduce((s, x) => s + x.wall, 0) / xs.length,
    cpu: xs.reduce((s, x) => s + x.cpu, 0) / xs.length,
  });
  report.push({
    model: variant,
    trainExamples: train.length,
    members: train.length / 2,
    steps: STEPS,
    batchSize: training.batchSize,
    queries: queries.length,
    retrains: RETRAINS,
    freshMeanSeconds: mean(fresh),
    sharedFirstSeconds: shared[0],
    sharedLaterMeanSeconds: mean(shared.slice(1)),
    fresh,
    shared,
    bitIdentical: identical,
    load1: { before: loadBefore, after: loadavg()[0]! },
  });
}
console.log(JSON.stringify({ machine: 'Node ' + process.version + ', onnxruntime-web wasm EP', report }, null, 2));
