/**
 * The live demo's default subsample: the training examples an equal share per domain × difficulty cell (the columns of
 * the cross-domain table), so no column is left with one or two examples whose interval cannot resolve anything.
 */
import { expect, it } from 'vitest';
import { DEMO_DEFAULT_LIMITS, loadDemoInputs } from '../../src/app/inputs';
import { nodeSource } from '../../src/data/node-source';

it('draws the default training examples evenly over domain × difficulty', async () => {
  const inputs = await loadDemoInputs({ data: nodeSource(), trainedModel: null }, 'demo', {
    train: null,
    queries: null,
  });
  expect(inputs.train).toHaveLength(DEMO_DEFAULT_LIMITS.demo.train);
  const cells = new Map<string, number>();
  for (const e of inputs.train)
    cells.set(`${e.domain}/${e.difficulty}`, (cells.get(`${e.domain}/${e.difficulty}`) ?? 0) + 1);
  expect([...cells.keys()].sort()).toEqual(
    ['code', 'math'].flatMap((d) => ['easy', 'hard', 'medium'].map((x) => `${d}/${x}`)),
  );
  const counts = [...cells.values()];
  expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  // Seeded: the same call draws the same examples.
  const again = await loadDemoInputs({ data: nodeSource(), trainedModel: null }, 'demo', {
    train: null,
    queries: null,
  });
  expect(again.train.map((e) => e.id)).toEqual(inputs.train.map((e) => e.id));
}, 120_000);

it('gives a cell that runs out of examples its share to the others: as many examples as asked', async () => {
  const micro = await loadDemoInputs({ data: nodeSource(), trainedModel: null }, 'micro', {
    train: null,
    queries: null,
  });
  const cells = new Map<string, number>();
  for (const e of micro.train)
    cells.set(`${e.domain}/${e.difficulty}`, (cells.get(`${e.domain}/${e.difficulty}`) ?? 0) + 1);
  // Some cell of the micro demo holds fewer examples than an equal share of 6 would ask of it.
  expect(Math.min(...cells.values())).toBeLessThan(Math.ceil(6 / cells.size));
  for (const train of [6, 7, 11]) {
    const inputs = await loadDemoInputs({ data: nodeSource(), trainedModel: null }, 'micro', { train, queries: null });
    expect(inputs.train).toHaveLength(train);
  }
}, 120_000);
