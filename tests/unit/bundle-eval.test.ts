/**
 * The evaluation in the .iwb codec (src/store/bundle-eval.ts): the eval.* tensors and the manifest's evaluation
 * section round-trip exactly; hostile, mismatched or truncated evaluation fields are refused with one BundleError that
 * names the field.
 */
import { describe, expect, it } from 'vitest';
import { BundleError, decodeBundle, encodeBundle, type BundleContent } from '../../src/store/bundle';
import type { SafetensorsTensor } from '../../src/store/safetensors';
import { sampleContent, sampleEvaluation } from '../fixtures/store/sample-bundle';
import { resign, values, type Json } from '../helpers/bundle-edit';

const content = sampleContent({ queries: 3, train: 6 });
const evaluated: BundleContent = { ...content, evaluation: sampleEvaluation(content) };

async function refused(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const error = await decodeBundle(bytes).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BundleError);
  expect((error as BundleError).cause).toBeUndefined();
  expect((error as Error).message).toMatch(pattern);
}

function u8(tensor: SafetensorsTensor): Uint8Array {
  return tensor.data;
}

function i32(tensor: SafetensorsTensor): Int32Array {
  const { buffer, byteOffset, byteLength } = tensor.data;
  return new Int32Array(buffer, byteOffset, byteLength / 4);
}

