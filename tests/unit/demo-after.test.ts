/**
 * The after-answer demo as a run input: `--demo after` in the CLI, and the app layer's demo loader giving its trained
 * model (public/models/demo-after) and its training rows with after-answer segments.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { expect, test } from 'vitest';
import { DEMO_MODEL_PATHS, loadDemoInputs } from '../../src/app/inputs';
import { CliUsageError, parseCommand } from '../../src/cli/args';
import type { DataSource } from '../../src/data/dataset';
import { nodeSource } from '../../src/data/node-source';
import { heldOutLoss, unigramBaseline } from '../../src/train/evaluate';

const publicFile = (p: string) => new URL(`../../public/${p}`, import.meta.url);

/** The demo files with each JSONL cut to its first 12 rows of each domain, so the test tokenizes little. */
function shortSource(): DataSource {
  const source = nodeSource();
  return {
    readJson: (p) => source.readJson(p),
    open: async (p) => {
      const rows = readFileSync(publicFile(p), 'utf8').split('\n').filter(Boolean);
      const some = ['"math"', '"code"'].flatMap((d) => rows.filter((r) => r.includes(`"domain":${d}`)).slice(0, 12));
      return Readable.from([some.join('\n') + '\n']);
    },
  };
}

test('iwb attribute --demo after selects the after-answer demo; an unknown demo names the choices', () => {
  const command = parseCommand(['attribute', '--demo', 'after']);
  expect(command.name === 'attribute' && command.args.demo).toBe('after');
  expect(() => parseCommand(['attribute', '--demo', 'later'])).toThrow(CliUsageError);
  expect(() => parseCommand(['attribute', '--demo', 'later'])).toThrow('is not one of demo, micro, after');
});

test('the after demo runs its own trained model on training rows that carry after-answer segments', async () => {
  expect(DEMO_MODEL_PATHS.after).toBe('models/demo-after/model.onnx');
  const modelBytes = new Uint8Array(readFileSync(publicFile(DEMO_MODEL_PATHS.after!)));
  const inputs = await loadDemoInputs({ data: shortSource(), trainedModel: modelBytes }, 'after', {
    train: 24,
    queries: 8,
  });
  expect(inputs.modelName).toBe('trained demo model (public/models/demo-after/model.onnx)');
  expect(inputs.modelBytes).toBe(modelBytes);
  const labels = new Set(inputs.train.flatMap((e) => e.segments.map((s) => s.label)));
  expect(labels).toContain('after_answer');
  expect(labels).toContain('after_code');
  for (const e of inputs.train.filter((x) => x.extra.after_answer !== undefined)) {
    expect(e.segments.at(-1)!.label).toBe(e.domain === 'math' ? 'after_answer' : 'after_code');
  }
  // A trained model, not the seeded stand-in: it beats the unigram baseline on held-out math and code by > 1 nat.
  const loss = await heldOutLoss(inputs.model, inputs.queries);
  const unigram = unigramBaseline(inputs.train, inputs.queries, 2048);
  expect(loss.byDomain.math).toBeLessThan(unigram.byDomain.math! - 1);
  expect(loss.byDomain.code).toBeLessThan(unigram.byDomain.code! - 1);
}, 120_000);
