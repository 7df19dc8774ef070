import { expect, test } from 'vitest';
import type { Example } from '../../src/data/dataset';
import { buildGptForward, initGptWeights } from '../../src/models/gpt';
import { gptReference } from '../../src/models/reference';
import { heldOutLoss, responseScores, unigramBaseline } from '../../src/train/evaluate';
import { tinyGpt } from '../helpers/tiny-gpt';

function example(ids: number[], promptLen: number, domain: string): Example {
  return {
    id: ids.join('-'),
    domain,
    inputIds: Int32Array.from(ids),
    promptLen,
    segments: [],
    tokenCategories: new Uint8Array(ids.length),
    extra: {},
  };
}

test('unigram baseline: add-one smoothed response-token frequencies of the training set, per domain', () => {
  const train = [example([1, 2, 3, 3], 2, 'math')]; // response tokens 3, 3
  const held = [example([1, 2, 3, 0], 2, 'math'), example([1, 3], 1, 'code')];
  const result = unigramBaseline(train, held, 4); // counts 1,1,1,3 over total 6
  expect(result.byDomain.math).toBeCloseTo(-(Math.log(3 / 6) + Math.log(1 / 6)) / 2, 12);
  expect(result.byDomain.code).toBeCloseTo(-Math.log(3 / 6), 12);
  expect(result.tokens).toBe(3);
});

test('held-out loss equals the float64 reference forward on response targets', async () => {
  const config = tinyGpt({ vocabSize: 7, maxPositions: 8 });
  const weights = initGptWeights(config, 5, 'float32');
  const examples = [example([1, 4, 5, 6], 2, 'math'), example([1, 2, 3], 1, 'code')];
  const loss = await heldOutLoss(buildGptForward(config, weights), examples);
  const expected: Record<string, number> = {};
  for (const e of examples) {
    const ids = Array.from(e.inputIds);
    const logits = gptReference(config, weights, [ids], [ids.map(() => 1)]);
    let sum = 0;
    let n = 0;
    for (let t = e.promptLen - 1; t < ids.length - 1; t++) {
      const row = logits.subarray(t * 7, t * 7 + 7);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      sum += lse - row[ids[t + 1]!]!;
      n++;
    }
    expected[e.domain!] = sum / n;
  }
  expect(loss.byDomain.math).toBeCloseTo(expected.math!, 4);
  expect(loss.byDomain.code).toBeCloseTo(expected.code!, 4);
});

test('greedy exact match: 1 exactly when greedy decoding (float64 reference) reproduces the response', async () => {
  const config = tinyGpt({ vocabSize: 7, maxPositions: 8 });
  const weights = initGptWeights(config, 11, 'float32');
  const ids = [1, 4];
  for (let k = 0; k < 4; k++) {
    const logits = gptReference(config, weights, [ids], [ids.map(() => 1)]);
    const row = Array.from(logits.subarray((ids.length - 1) * 7, ids.length * 7));
    ids.push(row.indexOf(Math.max(...row)));
  }
  const greedy = example(ids, 2, 'math');
  const changed = example([...ids.slice(0, 5), (ids[5]! + 1) % 7], 2, 'math');
  const scores = await responseScores(buildGptForward(config, weights), [greedy, changed]);
  expect(Array.from(scores.exactMatch)).toEqual([1, 0]);
  expect(scores.logLikelihood[0]).toBeGreaterThan(scores.logLikelihood[1]!);
});
