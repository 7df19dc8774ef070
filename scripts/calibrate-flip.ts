/**
 * Calibration of the flip experiment's training budget (docs/experiments/reweighting.md): the original mix only, a few
 * seeds that the experiment does not use (50…53, pools 150…153), each candidate (steps, peak learning rate);
 * prints the final training loss and held-out accuracy per run and writes bench/flip-calibration.json.
 *
 *   npx tsx scripts/calibrate-flip.ts 300:0.02 150:0.05          (SEEDS=50,52 for a subset)
 */
import { writeFileSync } from 'node:fs';
import { DEFAULT_FLIP, flipHeldOut, flipModel, flipPool } from '../src/app/flip-job';
import { reasoningScores, type ReasoningQuery } from '../src/eval/reasoning-accuracy';
import { trainCausalLm } from '../src/train/loop';

const candidates = process.argv.slice(2).map((a) => {
  const [steps, lr] = a.split(':').map(Number);
  if (!(Number.isInteger(steps) && lr! > 0)) throw new Error(`candidate ${a}: expected steps:learningRate`);
  return { steps: steps!, peakLearningRate: lr! };
});
const seeds = (process.env.SEEDS ?? '50,51,52,53').split(',').map(Number);
const heldOut: ReasoningQuery[] = flipHeldOut(DEFAULT_FLIP).map((e) => ({
  inputIds: e.inputIds,
  promptLen: e.promptLen,
  answer: e.extra.answer as number,
  groups: [e.domain!],
}));
const results: unknown[] = [];
const started = Date.now();
for (const seed of seeds) {
  const pool = flipPool(DEFAULT_FLIP, DEFAULT_FLIP.poolSeedBase + seed, `c${seed}-`);
  const data = pool.map((e) => ({ inputIds: e.inputIds, promptLen: e.promptLen, weight: 1 }));
  for (const c of candidates) {
    const training = {
      ...DEFAULT_FLIP.training,
      ...c,
      warmupSteps: Math.round(c.steps / 10),
      seed: DEFAULT_FLIP.training.seed + seed,
    };
    const trained = await trainCausalLm(flipModel(DEFAULT_FLIP, seed), data, training);
    const scores = await reasoningScores(trained.model, heldOut, DEFAULT_FLIP.maxNewTokens);
    const r = { ...c, seed, finalLoss: trained.history.at(-1)!.loss, accuracy: scores.all!.accuracy };
    results.push(r);
    console.log(JSON.stringify(r), `${((Date.now() - started) / 1000).toFixed(0)} s wall`);
    writeFileSync(
      `bench/flip-calibration-${seeds.join('-')}.json`,
      JSON.stringify({ cpuSeconds: process.cpuUsage().user / 1e6, results }, null, 1),
    );
  }
}
