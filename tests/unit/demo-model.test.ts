import { readFileSync } from 'node:fs';
import { beforeAll, expect, test } from 'vitest';
import { loadDemoDataset, type DemoDataset } from '../../src/data/dataset';
import { nodeSource } from '../../src/data/node-source';
import { parseModel } from '../../src/onnx/protobuf';
import { heldOutLoss, unigramBaseline } from '../../src/train/evaluate';

let data: DemoDataset;
beforeAll(async () => {
  data = await loadDemoDataset(nodeSource(), 'demo');
}, 120_000);

test('the committed demo model fits its tokenizer and beats the unigram baseline on held-out math and code', async () => {
  const model = parseModel(
    new Uint8Array(readFileSync(new URL('../../public/models/demo/model.onnx', import.meta.url))),
  );
  const card = JSON.parse(readFileSync(new URL('../../public/models/demo/training.json', import.meta.url), 'utf8'));
  expect(model.graph.initializers.get('wte.weight')!.dims).toEqual([data.tokenizer.vocabSize, card.model.dModel]);
  const sample = [
    ...data.queries.filter((q) => q.domain === 'math').slice(0, 12),
    ...data.queries.filter((q) => q.domain === 'code').slice(0, 12),
  ];
  const loss = await heldOutLoss(model, sample);
  const unigram = unigramBaseline(data.train, sample, data.tokenizer.vocabSize);
  expect(loss.byDomain.math).toBeLessThan(unigram.byDomain.math! - 1);
  expect(loss.byDomain.code).toBeLessThan(unigram.byDomain.code! - 1);
}, 120_000);