describe('evaluation in a bundle', () => {
  it('round-trips every tensor and the manifest section exactly, with and without leave-one-out', async () => {
    for (const loo of [1, 0]) {
      const evaluation = sampleEvaluation(content, { loo });
      const bundle = await decodeBundle(await encodeBundle({ ...content, evaluation }, { scoreDtype: 'F64' }));
      expect(bundle.manifest.evaluation).toEqual(evaluation.info);
      expect(bundle.evaluation).toEqual(evaluation);
      // Query 0's measurement never varies: its LDS is undefined, stored as 0 and marked unranked.
      expect(bundle.evaluation!.strategies[0]!.ranked[0]).toBe(0);
      expect(bundle.evaluation!.info.strategies[0]!.queries).toBe(2);
    }
    expect((await decodeBundle(await encodeBundle(content))).evaluation).toBeNull();
  });

  it('checks the bundle strategy predictions against F32-stored scores within their precision', async () => {
    const bundle = await decodeBundle(await encodeBundle(evaluated, { scoreDtype: 'F32' }));
    expect(bundle.evaluation!.strategies[1]!.predictions).toEqual(evaluated.evaluation!.strategies[1]!.predictions);
  });

  it('refuses an evaluation without the scores it evaluates, when writing', async () => {
    const { scores: _, ...unscored } = evaluated;
    await expect(encodeBundle(unscored)).rejects.toThrow(/evaluation can only be bundled with the scores/);
  });

  const cases: [string, (manifest: Json, tensors: Map<string, SafetensorsTensor>) => void, RegExp][] = [
    [
      'NaN in a measurement',
      (_, t) => (values(t.get('eval.subset_measurements')!)[3] = NaN),
      /subset_measurements' element 3 is NaN/,
    ],
    [
      'a mask entry 2',
      (_, t) => (u8(t.get('eval.subset_mask')!)[0] = 2),
      /eval\.subset_mask' element 0 is 2, expected 0 or 1/,
    ],
    [
      'subsets of different sizes',
      (_, t) => {
        const mask = u8(t.get('eval.subset_mask')!);
        const i = mask.subarray(6).indexOf(0) + 6;
        mask[i] = 1;
      },
      /eval\.subset_mask' row 1 holds 4 examples, row 0 3/,
    ],
    [
      'a mask of the wrong shape',
      (_, t) => {
        const mask = t.get('eval.subset_mask')!;
        t.set('eval.subset_mask', { ...mask, shape: [3, 12] });
      },
      /eval\.subset_mask' has shape \[3, 12\], expected \[6, 6\]/,
    ],
    [
      'measurements stored as F32',
      (_, t) => t.set('eval.subset_measurements', { dtype: 'F32', shape: [6, 2, 3], data: new Uint8Array(144) }),
      /eval\.subset_measurements' has dtype F32, expected F64/,
    ],
    [
      'a missing tensor',
      (_, t) => t.delete('eval.loo.actual'),
      /eval\.loo\.actual' is missing though the manifest's evaluation/,
    ],
    [
      'a tensor of a strategy not evaluated',
      (_, t) => t.set('eval.lds.kfac.per_query', { dtype: 'F64', shape: [3], data: new Uint8Array(24) }),
      /eval\.lds\.kfac\.per_query' is not part of bundle version 1/,
    ],
    [
      'an LDS outside [−1, 1]',
      (_, t) => (values(t.get('eval.lds.ekfac.per_query')!)[1] = 1.5),
      /per_query' element 1 is 1\.5, outside/,
    ],
    [
      'a value on an unranked query',
      (_, t) => (values(t.get('eval.lds.identity.per_query')!)[0] = 0.3),
      /element 0 is 0\.3 on an unranked query/,
    ],
    [
      'a mean that is not the average',
      (m) => (m.evaluation.strategies[1].mean += 0.1),
      /evaluation\.strategies\[1\]\.mean is .* but the ranked per-query LDS average/,
    ],
    [
      'a ranked count that disagrees',
      (m) => (m.evaluation.strategies[0].queries = 3),
      /strategies\[0\]\.queries is 3 but 'eval\.lds\.identity\.ranked' marks 2/,
    ],
    [
      'an interval upside down',
      (m) => ([m.evaluation.strategies[0].low, m.evaluation.strategies[0].high] = [0.9, -0.9]),
      /strategies\[0\]: the interval \[0\.9, -0\.9\]/,
    ],
    [
      'predictions that are not the subset sums of the scores',
      (_, t) => (values(t.get('eval.lds.ekfac.predictions')!)[4] += 1),
      /predictions' \[1, 1\] is .* but the subset's 'scores\.influence' sum to/,
    ],
    [
      'a LOO index out of range',
      (_, t) => (i32(t.get('eval.loo.chosen')!)[2] = 9),
      /eval\.loo\.chosen' element 2 is 9, not an index below 2/,
    ],
    [
      'LOO examples not ascending',
      (_, t) => i32(t.get('eval.loo.examples')!).reverse(),
      /eval\.loo\.examples' is not strictly ascending at 1/,
    ],
    [
      'a LOO count that disagrees',
      (m) => (m.evaluation.looExamples = 5),
      /holds 2 examples, manifest evaluation\.looExamples 5/,
    ],
    [
      'α outside (0, 1)',
      (m) => (m.evaluation.config.fraction = 1.5),
      /manifest evaluation\.config\.fraction: expected 0 < α < 1/,
    ],
    [
      'an unknown strategy',
      (m) => (m.evaluation.strategies[0].strategy = '<b>x</b>'),
      /manifest evaluation\.strategies\[0\]\.strategy: expected identity/,
    ],
    [
      'a strategy listed twice',
      (m) => (m.evaluation.strategies[1].strategy = 'identity'),
      /evaluation\.strategies lists identity twice/,
    ],
    [
      'a missing correlation field',
      (m) => delete m.evaluation.strategies[0].looPearson,
      /evaluation\.strategies\[0\]\.looPearson: expected a number in \[−1, 1\] or null/,
    ],
    [
      'an evaluation that is not an object',
      (m) => (m.evaluation = 'yes'),
      /manifest evaluation: expected an object or null/,
    ],
    [
      'LOO k larger than the data allows',
      (m) => (m.evaluation.config.looPerQuery = 4),
      /looPerQuery 4 asks for more than the 6 training examples/,
    ],
    [
      'one subset',
      (m) => (m.evaluation.config.subsets = 1),
      /evaluation\.config\.subsets: expected at least 2 subsets/,
    ],
  ];

  it.each(cases)('refuses %s, naming the field', async (_, edit, pattern) => {
    const bytes = await encodeBundle(evaluated, { scoreDtype: 'F64' });
    await refused(await resign(bytes, edit), pattern);
  });

  it('refuses eval tensors when the manifest has no evaluation', async () => {
    const bytes = await encodeBundle(evaluated, { scoreDtype: 'F64' });
    await refused(
      await resign(bytes, (m) => (m.evaluation = null)),
      /tensor 'eval\.[a-z_.]+' is not part of bundle version 1/,
    );
  });

  it('refuses the evaluation bundle truncated anywhere, with a BundleError', async () => {
    const bytes = await encodeBundle(evaluated, { scoreDtype: 'F64' });
    for (let end = 0; end < bytes.length; end += 97) {
      await expect(decodeBundle(bytes.subarray(0, end))).rejects.toBeInstanceOf(BundleError);
    }
  });
});
