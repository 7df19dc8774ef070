// The flip experiment's arms and paired statistics (src/eval/flip.ts), and batched greedy decoding against
// one-sequence decoding (src/eval/reasoning-accuracy.ts).
import { describe, expect, it } from 'vitest';
import { flipModel, DEFAULT_FLIP } from '../../src/app/flip-job';
import { REASONING_SPECIALS, reasoningExample, reasoningProblems } from '../../src/data/reasoning-task';
import {
  flipArmWeights,
  influenceChoice,
  namedCells,
  pairedComparison,
  type FlipArm,
  type FlipRun,
} from '../../src/eval/flip';
import { greedyTraces, reasoningScores } from '../../src/eval/reasoning-accuracy';
import { effectiveSize } from '../../src/eval/reweight';
import { ModelSession } from '../../src/onnx/runtime';

const pool = ['math', 'code'].flatMap((domain) =>
  ['easy', 'medium', 'hard'].flatMap((difficulty) =>
    Array.from({ length: domain === 'math' ? 4 : 2 }, (_, i) => ({
      id: `${domain}${difficulty}${i}`,
      domain,
      difficulty,
    })),
  ),
);
const mass = (w: Float64Array, domain: string, difficulty?: string) =>
  pool.reduce((s, e, n) => s + (e.domain === domain && (!difficulty || e.difficulty === difficulty) ? w[n]! : 0), 0);

describe('flip arms', () => {
  const none = namedCells(pool, {});

  it("boosts the paper's cells (hard math, easy code) 3× within each domain, keeping each domain's mass", () => {
    const w = flipArmWeights('flip', pool, none, 3, 0);
    expect(mass(w, 'math')).toBeCloseTo(12, 12);
    expect(mass(w, 'code')).toBeCloseTo(6, 12);
    // math: 4 hard examples at 3x, 8 others at x: 20x = 12 → x = 0.6
    expect(mass(w, 'math', 'hard')).toBeCloseTo(4 * 1.8, 12);
    expect(mass(w, 'math', 'easy')).toBeCloseTo(4 * 0.6, 12);
    // code: 2 easy at 3y, 4 others at y: 10y = 6 → y = 0.6
    expect(mass(w, 'code', 'easy')).toBeCloseTo(2 * 1.8, 12);
    expect(flipArmWeights('original', pool, none, 3, 0).every((v) => v === 1)).toBe(true);
  });

  it('gives the random arm the same weights per domain, shuffled per seed: the same effective sample size', () => {
    const flip = flipArmWeights('flip', pool, none, 3, 0);
    const a = flipArmWeights('random', pool, none, 3, 1);
    const b = flipArmWeights('random', pool, none, 3, 2);
    expect(effectiveSize(a)).toBeCloseTo(effectiveSize(flip), 12);
    for (const domain of ['math', 'code']) {
      const sorted = (w: Float64Array) => pool.flatMap((e, n) => (e.domain === domain ? [w[n]!] : [])).sort();
      expect(sorted(a)).toEqual(sorted(flip));
    }
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('boosts the cells influence chose, and none in a domain whose scores are all ≤ 0', () => {
    const cells = namedCells(pool, { math: 'medium' }).map((c) => (c.domain === 'code' ? { ...c, score: -1 } : c));
    expect(influenceChoice(cells)).toEqual({ code: null, math: 'medium' });
    const w = flipArmWeights('influence', pool, cells, 3, 0);
    expect(mass(w, 'math', 'medium')).toBeCloseTo(4 * 1.8, 12);
    expect(pool.flatMap((e, n) => (e.domain === 'code' ? [w[n]] : []))).toEqual([1, 1, 1, 1, 1, 1]);
  });
});

describe('paired comparison over seeds', () => {
  const run = (arm: FlipArm, seed: number, accuracy: number): FlipRun => ({
    arm,
    seed,
    finalLoss: 0,
    scores: { all: { accuracy, logLikelihood: -accuracy, queries: 10 } },
  });

  it('differences arms seed by seed, on the seeds both have, with a t interval and an exact sign-flip p', () => {
    const runs = [
      run('flip', 0, 0.5),
      run('flip', 1, 0.6),
      run('flip', 2, 0.4),
      run('flip', 3, 0.9),
      run('random', 0, 0.3),
      run('random', 1, 0.5),
      run('random', 2, 0.3),
    ];
    const c = pairedComparison(runs, 'flip', 'random', 'all', 'accuracy')!;
    expect(c.seeds).toEqual([0, 1, 2]);
    // d = 0.2, 0.1, 0.1: mean 0.13333, sd 0.057735, t(2) = 4.303 → half-width 0.143433
    expect(c.interval.mean).toBeCloseTo(0.4 / 3, 12);
    expect(c.interval.high - c.interval.mean).toBeCloseTo((4.303 * 0.0577350269) / Math.sqrt(3), 6);
    // all three positive: only the identity and the all-flipped pattern reach |Σd|: 2 of 8
    expect(c.p).toBe(0.25);
    expect(c.exact).toBe(true);
    expect(pairedComparison(runs, 'flip', 'random', 'all', 'logLikelihood')!.interval.mean).toBeCloseTo(-0.4 / 3, 12);
    expect(() => pairedComparison(runs, 'flip', 'random', 'math', 'accuracy')).toThrow(/no score for group "math"/);
  });
});

describe('greedy accuracy on the reasoning task', () => {
  const settings = { ...DEFAULT_FLIP, model: { ...DEFAULT_FLIP.model, dModel: 16, dMlp: 32 } };
  const model = flipModel(settings, 3);
  const problems = reasoningProblems(4, {
    math: { easy: 2, medium: 2, hard: 2 },
    code: { easy: 2, medium: 2, hard: 2 },
  });
  const examples = problems.map((p, i) => reasoningExample(p, `q${i}`));

  it('decodes a padded batch exactly as one sequence at a time', async () => {
    const prompts = examples.map((e) => Array.from(e.inputIds.slice(0, e.promptLen)));
    const batched = await greedyTraces(model, prompts, 6, 7);
    const session = await ModelSession.create(model);
    try {
      for (const [i, prompt] of prompts.entries()) {
        const ids = [...prompt];
        const generated: number[] = [];
        for (let t = 0; t < 6; t++) {
          const feeds = {
            input_ids: { data: BigInt64Array.from(ids, BigInt), dims: [1, ids.length] },
            attention_mask: { data: new BigInt64Array(ids.length).fill(1n), dims: [1, ids.length] },
          };
          const logits = (await session.run(feeds)).logits!;
          const vocab = logits.dims[2]!;
          const last = Array.from((logits.data as Float32Array).slice((ids.length - 1) * vocab, ids.length * vocab));
          const best = last.indexOf(Math.max(...last));
          if (best === REASONING_SPECIALS.eos) break;
          ids.push(best);
          generated.push(best);
        }
        expect(batched[i]).toEqual(generated);
      }
    } finally {
      await session.release();
    }
  });

  it('scores per group and overall, the overall accuracy the mean of equal-sized groups', async () => {
    const queries = examples.map((e) => ({
      inputIds: e.inputIds,
      promptLen: e.promptLen,
      answer: e.extra.answer as number,
      groups: [e.domain!],
    }));
    const scores = await reasoningScores(model, queries, 6);
    expect(Object.keys(scores)).toEqual(['code', 'math', 'all']);
    expect(scores.all!.queries).toBe(12);
    expect(scores.all!.accuracy).toBeCloseTo((scores.math!.accuracy + scores.code!.accuracy) / 2, 12);
    expect(scores.all!.logLikelihood).toBeLessThan(0);
  });
});
